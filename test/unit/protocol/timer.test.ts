/**
 * Timers past their range: setTimeout keeps a signed 32-bit count of milliseconds and fires a
 * longer delay after 1 ms (vitest's fake timers do the same, as Node, browsers and workerd do).
 */
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { checkTimerDelay, maxTimerDelay, setLongTimeout } from '../../../src/protocol/timer.ts'

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

describe('setLongTimeout', () => {
  test('a delay past 2^31 - 1 ms waits all of it, in steps, and fires once', () => {
    const fired = vi.fn()
    setLongTimeout(fired, 2 * maxTimerDelay + 5)
    vi.advanceTimersByTime(maxTimerDelay)
    expect(fired).not.toHaveBeenCalled()
    vi.advanceTimersByTime(maxTimerDelay)
    expect(fired).not.toHaveBeenCalled()
    vi.advanceTimersByTime(4)
    expect(fired).not.toHaveBeenCalled()
    vi.advanceTimersByTime(1)
    expect(fired).toHaveBeenCalledTimes(1)
    expect(vi.getTimerCount()).toBe(0)
  })

  test('a delay a timer keeps is one timer, firing on time', () => {
    const fired = vi.fn()
    setLongTimeout(fired, maxTimerDelay)
    vi.advanceTimersByTime(maxTimerDelay - 1)
    expect(fired).not.toHaveBeenCalled()
    vi.advanceTimersByTime(1)
    expect(fired).toHaveBeenCalledTimes(1)
  })

  test('cancelling in a later step leaves no timer and never fires', () => {
    const fired = vi.fn()
    const cancel = setLongTimeout(fired, 3 * maxTimerDelay)
    vi.advanceTimersByTime(maxTimerDelay + 10)
    expect(vi.getTimerCount()).toBe(1)
    cancel()
    expect(vi.getTimerCount()).toBe(0)
    vi.advanceTimersByTime(3 * maxTimerDelay)
    expect(fired).not.toHaveBeenCalled()
  })

  test('unref: each step is unref\'d, so a long deadline never keeps the process alive', () => {
    vi.useRealTimers()
    const unref = vi.spyOn(globalThis, 'setTimeout')
    const cancel = setLongTimeout(() => {}, 10_000, { unref: true })
    const timer = unref.mock.results[0]!.value as NodeJS.Timeout
    expect(timer.hasRef()).toBe(false)
    cancel()
    const kept = setLongTimeout(() => {}, 10_000)
    expect((unref.mock.results[1]!.value as NodeJS.Timeout).hasRef()).toBe(true)
    kept()
    unref.mockRestore()
  })
})

describe('checkTimerDelay', () => {
  test('takes up to 2^31 - 1 ms; refuses longer, Infinity and NaN, naming the option', () => {
    expect(() => checkTimerDelay('x', maxTimerDelay)).not.toThrow()
    expect(() => checkTimerDelay('x', 0)).not.toThrow()
    for (const ms of [maxTimerDelay + 1, Infinity, Number.NaN]) {
      expect(() => checkTimerDelay('maxDelay', ms)).toThrow(new RangeError(`maxDelay must be at most 2147483647 ms (about 24.8 days, the longest a timer waits), not ${ms}`))
    }
  })
})
