/**
 * Runs an exchange or a Session against a script of server bytes, with no socket: what the
 * client sends is recorded, what the "server" says is fed in when the client asks.
 */
import { vi } from 'vitest'
import { startup, type StartupOptions } from '../../src/protocol/exchange/startup.ts'
import { Session, type SessionOptions } from '../../src/protocol/session.ts'
import { concat } from './wire.ts'

export interface ScriptedSession {
  session: Session
  /** Every write, in order. */
  sent: Uint8Array[]
  aborted: Error[]
  /** Feeds server bytes in. */
  serve(...messages: Uint8Array[]): void
}

export function scriptedSession(options: SessionOptions = {}): ScriptedSession {
  const sent: Uint8Array[] = []
  const aborted: Error[] = []
  const session = new Session({ write: (bytes) => sent.push(bytes), abort: (error) => aborted.push(error) }, options)
  return { session, sent, aborted, serve: (...messages) => session.receive(concat(...messages)) }
}

/** Lets pending promise callbacks run (exchanges advance in microtasks). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0))
}

/** Starts `options`' startup exchange on a scripted session; returns the pieces and the pending result. */
export async function scriptedStartup(options: StartupOptions) {
  const scripted = scriptedSession()
  const result = scripted.session.run(startup(options))
  result.catch(() => undefined)
  await settle()
  return { ...scripted, result }
}

/** Waits for `check` (a dynamic import, or PBKDF2 in WebCrypto); fails the test if it never holds. */
export async function until(check: () => boolean): Promise<void> {
  await vi.waitFor(() => {
    if (!check()) throw new Error('not yet')
  }, { timeout: 10_000, interval: 2 })
}
