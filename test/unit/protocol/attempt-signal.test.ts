/**
 * AttemptSignal: the caller's AbortSignal and connect_timeout as one signal, combined by hand
 * (Node 20.0 has no AbortSignal.any), with nothing left behind once disposed.
 */
import { getEventListeners } from 'node:events'
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { ConnectionLostError } from '../../../src/protocol/errors.ts'
import { AttemptSignal } from '../../../src/protocol/io/attempt-signal.ts'

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

describe('AttemptSignal', () => {
  test("the caller's abort: reason a ConnectionLostError caused by the caller's reason; the deadline passing later changes nothing", () => {
    const caller = new AbortController()
    const attempt = new AttemptSignal(caller.signal, 100)
    caller.abort('stop')
    expect(attempt.signal.aborted).toBe(true)
    expect(attempt.aborted).toBe(true)
    expect(attempt.signal.reason).toBeInstanceOf(ConnectionLostError)
    expect(attempt.signal.reason.message).toBe('the connection attempt was aborted')
    expect(attempt.signal.reason.cause).toBe('stop')
    vi.advanceTimersByTime(200)
    expect(attempt.timedOut).toBe(false)
    expect(attempt.aborted).toBe(true)
    attempt.dispose()
  })

  test('the deadline: timedOut, with a TimeoutError as the reason, as AbortSignal.timeout gives', () => {
    const caller = new AbortController()
    const attempt = new AttemptSignal(caller.signal, 100)
    vi.advanceTimersByTime(99)
    expect(attempt.signal.aborted).toBe(false)
    vi.advanceTimersByTime(1)
    expect(attempt.timedOut).toBe(true)
    expect(attempt.aborted).toBe(false)
    expect(attempt.signal.reason.name).toBe('TimeoutError')
    caller.abort()
    expect(attempt.signal.reason.name).toBe('TimeoutError')
    attempt.dispose()
  })

  test('an already aborted caller aborts it at once, with no timer started', () => {
    const attempt = new AttemptSignal(AbortSignal.abort('early'), 100)
    expect(attempt.aborted).toBe(true)
    expect(vi.getTimerCount()).toBe(0)
  })

  test('dispose() removes the timer and the listener on the caller, which may outlive many attempts', () => {
    const caller = new AbortController()
    const attempt = new AttemptSignal(caller.signal, 100)
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(1)
    expect(vi.getTimerCount()).toBe(1)
    attempt.dispose()
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0)
    expect(vi.getTimerCount()).toBe(0)
    caller.abort()
    expect(attempt.signal.aborted).toBe(false)
  })

  test('with neither a caller nor a deadline it never aborts', () => {
    const attempt = new AttemptSignal(undefined, undefined)
    vi.advanceTimersByTime(1e9)
    expect(attempt.signal.aborted).toBe(false)
    attempt.dispose()
  })
})

describe('AttemptSignal, a deadline longer than a timer keeps', () => {
  test('connect_timeout past 24.8 days (libpq takes up to 2^31 - 1 s) is waited, not cut to 1 ms', () => {
    vi.useFakeTimers()
    const seconds = 3_000_000 // 34.7 days
    const attempt = new AttemptSignal(undefined, seconds * 1000)
    vi.advanceTimersByTime(2 ** 31)
    expect(attempt.signal.aborted).toBe(false)
    vi.advanceTimersByTime(seconds * 1000 - 2 ** 31 - 1)
    expect(attempt.signal.aborted).toBe(false)
    vi.advanceTimersByTime(1)
    expect(attempt.timedOut).toBe(true)
    expect(attempt.signal.reason.message).toBe('the attempt took longer than 3000000000 ms')
    attempt.dispose()
    vi.useRealTimers()
  })

  test('dispose() in a later step of a long deadline leaves no timer', () => {
    vi.useFakeTimers()
    const attempt = new AttemptSignal(undefined, 3 * 2 ** 31)
    vi.advanceTimersByTime(2 ** 31 + 5)
    expect(vi.getTimerCount()).toBe(1)
    attempt.dispose()
    expect(vi.getTimerCount()).toBe(0)
    vi.useRealTimers()
  })
})
