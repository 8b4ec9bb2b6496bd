/**
 * Shared pieces of the SCRAM tests: the RFC 7677 section 3 exchange written out as literal
 * strings, and small helpers. Shares no code with src beyond the client under test.
 */
import { expect } from 'vitest'
import { AuthenticationRefusedError } from '../../../src/protocol/errors.ts'
import { ScramSha256Client, type ScramOptions } from '../../../src/protocol/auth/scram.ts'

/** RFC 7677 section 3: user "user", password "pencil", the messages exactly as printed there. */
export const RFC7677 = {
  password: 'pencil',
  username: 'user',
  nonce: 'rOprNGfwEbeRWgbNEkqO',
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal:
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
} as const

/** The pieces of the RFC server-first-message, to build broken variants from. */
export const SERVER_NONCE = 'rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0'
export const SALT = 'W22ZaJ0SNY7soEsUEjb6gQ=='

export const ascii = (text: string): Uint8Array => new TextEncoder().encode(text)
export const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)

/** A client for the RFC exchange that has sent its client-first-message. */
export function started(options: Partial<ScramOptions> = {}): ScramSha256Client {
  const client = new ScramSha256Client({
    password: RFC7677.password,
    username: RFC7677.username,
    nonce: RFC7677.nonce,
    ...options,
  })
  client.clientFirstMessage()
  return client
}

/** A client for the RFC exchange that has sent its client-final-message too. */
export async function proved(options: Partial<ScramOptions> = {}): Promise<ScramSha256Client> {
  const client = started(options)
  await client.clientFinalMessage(ascii(RFC7677.serverFirst))
  return client
}

/** Runs `action` and returns what it threw or rejected with; fails the test if it succeeded. */
export async function caught(action: () => unknown): Promise<Error> {
  try {
    await action()
  } catch (error) {
    return error as Error
  }
  throw new Error('expected the call to fail, but it succeeded')
}

/** Expects `action` to be refused with an AuthenticationRefusedError whose message matches. */
export async function expectRefusal(action: () => unknown, message: RegExp): Promise<Error> {
  const error = await caught(action)
  expect(error).toBeInstanceOf(AuthenticationRefusedError)
  expect(error.message).toMatch(message)
  return error
}
