/**
 * Liveness without a socket: a fake connection whose heartbeat answer we hold back and whose
 * byte counter we move. Death is silence while reading, never a slow answer behind a backlog.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { ConnectionLostError } from '../../../src/protocol/errors.ts'
import { Liveness, type LiveConnection } from '../../../src/listener/liveness.ts'

function fakeConnection() {
  const answers: { resolve(): void; reject(e: Error): void }[] = []
  const connection = {
    bytesReceived: 0,
    queries: 0,
    /** Heartbeats sent: each is a Sync, a round trip that runs nothing. */
    sync() {
      connection.queries++
      return new Promise<void>((resolve, reject) => answers.push({ resolve: () => resolve(), reject }))
    },
  }
  return { connection: connection satisfies LiveConnection, answers }
}

function setup(options: { interval: number; timeout: number }) {
  const { connection, answers } = fakeConnection()
  let reading = true
  const dead: Error[] = []
  const answered: Date[] = []
  const liveness = new Liveness(options, {
    connection: () => connection,
    reading: () => reading,
    answered: (_c, sentAt) => void answered.push(sentAt),
    dead: (_c, error) => void dead.push(error),
  })
  return { liveness, connection, answers, dead, answered, setReading: (r: boolean) => (reading = r) }
}

describe('Liveness', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  test('silence while reading, with a heartbeat unanswered for timeout, is death', async () => {
    const { liveness, dead } = setup({ interval: 100, timeout: 300 })
    void liveness.beat()
    vi.advanceTimersByTime(299)
    expect(dead).toEqual([])
    vi.advanceTimersByTime(1)
    expect(dead).toEqual([]) // not in the timer itself: after this turn's reads
    vi.advanceTimersByTime(1)
    expect(dead).toHaveLength(1)
    expect(dead[0]).toBeInstanceOf(ConnectionLostError)
    expect(dead[0]!.message).toMatch(/heartbeat/)
  })

  test('the verdict is taken in setImmediate, after the reads already waiting, where the runtime has it', async () => {
    const immediate = vi.spyOn(globalThis, 'setImmediate')
    const { liveness, dead } = setup({ interval: 100, timeout: 300 })
    void liveness.beat()
    vi.advanceTimersByTime(300)
    expect(immediate).toHaveBeenCalled()
    vi.advanceTimersByTime(1)
    expect(dead).toHaveLength(1)
    immediate.mockRestore()
  })

  test('without setImmediate (Cloudflare Workers), a zero-delay timer takes the verdict', async () => {
    vi.stubGlobal('setImmediate', undefined)
    vi.stubGlobal('clearImmediate', undefined)
    try {
      const { liveness, dead } = setup({ interval: 100, timeout: 300 })
      void liveness.beat()
      vi.advanceTimersByTime(299)
      expect(dead).toEqual([])
      vi.advanceTimersByTime(2)
      expect(dead).toHaveLength(1)
      expect(dead[0]!.message).toMatch(/heartbeat/)
    } finally {
      vi.unstubAllGlobals()
    }
  })

  test.each([['setImmediate', false], ['a zero-delay timer (no setImmediate)', true]] as const)(
    'an answer that lands while the verdict waits in %s cancels it: no death declared after the answer',
    async (_, withoutImmediate) => {
      if (withoutImmediate) {
        vi.stubGlobal('setImmediate', undefined)
        vi.stubGlobal('clearImmediate', undefined)
      }
      try {
        const { liveness, answers, dead } = setup({ interval: 100, timeout: 300 })
        const beat = liveness.beat()
        vi.advanceTimersByTime(300) // the verdict is now due, after this turn's reads
        answers[0]!.resolve() // ... and the answer is one of them
        await beat
        vi.advanceTimersByTime(5)
        expect(dead).toEqual([])
      } finally {
        vi.unstubAllGlobals()
      }
    },
  )

  test('a connection delivering bytes is alive, however long the answer takes behind a backlog', async () => {
    const { liveness, connection, answers, dead, answered } = setup({ interval: 100, timeout: 300 })
    const sent = Date.now()
    const beat = liveness.beat()
    for (let i = 0; i < 20; i++) {
      vi.advanceTimersByTime(250)
      connection.bytesReceived += 100 // the backlog, arriving
    }
    expect(dead).toEqual([])
    answers[0]!.resolve()
    await beat
    expect(answered.map((d) => d.getTime())).toEqual([sent])
    vi.advanceTimersByTime(10_000)
    expect(dead).toEqual([]) // no stray timer judges it later
  })

  test('while backpressure holds the socket nothing is judged; silence counts again from the resume', async () => {
    const { liveness, dead, setReading } = setup({ interval: 100, timeout: 300 })
    void liveness.beat()
    vi.advanceTimersByTime(100)
    setReading(false)
    vi.advanceTimersByTime(5000)
    expect(dead).toEqual([])
    setReading(true)
    liveness.resumed()
    vi.advanceTimersByTime(300) // the check that spans the resume is not trusted
    expect(dead).toEqual([])
    vi.advanceTimersByTime(300)
    expect(dead).toHaveLength(1)
  })

  test('a pause and resume between two checks is noticed (no death for time spent paused)', async () => {
    const { liveness, dead, setReading } = setup({ interval: 100, timeout: 300 })
    void liveness.beat()
    vi.advanceTimersByTime(100)
    setReading(false)
    vi.advanceTimersByTime(100)
    setReading(true)
    liveness.resumed()
    vi.advanceTimersByTime(100) // first check, 300 ms after the beat: reading now, no bytes, but it resumed
    expect(dead).toEqual([])
  })

  test('no heartbeat is sent while paused, nor a second while one waits', async () => {
    const { liveness, connection, setReading } = setup({ interval: 100, timeout: 1000 })
    setReading(false)
    void liveness.beat()
    expect(connection.queries).toBe(0)
    setReading(true)
    void liveness.beat()
    void liveness.beat()
    expect(connection.queries).toBe(1)
  })

  test('the interval sends heartbeats; stop() ends them', async () => {
    const { liveness, connection, answers } = setup({ interval: 100, timeout: 1000 })
    liveness.start()
    liveness.start() // twice is once
    vi.advanceTimersByTime(100)
    expect(connection.queries).toBe(1)
    answers[0]!.resolve()
    await vi.advanceTimersByTimeAsync(100)
    expect(connection.queries).toBe(2)
    liveness.stop()
    answers[1]!.resolve()
    await vi.advanceTimersByTimeAsync(1000)
    expect(connection.queries).toBe(2)
  })

  test('a failed heartbeat query is left to the connection close; nothing is declared', async () => {
    const { liveness, answers, dead, answered } = setup({ interval: 100, timeout: 300 })
    const beat = liveness.beat()
    answers[0]!.reject(new ConnectionLostError('gone'))
    await beat
    vi.advanceTimersByTime(1000)
    expect(dead).toEqual([])
    expect(answered).toEqual([])
  })

  test('options are checked; false turns it off', async () => {
    const hooks = { connection: () => undefined, reading: () => true, answered() {}, dead() {} }
    expect(() => new Liveness({ interval: 0 }, hooks)).toThrow(RangeError)
    expect(() => new Liveness({ interval: 10, timeout: -1 }, hooks)).toThrow(RangeError)
    expect(() => new Liveness({ interval: 10, timeout: 0 }, hooks)).toThrow(RangeError)
    expect(() => new Liveness({ interval: 0, timeout: 10 }, hooks)).toThrow(RangeError)
    expect(() => new Liveness({ interval: Number.NaN }, hooks)).toThrow(RangeError)
    expect(() => new Liveness(false, hooks)).not.toThrow()
    expect(new Liveness({ interval: 10 }, hooks).timeout).toBe(10)
    expect(new Liveness(undefined, hooks).interval).toBe(15_000)
    const { connection } = fakeConnection()
    const off = new Liveness(false, { ...hooks, connection: () => connection })
    off.start()
    vi.advanceTimersByTime(60_000)
    expect(connection.queries).toBe(0)
  })

  test('a refused option is named in the error, with both values as they were understood', () => {
    const hooks = { connection: () => undefined, reading: () => true, answered() {}, dead() {} }
    // No timeout given: it defaults to the interval, so both are 0.
    expect(() => new Liveness({ interval: 0 }, hooks)).toThrow(new RangeError('heartbeat interval and timeout must be positive, not 0 and 0'))
    expect(() => new Liveness({ interval: 10, timeout: -1 }, hooks)).toThrow(new RangeError('heartbeat interval and timeout must be positive, not 10 and -1'))
    // Past a timer's range setInterval fires every 1 ms: a query per millisecond.
    expect(() => new Liveness({ interval: 2 ** 31 }, hooks)).toThrow(new RangeError('the heartbeat interval must be at most 2147483647 ms (about 24.8 days, the longest a timer waits), not 2147483648'))
    expect(() => new Liveness({ interval: 10, timeout: Infinity }, hooks)).toThrow(new RangeError('the heartbeat timeout must be at most 2147483647 ms (about 24.8 days, the longest a timer waits), not Infinity'))
    expect(new Liveness({ interval: 2 ** 31 - 1 }, hooks).timeout).toBe(2 ** 31 - 1)
    expect(() => new Liveness(false, hooks)).not.toThrow()
  })

  test('a timer that fires late (the event loop was blocked) waits for this turn\'s reads before judging', async () => {
    const { liveness, connection, dead } = setup({ interval: 100, timeout: 300 })
    void liveness.beat()
    vi.advanceTimersByTime(300) // the check is due; its verdict waits for the reads
    connection.bytesReceived += 10 // the answer was in the socket all along
    vi.advanceTimersByTime(1)
    expect(dead).toEqual([])
  })
})

// Deno's global timers are numbers, with no unref(): a heartbeat must not throw on them.
test('a runtime whose timers are numbers (Deno\'s globals) has nothing to unref: start() and a heartbeat do not throw', async () => {
  const spies = [
    vi.spyOn(globalThis, 'setInterval').mockReturnValue(7 as never),
    vi.spyOn(globalThis, 'setTimeout').mockReturnValue(8 as never),
    vi.spyOn(globalThis, 'clearInterval').mockImplementation(() => {}),
    vi.spyOn(globalThis, 'clearTimeout').mockImplementation(() => {}),
  ]
  try {
    const { liveness, connection, answers, answered } = setup({ interval: 100, timeout: 300 })
    expect(() => liveness.start()).not.toThrow()
    const beat = liveness.beat()
    expect(connection.queries).toBe(1)
    answers[0]!.resolve()
    await beat
    expect(answered).toHaveLength(1)
    liveness.stop()
    expect(spies[2]).toHaveBeenCalledWith(7)
    expect(spies[3]).toHaveBeenCalledWith(8)
  } finally {
    for (const spy of spies) spy.mockRestore()
  }
})
