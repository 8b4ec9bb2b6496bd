/**
 * What `pglisten listen` says while it reconnects, from the listener's events: a line per
 * attempt with its number and the wait before it; a failed attempt's error once, and not
 * again while the attempts after it fail the same way; and for a failure that waiting cannot
 * cure (a refused password, a database that is gone), once, why, and what pglisten will do.
 * Pure: imports the protocol's error classes, the listener's event types and the command's
 * error wording.
 *
 *   pglisten: reconnecting: attempt 1 of 5 in 0.19 s
 *   pglisten: reconnect attempt 1 failed: FATAL: password authentication failed for user "app" (SQLSTATE 28P01)
 *   pglisten: the server refused the password: every attempt will fail this way until it changes, ...
 *   pglisten: reconnecting: attempt 2 of 5 in 0.43 s
 *   pglisten: reconnecting: attempt 3 of 5 in 0.78 s (attempt 2 failed the same way)
 *
 * An attempt that connected, but whose connection was lost sooner than the wait before it,
 * counts as failed: the next line after it says so, since the count goes on.
 */
import type { ListenerEvents } from '../listener/listener-types.ts'
import { AuthenticationRefusedError, DatabaseError, PasswordRequiredError } from '../protocol/errors.ts'
import { describeError } from './errors.ts'

type Reconnecting = ListenerEvents['reconnecting']

export class ReconnectReport {
  /** The attempt announced last: the one whose failure comes next. */
  #attempt: Reconnecting | undefined
  /** The last failure printed, as printed: the same text again is not printed. */
  #printed: string | undefined
  /** The last attempt failed as the one printed: the next line says so instead. */
  #again = false

  /** `maxDelay`: the longest wait between attempts, in ms, for "keep trying ... apart". */
  constructor(
    private readonly say: (line: string) => void,
    private readonly maxDelay: number,
  ) {}

  /** The listener's 'reconnecting': the attempt to come, and the wait before it. */
  reconnecting(next: Reconnecting): void {
    const of = Number.isFinite(next.maxAttempts) ? ` of ${next.maxAttempts}` : ''
    // Connected again, yet the count goes on: the attempt before connected, and its connection
    // was lost sooner than the wait before it, which the listener counts as a failure.
    const tooSoon = !this.#attempt && next.attempt > 1 ? ` (attempt ${next.attempt - 1} connected, but was lost too soon to count as a success)` : ''
    this.say(`reconnecting: attempt ${next.attempt}${of} in ${seconds(next.delay)}${this.#sameAgain()}${tooSoon}`)
    this.#attempt = next
  }

  /** An attempt failed (the listener's 'error' while it is reconnecting). */
  failed(error: Error): void {
    const text = describeError(error)
    this.#again = text === this.#printed
    if (this.#again) return
    this.#printed = text
    this.say(`reconnect attempt ${this.#attempt?.attempt ?? '?'} failed: ${text}`)
    const cure = incurable(error)
    if (cure) this.say(`${cure.why}: every attempt will fail this way until ${cure.until}${this.#plan()}`)
  }

  /**
   * The listener gave up: its ListenerError says after how many attempts. Its cause, the last
   * failure, is not appended: failed() has printed it, or it was the same as the one before.
   */
  gaveUp(error: Error): void {
    this.say(`${error.message}${this.#sameAgain()}`)
  }

  /** Listening again: a later loss starts afresh. */
  connected(): void {
    this.#attempt = undefined
    this.#printed = undefined
    this.#again = false
  }

  #sameAgain(): string {
    if (!this.#again || !this.#attempt) return ''
    this.#again = false
    return ` (attempt ${this.#attempt.attempt} failed the same way)`
  }

  #plan(): string {
    const left = this.#attempt ? this.#attempt.maxAttempts - this.#attempt.attempt : Infinity
    if (left === Infinity) return `; pglisten will keep trying, at most ${seconds(this.maxDelay)} apart, and not repeat this error (Ctrl-C stops it)`
    if (left > 0) return `; pglisten will try ${left} more time${left === 1 ? '' : 's'}`
    return ''
  }
}

/**
 * Why a failure will come back at every attempt, and what must change first, if it is of a
 * kind that only a person can cure: the server refused the user, the password or the
 * database, or pglisten refused the server's authentication. Anything else (a server that is
 * down, restarting, or full) may pass by itself, and is only not repeated.
 */
export function incurable(error: Error): { why: string; until: string } | undefined {
  if (error instanceof PasswordRequiredError) {
    return { why: 'the server wants a password and none is given (pglisten cannot ask for one while it reconnects)', until: 'a password file gives one (it is read at each attempt)' }
  }
  if (error instanceof AuthenticationRefusedError) return { why: "pglisten refused the server's authentication", until: 'the server or the connection settings change' }
  if (!(error instanceof DatabaseError)) return undefined
  switch (error.code) {
    case '28P01': // invalid_password
      return { why: 'the server refused the password', until: 'it changes, on the server or in a password file (read again at each attempt)' }
    case '28000': // invalid_authorization_specification: pg_hba.conf, no such role, may not log in
      return { why: 'the server does not let this user in', until: "the server's pg_hba.conf or the role changes" }
    case '3D000': // invalid_catalog_name
      return { why: 'the database does not exist', until: 'it is created again' }
    case '42501': // insufficient_privilege: no CONNECT on the database
      return { why: 'the user may not connect to this database', until: 'it is granted CONNECT' }
    default:
      return undefined
  }
}

/** A wait, to two significant digits under 10 s (0.19 s), in whole seconds above. */
export function seconds(ms: number): string {
  return `${ms < 10_000 ? Number((ms / 1000).toPrecision(2)) : Math.round(ms / 1000)} s`
}
