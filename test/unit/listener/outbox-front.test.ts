/**
 * listener.outbox() at the call: a bad readTimeout throws there (not from the first next()),
 * and `later` hands every call on to the Outbox once outbox.ts has loaded, in order, or
 * rejects each with the error that kept it from being made.
 */
import { describe, expect, test } from 'vitest'
import { Listener } from '../../../src/index.ts'
import { checkOutboxOptions, later, readTimeoutOf, retryBackoff } from '../../../src/listener/outbox-front.ts'

describe('readTimeoutOf', () => {
  test('30 s by default, the value given if positive, RangeError otherwise', () => {
    expect(readTimeoutOf({})).toBe(30_000)
    expect(readTimeoutOf({ readTimeout: 1 })).toBe(1)
    for (const readTimeout of [0, -1, Number.NaN]) expect(() => readTimeoutOf({ readTimeout })).toThrow(new RangeError(`readTimeout must be positive, not ${readTimeout}`))
    expect(() => readTimeoutOf({ readTimeout: 2 ** 31 })).toThrow(new RangeError('readTimeout must be at most 2147483647 ms (about 24.8 days, the longest a timer waits), not 2147483648'))
  })

  test('retry: 250 ms to 30 s by default, the delays given, RangeError for delays the Backoff refuses', () => {
    expect(retryBackoff({})).toMatchObject({ minDelay: 250, maxDelay: 30_000 })
    expect(retryBackoff({ retry: { minDelay: 5, maxDelay: 6 } })).toMatchObject({ minDelay: 5, maxDelay: 6 })
    expect(() => retryBackoff({ retry: { minDelay: 10, maxDelay: 1 } })).toThrow(RangeError)
    expect(() => checkOutboxOptions({ channel: 'c', read: async () => [], cursor: () => 0, retry: { minDelay: -1 } })).toThrow(RangeError)
  })

  test('listener.outbox() throws each at the call, before loading or connecting anything', async () => {
    const listener = new Listener({ host: '127.0.0.1', port: 1, user: 'nobody', password: 'x', env: {} }) // never started
    try {
      const options = { channel: 'c', read: async () => [], cursor: () => 0 }
      expect(() => listener.outbox({ ...options, readTimeout: 0 })).toThrow(RangeError)
      expect(() => listener.outbox({ ...options, retry: { minDelay: 10, maxDelay: 1 } })).toThrow(RangeError)
    } finally {
      await listener.close()
    }
  })
})

describe('later', () => {
  /** An iterator that records the calls it gets. */
  function recorder() {
    const calls: string[] = []
    let n = 0
    const iterator: AsyncIterableIterator<number> = {
      next: async () => (calls.push('next'), { done: false, value: ++n }),
      return: async () => (calls.push('return'), { done: true, value: undefined }),
      [Symbol.asyncIterator]: () => iterator,
    }
    return { iterator, calls }
  }

  test('calls made before it is made wait, then run in the order they were made', async () => {
    const { iterator, calls } = recorder()
    let make!: (it: AsyncIterableIterator<number>) => void
    const lazy = later(new Promise<AsyncIterableIterator<number>>((resolve) => (make = resolve)))
    const results = [lazy.next(), lazy.next(), lazy.return!()]
    await new Promise((resolve) => setTimeout(resolve, 5))
    expect(calls).toEqual([])
    make(iterator)
    expect(await Promise.all(results)).toEqual([{ done: false, value: 1 }, { done: false, value: 2 }, { done: true, value: undefined }])
    expect(calls).toEqual(['next', 'next', 'return'])
    expect(lazy[Symbol.asyncIterator]()).toBe(lazy)
  })

  test('return() answers done when the iterator has no return()', async () => {
    const lazy = later(Promise.resolve({ next: async () => ({ done: true as const, value: undefined }), [Symbol.asyncIterator]() { return this } }))
    expect(await lazy.return!()).toEqual({ done: true, value: undefined })
  })

  test('one that cannot be made rejects every call with its error', async () => {
    const failure = new Error('the module did not load')
    const lazy = later(Promise.reject(failure))
    await expect(lazy.next()).rejects.toBe(failure)
    await expect(lazy.next()).rejects.toBe(failure)
    await expect(lazy.return!()).rejects.toBe(failure)
  })
})
