/**
 * Reconnect delays: exponential backoff with jitter, from a minimum to a maximum, reset once a
 * connection has stayed up (lib/pq's Listener does the same doubling), and the abortable sleep
 * between attempts.
 * Pure but for sleep()'s timer; the randomness is injectable.
 */
import { checkTimerDelay } from '../protocol/timer.ts'

export interface BackoffOptions {
  /**
   * The first ceiling, in milliseconds: the first wait is drawn from its upper half (125 to
   * 250 ms by default); each failure doubles it. Default 250.
   */
  minDelay?: number
  /** No ceiling, so no wait, exceeds this, in milliseconds. Default 30,000. */
  maxDelay?: number
  /**
   * Give up after this many failed attempts in a row. A listener's attempt whose connection
   * is lost sooner than the ceiling of the wait before it counts as failed too. Default: never.
   */
  maxAttempts?: number
  /**
   * Abandon one attempt (connect, authenticate, LISTEN on every channel) after this many
   * milliseconds, so a host that accepts and never answers cannot hold the listener forever.
   * Default 10,000, or connect_timeout for every host if that is longer. The first connection
   * is bounded by connect_timeout alone, as libpq's is.
   */
  attemptTimeout?: number
}

export class Backoff {
  readonly minDelay: number
  readonly maxDelay: number
  readonly maxAttempts: number
  #failures = 0

  constructor(options: BackoffOptions = {}, private readonly random: () => number = Math.random) {
    this.minDelay = options.minDelay ?? 250
    this.maxDelay = options.maxDelay ?? 30_000
    this.maxAttempts = options.maxAttempts ?? Infinity
    if (!(this.minDelay >= 0) || !(this.maxDelay >= this.minDelay)) {
      throw new RangeError(`reconnect delays need 0 <= minDelay <= maxDelay, not ${this.minDelay} and ${this.maxDelay}`)
    }
    checkTimerDelay('maxDelay', this.maxDelay) // Infinity too: a doubling past a timer's range would not wait at all
    if (!(this.maxAttempts >= 1)) throw new RangeError(`maxAttempts must be at least 1, not ${this.maxAttempts}`)
    if (options.attemptTimeout !== undefined && !(options.attemptTimeout > 0)) throw new RangeError(`attemptTimeout must be positive, not ${options.attemptTimeout}`)
  }

  /** Failed attempts since the backoff last started over (a connection lost too soon is one). */
  get failures(): number {
    return this.#failures
  }

  /** The failures counted, for a message: "1 attempt", "3 attempts". */
  get failed(): string {
    return this.#failures === 1 ? '1 attempt' : `${this.#failures} attempts`
  }

  get exhausted(): boolean {
    return this.#failures >= this.maxAttempts
  }

  /**
   * The wait before the next attempt, and counts it. The ceiling doubles with each failure;
   * the delay is drawn from its upper half ("equal jitter"), so listeners cut off together do
   * not all come back at the same instant, yet none comes back sooner than half the ceiling.
   */
  next(): number {
    const ceiling = this.#ceiling(this.#failures)
    this.#failures++
    return ceiling / 2 + (ceiling / 2) * this.random()
  }

  /**
   * The connection an attempt made was lost after `ms`. Only one that stayed up at least as
   * long as the ceiling of the wait before it starts the backoff over; one lost sooner counts
   * as a failed attempt (and toward maxAttempts), so a server that drops every new session
   * at once (idle_session_timeout of a millisecond, a watchdog that kills it) is not
   * hammered at minDelay for ever. lib/pq's Listener only keeps minReconnectInterval between
   * such connections.
   */
  lostAfter(ms: number): void {
    if (ms >= this.settlesAfter) this.reset()
  }

  /** How long a connection made now must stay up to start the backoff over: the ceiling of the last wait (0 before any). */
  get settlesAfter(): number {
    return this.#failures > 0 ? this.#ceiling(this.#failures - 1) : 0
  }

  #ceiling(failures: number): number {
    return Math.min(this.maxDelay, this.minDelay * 2 ** Math.min(failures, 52))
  }

  reset(): void {
    this.#failures = 0
  }
}

/**
 * Resolves true after `ms`, or false as soon as `signal` aborts (at once if it already has);
 * either way nothing of it is left behind: neither the timer nor the listener on `signal`.
 */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false)
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', stop)
      resolve(true)
    }, ms)
    const stop = () => {
      clearTimeout(timer)
      resolve(false)
    }
    signal.addEventListener('abort', stop, { once: true })
  })
}
