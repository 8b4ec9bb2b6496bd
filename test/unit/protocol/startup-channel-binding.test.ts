/**
 * channel_binding in the startup exchange, against scripted server messages and a SCRAM server
 * written here with node:crypto (RFC 5802 section 3; RFC 5929 section 4.1 for the binding data),
 * so that a bound exchange is checked end to end without a socket: what `require` accepts (only a
 * completed SCRAM-SHA-256-PLUS exchange), what it refuses before any password material is sent,
 * and the gs2 flag `prefer` sends when the server offers no PLUS.
 */
import { createHash, createHmac, pbkdf2Sync, timingSafeEqual } from 'node:crypto'
import { describe, expect, test } from 'vitest'
import { AuthenticationRefusedError } from '../../../src/protocol/errors.ts'
import type { StartupOptions } from '../../../src/protocol/exchange/startup.ts'
import { scriptedStartup, until } from '../../support/scripted.ts'
import { ascii, backend, concat, cstr, int32, message } from '../../support/wire.ts'
import { NULL, algorithmIdentifier, certificate } from '../auth/der-support.ts'

const nonce = 'rOprNGfwEbeRWgbNEkqO'
const serverNonce = `${nonce}%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0`
const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64')
const password = 'pencil'

/** A certificate signed with sha256WithRSAEncryption: its tls-server-end-point data is SHA-256 of its DER. */
const serverCertificate = certificate(algorithmIdentifier('1.2.840.113549.1.1.11', NULL))
const endPoint = createHash('sha256').update(serverCertificate).digest()

const overTls = { user: 'ann', password, scram: { nonce }, transport: { encrypted: true, serverCertificate } } satisfies StartupOptions

const welcome = () => concat(backend.backendKeyData(77, [1, 2, 3, 4]), backend.readyForQuery())

const begin = scriptedStartup

/** The text of a SASLResponse the client sent: its bytes after Byte1('p') and the Int32 length. */
const responseText = (sent: Uint8Array): string => Buffer.from(sent.subarray(5)).toString('latin1')

/**
 * The server's half of SCRAM-SHA-256 (RFC 5802 section 3), as PostgreSQL's auth-scram.c checks
 * it: the client-final-message must carry `c=` (base64 of the gs2 header and the binding data),
 * the combined nonce, and a proof that opens to the stored key. Returns the server-final-message.
 */
function serverFinal(clientFirstBare: string, serverFirst: string, clientFinal: string, expectedBinding: Buffer): string {
  const match = /^c=([^,]*),r=([^,]*),p=(.*)$/.exec(clientFinal)
  expect(match, clientFinal).not.toBeNull()
  const [, binding, combinedNonce, proof] = match!
  expect(Buffer.from(binding!, 'base64')).toEqual(expectedBinding)
  expect(combinedNonce).toBe(serverNonce)
  const salted = pbkdf2Sync(password, salt, 4096, 32, 'sha256')
  const clientKey = createHmac('sha256', salted).update('Client Key').digest()
  const storedKey = createHash('sha256').update(clientKey).digest()
  const authMessage = `${clientFirstBare},${serverFirst},${clientFinal.slice(0, clientFinal.lastIndexOf(',p='))}`
  const clientSignature = createHmac('sha256', storedKey).update(authMessage).digest()
  const recovered = Buffer.from(Buffer.from(proof!, 'base64').map((byte, i) => byte ^ clientSignature[i]!))
  expect(timingSafeEqual(createHash('sha256').update(recovered).digest(), storedKey)).toBe(true)
  const serverKey = createHmac('sha256', salted).update('Server Key').digest()
  return `v=${createHmac('sha256', serverKey).update(authMessage).digest('base64')}`
}

/**
 * What a SASLInitialResponse carries, read as the server reads it: the mechanism, then the
 * client-first-message split into its gs2 header (up to the second ',') and the bare message.
 */
function initialResponse(sent: Uint8Array): { mechanism: string; gs2Header: string; bare: string } {
  const body = Buffer.from(sent.subarray(5)).toString('latin1')
  const mechanism = body.slice(0, body.indexOf('\0'))
  const first = body.slice(mechanism.length + 1 + 4) // after the NUL and the Int32 length
  const headerEnd = first.indexOf(',', first.indexOf(',') + 1) + 1
  return { mechanism, gs2Header: first.slice(0, headerEnd), bare: first.slice(headerEnd) }
}

/**
 * Runs a whole exchange in which the server offers `offered`, and checks the client's binding
 * against what it said in its own first message: `c=` must be that gs2 header and, for 'p',
 * the certificate's hash (auth-scram.c refuses a client whose c= differs from its header).
 */
async function exchange(options: StartupOptions, offered: string[]) {
  const run = await begin(options)
  run.serve(backend.authenticationSASL(...offered))
  await until(() => run.sent.length === 2) // the certificate reader is loaded by dynamic import
  const initial = initialResponse(run.sent[1]!)
  expect(initial.mechanism.endsWith('-PLUS')).toBe(initial.gs2Header.startsWith('p='))
  const serverFirst = `r=${serverNonce},s=${salt.toString('base64')},i=4096`
  run.serve(backend.authenticationSASLContinue(serverFirst))
  await until(() => run.sent.length === 3) // PBKDF2 runs in WebCrypto, off this tick
  const bindingData = initial.gs2Header.startsWith('p=tls-server-end-point,') ? endPoint : Buffer.alloc(0)
  const final = serverFinal(initial.bare, serverFirst, responseText(run.sent[2]!), Buffer.concat([Buffer.from(initial.gs2Header), bindingData]))
  run.serve(backend.authenticationSASLFinal(final), backend.authenticationOk(), welcome())
  return { initial, sent: run.sent[1]!, result: await run.result }
}

describe('channel_binding=require', () => {
  test('accepts a completed SCRAM-SHA-256-PLUS exchange bound to the certificate (tls-server-end-point)', async () => {
    const gs2 = 'p=tls-server-end-point,,'
    const { sent, result } = await exchange({ ...overTls, channelBinding: 'require' }, ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'])
    expect(sent).toEqual(message(
      'p',                                   // SASLInitialResponse
      cstr('SCRAM-SHA-256-PLUS'),            // String  the mechanism
      int32(gs2.length + 5 + nonce.length),  // Int32   length of the client-first-message
      ascii(`${gs2}n=,r=${nonce}`),          // Byte(n) gs2 header 'p', then client-first-message-bare
    ))
    expect(result).toMatchObject({ authentication: 'SCRAM-SHA-256-PLUS' })
  })

  test('refuses an AuthenticationOk with no exchange at all (trust), even over TLS', async () => {
    const run = await begin({ ...overTls, channelBinding: 'require' })
    run.serve(backend.authenticationOk(), welcome())
    await expect(run.result).rejects.toThrow(/channel binding required, but server authenticated client without channel binding/)
    await expect(run.result).rejects.toBeInstanceOf(AuthenticationRefusedError)
  })

  test.each([
    ['cleartext', backend.authenticationCleartextPassword()],
    ['md5', backend.authenticationMD5Password([1, 2, 3, 4])],
  ])('refuses a %s password request before any password is sent', async (_, request) => {
    const run = await begin({ ...overTls, channelBinding: 'require' })
    run.serve(request)
    await expect(run.result).rejects.toThrow(/channel binding required but not supported by server's authentication request/)
    await expect(run.result).rejects.toBeInstanceOf(AuthenticationRefusedError)
    expect(run.sent).toHaveLength(1) // the StartupMessage only
  })

  test('over a connection without TLS, says SSL is not in use, before anything is sent', async () => {
    const run = await begin({ user: 'ann', password, scram: { nonce }, channelBinding: 'require' })
    run.serve(backend.authenticationSASL('SCRAM-SHA-256'))
    await expect(run.result).rejects.toThrow(/channel binding required, but SSL not in use/)
    expect(run.sent).toHaveLength(1)
  })
})

describe('channel_binding=prefer (the default) over TLS', () => {
  test("a server offering no PLUS: SCRAM-SHA-256 with gs2 flag 'y' (the client could bind), which the server checks", async () => {
    const { sent, result } = await exchange(overTls, ['SCRAM-SHA-256'])
    expect(sent).toEqual(message('p', cstr('SCRAM-SHA-256'), int32(3 + 5 + nonce.length), ascii(`y,,n=,r=${nonce}`)))
    expect(result).toMatchObject({ authentication: 'SCRAM-SHA-256' })
  })

  test('a server offering PLUS: bound, as under require', async () => {
    const { initial, result } = await exchange(overTls, ['SCRAM-SHA-256', 'SCRAM-SHA-256-PLUS'])
    expect(initial).toEqual({ mechanism: 'SCRAM-SHA-256-PLUS', gs2Header: 'p=tls-server-end-point,,', bare: `n=,r=${nonce}` })
    expect(result).toMatchObject({ authentication: 'SCRAM-SHA-256-PLUS' })
  })
})
