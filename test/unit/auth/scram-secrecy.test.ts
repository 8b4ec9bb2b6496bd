/**
 * The password, and every key derived from it, stays out of sight: not in any error the client
 * raises, not in util.inspect, JSON or String() of the client at any stage of the exchange.
 */
import { createHmac, pbkdf2Sync } from 'node:crypto'
import { inspect } from 'node:util'
import { describe, expect, test } from 'vitest'
import { ScramSha256Client } from '../../../src/protocol/auth/scram.ts'
import { RFC7677, SALT, SERVER_NONCE, ascii, caught } from './scram-support.ts'

const PASSWORD = 'correct horse battery st\u00e4ple'

// The derived secrets, computed with Node's crypto, in the encodings an accident would use.
const salted = pbkdf2Sync(PASSWORD, Buffer.from(SALT, 'base64'), 4096, 32, 'sha256')
const clientKey = createHmac('sha256', salted).update('Client Key').digest()
const serverKey = createHmac('sha256', salted).update('Server Key').digest()
const SECRETS = [PASSWORD, 'st\u00e4ple', ...[salted, clientKey, serverKey].flatMap((key) => [key.toString('hex'), key.toString('base64')])]

function expectNoSecret(shown: string): void {
  for (const secret of SECRETS) expect(shown).not.toContain(secret)
}

function newClient(): ScramSha256Client {
  return new ScramSha256Client({ password: PASSWORD, nonce: RFC7677.nonce })
}

/** Every way an object commonly ends up in a log. */
function renderings(value: unknown): string[] {
  return [
    inspect(value, { showHidden: true, depth: Infinity, getters: true }),
    JSON.stringify(value) ?? '',
    String(value),
    Object.keys(value as object).join(','),
  ]
}

describe('errors', () => {
  const failures: [string, (client: ScramSha256Client) => Promise<unknown>][] = [
    ['nonce mismatch', (c) => c.clientFinalMessage(ascii(`r=other,s=${SALT},i=4096`))],
    ['bad salt', (c) => c.clientFinalMessage(ascii(`r=${SERVER_NONCE},s=***,i=4096`))],
    ['iteration count above the cap', (c) => c.clientFinalMessage(ascii(`r=${SERVER_NONCE},s=${SALT},i=9999999`))],
    ['invalid UTF-8', (c) => c.clientFinalMessage(Uint8Array.of(0xff))],
    ['server-final before client-final', async (c) => c.verifyServerFinal(ascii(RFC7677.serverFinal))],
    ['e= from the server', async (c) => {
      await c.clientFinalMessage(ascii(RFC7677.serverFirst))
      c.verifyServerFinal(ascii('e=invalid-proof'))
    }],
    ['wrong server signature', async (c) => {
      await c.clientFinalMessage(ascii(RFC7677.serverFirst))
      c.verifyServerFinal(ascii(RFC7677.serverFinal)) // the signature for "pencil", not for PASSWORD
    }],
  ]

  test.each(failures)('%s: no secret in the message, stack or inspection of the error', async (_, fail) => {
    const client = newClient()
    client.clientFirstMessage()
    const error = await caught(() => fail(client))
    expect(error.name).toBe('AuthenticationRefusedError')
    for (const shown of [error.message, error.stack ?? '', ...renderings(error)]) expectNoSecret(shown)
    for (const shown of renderings(client)) expectNoSecret(shown)
  })
})

describe('the client object', () => {
  test('shows only its mechanism, at every stage of a successful exchange', async () => {
    const client = new ScramSha256Client({ password: RFC7677.password, username: 'user', nonce: RFC7677.nonce })
    const stages = [() => client.clientFirstMessage(), () => client.clientFinalMessage(ascii(RFC7677.serverFirst)),
      () => client.verifyServerFinal(ascii(RFC7677.serverFinal))]
    for (const step of [async () => undefined, ...stages]) {
      await step()
      expect(inspect(client)).toBe("ScramSha256Client { mechanism: 'SCRAM-SHA-256' }")
      expect(JSON.stringify(client)).toBe('{"mechanism":"SCRAM-SHA-256"}')
      for (const shown of renderings(client)) expect(shown).not.toContain(RFC7677.password)
    }
    expect(client.done).toBe(true)
  })
})
