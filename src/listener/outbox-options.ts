/**
 * The outbox's options (./outbox.ts): what they mean, their defaults, and their checks, made
 * when the outbox is created so that a bad one is an error at the call, not a read retried for
 * ever. Pure.
 */
import { Backoff, type BackoffOptions } from './backoff.ts'
import { checkObject, checkSignal } from './connect-options.ts'
import { checkChannel } from './sql.ts'
import { checkTimerDelay } from '../protocol/timer.ts'

export interface OutboxOptions<E, C> {
  /** The channel the writers NOTIFY after inserting; the payload is not read. */
  channel: string
  /**
   * The events after `after` (undefined: from the start), in cursor order; a page of them is
   * fine (a LIMIT): read is called again until it returns nothing new. Rejecting is retried.
   * `signal` aborts when the read takes longer than `readTimeout` or the iteration ends: pass
   * it on (listener.query takes it), or the connection under a stalled read stays stuck.
   */
  read(after: C | undefined, signal: AbortSignal): Promise<readonly E[]>
  /** An event's cursor: increasing in the order `read` returns them. */
  cursor(event: E): C
  /** Where the last handled cursor is kept: read once, before the first read(). Default: from the start. */
  load?(): Promise<C | undefined> | C | undefined
  /**
   * Told each handled event's cursor, before the next event is taken (an event is handled
   * once the loop asks for the next one: so ask for one at a time). An event being handled
   * when the loop is left (break, throw) is not saved, so it comes again next time: see the
   * README for exactly once. A save that fails ends the iteration with its error.
   */
  save?(cursor: C): Promise<void> | void
  /**
   * Orders two cursors (negative: a before b). Default: numbers and bigints by value, strings
   * of digits (a bigint column read as text) as integers, other strings by code unit; any other
   * cursor needs a compare of its own. An event whose cursor is not after the last one yielded
   * is skipped, never yielded twice; one that a read gives after a greater one, though it is
   * after the last yielded, ends the iteration with a TypeError (read's order is not compare's:
   * skipping it would lose it).
   */
  compare?(a: C, b: C): number
  /** Waits between failed reads: doubling from minDelay (250 ms) to maxDelay (30 s). */
  retry?: Pick<BackoffOptions, 'minDelay' | 'maxDelay'>
  /** A read that takes longer than this many ms is abandoned (its signal aborted) and retried; default 30,000. */
  readTimeout?: number
  /** Ends the iteration when aborted. */
  signal?: AbortSignal
}

/** TypeErrors and RangeErrors at the call, for every option that would otherwise fail each read, retried for ever. */
export function checkOutboxOptions<E, C>(options: OutboxOptions<E, C>): void {
  checkObject(options)
  // The optional ones may be null, as connect()'s handlers may: none.
  for (const name of ['read', 'cursor', 'load', 'save', 'compare'] as const) {
    const given = options[name]
    if ((given != null || name === 'read' || name === 'cursor') && typeof given !== 'function') throw new TypeError(`${name} must be a function, not ${given === null ? 'null' : typeof given}`)
  }
  checkSignal(options.signal)
  checkChannel(options.channel) // as for listen(): never LISTEN "" or a name the server would cut
}

/** The read timeout, in ms: `readTimeout`, 30 s by default; RangeError unless positive. */
export function readTimeoutOf(options: Pick<OutboxOptions<unknown, unknown>, 'readTimeout'>): number {
  const timeout = options.readTimeout ?? 30_000
  if (!(timeout > 0)) throw new RangeError(`readTimeout must be positive, not ${options.readTimeout}`)
  checkTimerDelay('readTimeout', timeout)
  return timeout
}

/** The waits between failed reads: doubling from `retry.minDelay` (250 ms) to `retry.maxDelay` (30 s); RangeError for bad delays. */
export function retryBackoff(options: Pick<OutboxOptions<unknown, unknown>, 'retry'>): Backoff {
  return new Backoff({ minDelay: options.retry?.minDelay ?? 250, maxDelay: options.retry?.maxDelay ?? 30_000 })
}

const digits = /^-?\d+$/

/** Numbers and bigints by value; digit strings as integers; other strings by code unit. Anything else is a TypeError. */
export function defaultCompare(a: unknown, b: unknown): number {
  const key = (x: unknown) => {
    if (typeof x === 'string') return digits.test(x) ? BigInt(x) : x
    if (typeof x === 'bigint' || (typeof x === 'number' && !Number.isNaN(x))) return x
    throw new TypeError(`outbox cursors are numbers, bigints or strings unless a compare() is given, not ${String(x)}`)
  }
  const [x, y] = [key(a), key(b)]
  if (typeof x === 'string' !== (typeof y === 'string')) throw new TypeError(`outbox cursors of different kinds cannot be ordered: ${String(a)} and ${String(b)}; give a compare()`)
  return x < y ? -1 : x > y ? 1 : 0
}
