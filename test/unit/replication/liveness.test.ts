/**
 * The client's half of wal_receiver_timeout for one copy (src/replication/liveness.ts), on fake
 * timers: when a status update asks for a reply, when a silent server is taken for gone, and
 * why a paused stream's silence and a blocked event loop do not count.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { CopyLiveness, silenceAllowed, statusInterval } from '../../../src/replication/liveness.ts'

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

function watched(interval: number, giveUpAfter: number) {
  const sent: boolean[] = []
  const gone: Error[] = []
  let paused = false
  const liveness = new CopyLiveness(interval, giveUpAfter, {
    sendStatus: (reply) => void sent.push(reply),
    paused: () => paused,
    gone: (error) => void gone.push(error),
  })
  return { liveness, sent, gone, pause: (on: boolean) => (paused = on) }
}

describe('CopyLiveness', () => {
  test('a tick that comes early (a timer a little ahead of the wall clock, a clock stepped forward) neither gives up on an answer asked for less than an interval ago, nor moves the ask', () => {
    const { liveness, gone } = watched(100, 150)
    liveness.start()
    vi.advanceTimersByTime(100) // silent an interval: asked at 100
    vi.setSystemTime(Date.now() + 60) // 160: silent 160 ms (>= 150), but asked only 60 ms ago
    liveness.tick()
    vi.advanceTimersByTime(0)
    expect(gone).toEqual([])
    vi.setSystemTime(Date.now() - 60) // back on the timers' schedule
    vi.advanceTimersByTime(100) // the tick at 200: asked 100 ms ago (not 40: the early tick did not ask again)
    vi.advanceTimersByTime(1)
    expect(gone).toHaveLength(1)
    liveness.stop()
  })

  test('a runtime whose timers are numbers (Deno\'s global setInterval) has nothing to unref: start() does not throw', () => {
    const setInterval = vi.spyOn(globalThis, 'setInterval').mockReturnValue(7 as never)
    const clearInterval = vi.spyOn(globalThis, 'clearInterval').mockImplementation(() => {})
    try {
      const { liveness } = watched(100, 1000)
      expect(() => liveness.start()).not.toThrow()
      liveness.stop()
      expect(clearInterval).toHaveBeenCalledWith(7)
    } finally {
      setInterval.mockRestore()
      clearInterval.mockRestore()
    }
  })

  test('a status update every interval; after one interval of silence it asks for a reply, and keeps asking', () => {
    const { liveness, sent } = watched(100, 1000)
    liveness.start()
    vi.advanceTimersByTime(100)
    expect(sent).toEqual([true]) // silent for a whole interval: ask
    vi.advanceTimersByTime(100)
    expect(sent).toEqual([true, true]) // still waiting for the answer
    liveness.heard()
    vi.advanceTimersByTime(50)
    liveness.heard()
    vi.advanceTimersByTime(50)
    expect(sent).toEqual([true, true, false]) // heard within the interval: no need to ask
    liveness.stop()
    vi.advanceTimersByTime(1000)
    expect(sent).toHaveLength(3)
  })

  test('silent, though asked, for giveUpAfter: gone, decided a turn of the event loop later, and an answer in that turn saves it', () => {
    const { liveness, gone } = watched(100, 300)
    liveness.start()
    vi.advanceTimersByTime(299) // asked at 100; at 300 silent 300 ms >= 300, asked 200 ms ago
    expect(gone).toEqual([])
    vi.advanceTimersToNextTimer() // the tick at 300 finds it so, and defers the verdict a turn
    expect(gone).toEqual([])
    liveness.heard() // the answer was there, unread, when the timer ran
    vi.advanceTimersToNextTimer() // the verdict: an answer came, so no
    expect(gone).toEqual([])
    vi.advanceTimersByTime(300) // asked again at 400, silent since 300: at 600 it is gone
    expect(gone.length).toBeGreaterThanOrEqual(1)
    expect(gone[0]!.message).toMatch(/^no word from the server in 30[01] ms, though asked for one$/) // the verdict runs 1 ms on, as setTimeout(0) does
    liveness.stop()
  })

  test('never gone without having asked: a server silent since the copy began is first asked, and gone an interval later', () => {
    const { liveness, sent, gone } = watched(1000, 10)
    liveness.start()
    vi.advanceTimersByTime(1000)
    vi.advanceTimersByTime(0)
    expect(sent).toEqual([true])
    expect(gone).toEqual([])
    vi.advanceTimersByTime(1001) // asked exactly one interval ago at the tick of 2000: enough
    expect(gone).toHaveLength(1)
    liveness.stop()
  })

  test('an update that did not ask starts no deadline: heard half an interval before a tick, the next tick asks rather than gives up', () => {
    const { liveness, sent, gone } = watched(100, 120)
    liveness.start()
    vi.advanceTimersByTime(50)
    liveness.heard()
    vi.advanceTimersByTime(50) // tick at 100: heard 50 ms ago, no need to ask
    expect(sent).toEqual([false])
    vi.advanceTimersByTime(101) // tick at 200: silent 150 ms >= 120, but never asked: ask now
    expect(sent).toEqual([false, true])
    expect(gone).toEqual([])
    liveness.stop()
  })

  test("while the stream has paused reading, the silence is its own and does not count", () => {
    const { liveness, sent, gone, pause } = watched(100, 200)
    liveness.start()
    pause(true)
    vi.advanceTimersByTime(2000)
    vi.advanceTimersByTime(0)
    expect(gone).toEqual([])
    expect(sent.every((reply) => !reply)).toBe(true)
    liveness.stop()
  })
})

describe('the intervals', () => {
  test('the status interval keeps within a third of wal_sender_timeout, at least 1 ms; a timeout of 0 is off', () => {
    expect(statusInterval(60_000, 10_000)).toBe(10_000)
    expect(statusInterval(6_000, 10_000)).toBe(2_000)
    expect(statusInterval(2, 10_000)).toBe(1)
    expect(statusInterval(0, 10_000)).toBe(10_000)
  })

  test('the silence allowed: receiveTimeout if given; else wal_sender_timeout plus the interval; 60 s with it off', () => {
    expect(silenceAllowed(60_000, 10_000, 5)).toBe(5)
    expect(silenceAllowed(60_000, 10_000, undefined)).toBe(70_000)
    expect(silenceAllowed(0, 10_000, undefined)).toBe(60_000)
  })
})
