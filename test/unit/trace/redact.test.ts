/**
 * What the trace hides of SASL: SCRAM's proof and server signature, and the data of any other
 * mechanism. The attribute rules are an allow-list, so the tests also try what a future or
 * hostile message might hold.
 */
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto'
import { describe, expect, test } from 'vitest'
import { isScram, redactClientFinal, redactServerFinal } from '../../../src/protocol/trace/redact.ts'
import { RFC7677 } from '../auth/scram-support.ts'

const text = (data: Uint8Array) => new TextDecoder().decode(data)
const redactClient = (message: string) => text(redactClientFinal(new TextEncoder().encode(message)))
const redactServer = (message: string) => text(redactServerFinal(new TextEncoder().encode(message)))

describe('client-final-message', () => {
  test("RFC 7677's: c= and r= shown, p= redacted", () => {
    expect(redactClient(RFC7677.clientFinal)).toBe('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=[redacted]')
  })

  test('an extension before the proof is redacted too: only c= and r= are known to be public', () => {
    expect(redactClient('c=biws,r=abc,x=unknown,p=proof')).toBe('c=biws,r=abc,x=[redacted],p=[redacted]')
  })

  test('a part that is not an attribute is redacted whole; an empty one stays empty', () => {
    expect(redactClient('c=biws,,proof-without-name,p=')).toBe('c=biws,,[redacted],p=[redacted]')
  })

  test('nothing of the proof survives, in any encoding', () => {
    // RFC 7677's proof for "pencil", and the keys behind it.
    const proof = 'dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ='
    const salted = pbkdf2Sync(RFC7677.password, Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'), 4096, 32, 'sha256')
    const clientKey = createHmac('sha256', salted).update('Client Key').digest()
    const storedKey = createHash('sha256').update(clientKey).digest()
    const shown = redactClient(RFC7677.clientFinal)
    for (const secret of [proof, Buffer.from(proof, 'base64').toString('hex'), ...[salted, clientKey, storedKey].flatMap((k) => [k.toString('hex'), k.toString('base64')])]) {
      expect(shown).not.toContain(secret)
    }
  })
})

describe('server-final-message', () => {
  test("RFC 7677's: v= redacted", () => {
    expect(redactServer(RFC7677.serverFinal)).toBe('v=[redacted]')
  })

  test('e= is shown: it says why the server refused', () => {
    expect(redactServer('e=invalid-proof')).toBe('e=invalid-proof')
  })

  test('anything after the verifier is redacted', () => {
    expect(redactServer('v=sig,ext=1')).toBe('v=[redacted],[redacted]')
  })
})

describe('mechanisms', () => {
  test.each([
    ['SCRAM-SHA-256', true],
    ['SCRAM-SHA-256-PLUS', true],
    ['SCRAM-SHA-1', true],
    ['OAUTHBEARER', false],
    [undefined, false],
  ])('%s speaks SCRAM: %s', (mechanism, scram) => {
    expect(isScram(mechanism)).toBe(scram)
  })
})
