/**
 * What listener.outbox() needs at the call: its options checked (a bad one throws there), and
 * an iterator that hands each call on to the Outbox once outbox.ts has loaded, so that a
 * listener that never reads an outbox never loads it. Imports the backoff and outbox.ts's types.
 */
import { Backoff } from './backoff.ts'
import type { OutboxOptions } from './outbox.ts'
import { checkTimerDelay } from '../protocol/timer.ts'

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

/** Every check the Outbox makes of its options, made at the call. */
export function checkOutboxOptions<E, C>(options: OutboxOptions<E, C>): void {
  readTimeoutOf(options)
  retryBackoff(options)
}

/**
 * An iterator over the one `made` resolves to: next() and return() wait for it, then call it.
 * If it cannot be made (its module failed to load), each call rejects with that error.
 */
export function later<T>(made: Promise<AsyncIterableIterator<T>>): AsyncIterableIterator<T> {
  made.catch(() => undefined) // reported by next() and return()
  const iterator: AsyncIterableIterator<T> = {
    next: async () => (await made).next(),
    return: async () => (await (await made).return?.()) ?? { done: true, value: undefined },
    [Symbol.asyncIterator]: () => iterator,
  }
  return iterator
}
