/** Reconnect delays: doubling from the minimum to the maximum, jittered, reset after success; the sleep between them. */
import { fc, test as propertyTest } from '@fast-check/vitest'
import { getEventListeners } from 'node:events'
import { afterEach, describe, expect, test, vi } from 'vitest'
import { Backoff, sleep } from '../../../src/listener/backoff.ts'

describe('Backoff', () => {
  test('the ceiling doubles from minDelay to maxDelay; the delay is in its upper half', () => {
    const lowest = new Backoff({ minDelay: 100, maxDelay: 1000 }, () => 0)
    const highest = new Backoff({ minDelay: 100, maxDelay: 1000 }, () => 1)
    expect(Array.from({ length: 6 }, () => lowest.next())).toEqual([50, 100, 200, 400, 500, 500])
    expect(Array.from({ length: 6 }, () => highest.next())).toEqual([100, 200, 400, 800, 1000, 1000])
  })

  test('reset() starts again from the minimum', () => {
    const b = new Backoff({ minDelay: 100, maxDelay: 1000 }, () => 1)
    b.next()
    b.next()
    expect(b.failures).toBe(2)
    b.reset()
    expect(b.next()).toBe(100)
  })

  test('maxAttempts: exhausted after that many failures; forever by default', () => {
    const limited = new Backoff({ maxAttempts: 2 })
    limited.next()
    expect(limited.exhausted).toBe(false)
    limited.next()
    expect(limited.exhausted).toBe(true)
    const forever = new Backoff()
    for (let i = 0; i < 10_000; i++) forever.next()
    expect(forever.exhausted).toBe(false)
    expect(forever.next()).toBeLessThanOrEqual(30_000) // no overflow after many doublings
  })

  test.each([
    [{ minDelay: -1 }, 'reconnect delays need 0 <= minDelay <= maxDelay, not -1 and 30000'],
    [{ minDelay: 10, maxDelay: 5 }, 'reconnect delays need 0 <= minDelay <= maxDelay, not 10 and 5'],
    [{ minDelay: Number.NaN }, 'reconnect delays need 0 <= minDelay <= maxDelay, not NaN and 30000'],
    [{ maxAttempts: 0 }, 'maxAttempts must be at least 1, not 0'],
    [{ maxAttempts: Number.NaN }, 'maxAttempts must be at least 1, not NaN'],
    [{ attemptTimeout: 0 }, 'attemptTimeout must be positive, not 0'],
    [{ attemptTimeout: -5 }, 'attemptTimeout must be positive, not -5'],
    [{ attemptTimeout: Number.NaN }, 'attemptTimeout must be positive, not NaN'],
    // A timer fires a delay past 2^31 - 1 ms at once: doubling up to it would reconnect in a hot loop.
    [{ maxDelay: Infinity }, 'maxDelay must be at most 2147483647 ms (about 24.8 days, the longest a timer waits), not Infinity'],
    [{ maxDelay: 2 ** 31 }, 'maxDelay must be at most 2147483647 ms (about 24.8 days, the longest a timer waits), not 2147483648'],
  ])('refuses %j, saying which option and what it was', (options, message) => {
    expect(() => new Backoff(options)).toThrow(new RangeError(message))
  })

  // The edges of what is allowed: each limit is inclusive (0 <= minDelay <= maxDelay, at least
  // one attempt), and the smallest positive attemptTimeout is accepted.
  test.each([
    [{ minDelay: 0, maxDelay: 0 }],
    [{ minDelay: 500, maxDelay: 500 }],
    [{ maxAttempts: 1 }],
    [{ attemptTimeout: 1 }],
  ])('accepts %j', (options) => {
    expect(() => new Backoff(options)).not.toThrow()
  })

  test('minDelay = maxDelay = 0: every wait is 0, however many failures', () => {
    const b = new Backoff({ minDelay: 0, maxDelay: 0 }, () => 1)
    expect([b.next(), b.next(), b.next()]).toEqual([0, 0, 0])
  })

  test('maxAttempts: 1 gives up after the first failure', () => {
    const b = new Backoff({ maxAttempts: 1 })
    expect(b.exhausted).toBe(false)
    b.next()
    expect(b.exhausted).toBe(true)
  })

  test('the failures, counted for a message: "1 attempt", then "2 attempts"', () => {
    const b = new Backoff({})
    expect(b.failed).toBe('0 attempts')
    b.next()
    expect(b.failed).toBe('1 attempt')
    b.next()
    expect(b.failed).toBe('2 attempts')
  })

  propertyTest.prop([fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 0, max: 100_000 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.nat({ max: 100 })])(
    'every delay lies within [minDelay / 2, maxDelay]',
    (min, extra, random, attempts) => {
      const b = new Backoff({ minDelay: min, maxDelay: min + extra }, () => random)
      for (let i = 0; i <= attempts; i++) {
        const delay = b.next()
        expect(delay).toBeGreaterThanOrEqual(min / 2)
        expect(delay).toBeLessThanOrEqual(min + extra)
      }
    },
  )
})

describe('sleep between attempts', () => {
  afterEach(() => void vi.useRealTimers())

  test('resolves true after the delay, leaving no timer and no abort listener', async () => {
    vi.useFakeTimers()
    const stop = new AbortController()
    let result: boolean | undefined
    void sleep(500, stop.signal).then((r) => (result = r))
    await vi.advanceTimersByTimeAsync(499)
    expect(result).toBeUndefined()
    await vi.advanceTimersByTimeAsync(1)
    expect(result).toBe(true)
    expect(vi.getTimerCount()).toBe(0)
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(0)
  })

  test('an abort ends it at once with false and clears its timer (close() during a backoff)', async () => {
    vi.useFakeTimers()
    const stop = new AbortController()
    const slept = sleep(30_000, stop.signal)
    expect(vi.getTimerCount()).toBe(1)
    stop.abort()
    await expect(slept).resolves.toBe(false)
    expect(vi.getTimerCount()).toBe(0)
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(0)
  })

  test('a signal aborted already answers false without starting a timer', async () => {
    vi.useFakeTimers()
    const stop = new AbortController()
    stop.abort()
    await expect(sleep(100, stop.signal)).resolves.toBe(false)
    expect(vi.getTimerCount()).toBe(0)
  })
})
