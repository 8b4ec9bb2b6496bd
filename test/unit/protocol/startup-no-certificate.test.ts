/**
 * channel_binding over TLS that shows no server certificate (Cloudflare Workers' sockets):
 * `prefer` goes without binding, with gs2 flag 'n' (a server that offered PLUS accepts 'n', and
 * would read 'y' as a downgrade), and `require` is refused before any password material is sent.
 */
import { describe, expect, test } from 'vitest'
import { AuthenticationRefusedError } from '../../../src/protocol/errors.ts'
import type { StartupOptions } from '../../../src/protocol/exchange/startup.ts'
import { scriptedStartup, settle } from '../../support/scripted.ts'
import { ascii, backend, cstr, int32, message } from '../../support/wire.ts'

const nonce = 'rOprNGfwEbeRWgbNEkqO'

const begin = scriptedStartup

const overTlsWithoutCertificate = { user: 'ann', password: 'foobar', scram: { nonce }, transport: { encrypted: true } } satisfies StartupOptions

describe('TLS without a server certificate', () => {
  test("channel_binding=prefer (the default): SCRAM-SHA-256 with gs2 flag 'n', though the server offers PLUS", async () => {
    const run = await begin(overTlsWithoutCertificate)
    run.serve(backend.authenticationSASL('SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'))
    await settle()
    expect(run.sent[1]).toEqual(message(
      'p',                               // SASLInitialResponse
      cstr('SCRAM-SHA-256'),             // String  the mechanism: not -PLUS
      int32(28),                         // Int32   length of the client-first-message
      ascii(`n,,n=,r=${nonce}`),         // Byte(n) gs2 flag 'n': no binding, and no claim the server lacks it
    ))
  })

  test('channel_binding=require is refused with the reason, before anything is sent', async () => {
    const run = await begin({ ...overTlsWithoutCertificate, channelBinding: 'require' })
    run.serve(backend.authenticationSASL('SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'))
    await expect(run.result).rejects.toBeInstanceOf(AuthenticationRefusedError)
    await expect(run.result).rejects.toThrow(/exposes no server certificate to bind to/)
    expect(run.sent).toHaveLength(1) // the StartupMessage only
  })
})
