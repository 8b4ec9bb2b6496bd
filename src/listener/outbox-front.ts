/**
 * What listener.outbox() needs at the call: its options checked (a bad one throws there), and
 * an iterator that hands each call on to the Outbox once outbox.ts has loaded, so that a
 * listener that never reads an outbox never loads it. Imports outbox.ts's types only.
 */
import type { OutboxOptions } from './outbox.ts'

/** The read timeout, in ms: `readTimeout`, 30 s by default; RangeError unless positive. */
export function readTimeoutOf(options: Pick<OutboxOptions<unknown, unknown>, 'readTimeout'>): number {
  const timeout = options.readTimeout ?? 30_000
  if (!(timeout > 0)) throw new RangeError(`readTimeout must be positive, not ${options.readTimeout}`)
  return timeout
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
