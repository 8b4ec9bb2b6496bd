/**
 * The outbox reader (src/listener/outbox.ts) over a stand-in for the listener and a table kept
 * in an array: when it reads (at start, on wake-ups, once per burst, after a Gap, until a read
 * comes back empty, again after a failure), what it yields (each event once, in cursor order)
 * and what it saves. What it does on a real server under faults: test/integration/no-loss.test.ts.
 */
import { getEventListeners } from 'node:events'
import { afterEach, describe, expect, test, vi } from 'vitest'
import { Outbox, type OutboxSource } from '../../../src/listener/outbox.ts'
import { defaultCompare, type OutboxOptions } from '../../../src/listener/outbox-options.ts'
import { Subscription, type Gap, type Notification } from '../../../src/listener/subscription.ts'
import { foreignAbortController } from '../../support/foreign-signal.ts'

interface Row {
  id: number
  body: string
}

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0))

function notification(): Notification {
  return { type: 'NotificationResponse', processId: 1, channel: 'outbox', payload: '' }
}

function gap(): Gap {
  return { type: 'Gap', from: new Date(0), to: new Date(1), cause: undefined }
}

/** A listener stand-in, a table, and an outbox reading it; every read and save is recorded. */
function world(options: Partial<OutboxOptions<Row, number>> & { page?: number } = {}) {
  const table: Row[] = []
  const reads: (number | undefined)[] = []
  const saved: number[] = []
  const errors: Error[] = []
  const listened: string[] = []
  const released: string[] = []
  const wakeUps = new Subscription({ gaps: true })
  const stopSignals: AbortSignal[] = []
  let failNext = 0
  let readGate: Promise<void> | undefined
  const source: OutboxSource = {
    async listen(channel) {
      listened.push(channel)
    },
    release: (channel) => void released.push(channel),
    wakeUps: (_, signal) => (stopSignals.push(signal), signal.addEventListener('abort', () => wakeUps.end()), wakeUps),
    reportError: (error) => void errors.push(error),
  }
  const outbox = new Outbox<Row, number>(source, {
    channel: 'outbox',
    async read(after) {
      reads.push(after)
      const snapshot = table.filter((r) => r.id > (after ?? 0)).slice(0, options.page ?? Infinity) // as a query sees it when it starts
      await readGate
      if (failNext > 0) {
        failNext--
        throw new Error('connection lost')
      }
      return snapshot
    },
    cursor: (row) => row.id,
    save: (cursor) => void saved.push(cursor),
    retry: { minDelay: 1, maxDelay: 2 },
    ...options,
  })
  return {
    table,
    reads,
    saved,
    errors,
    listened,
    released,
    wakeUps,
    /** The signal the outbox ends with (it was given to wakeUps). */
    stopSignal: () => stopSignals[0]!,
    outbox,
    insert: (...ids: number[]) => table.push(...ids.map((id) => ({ id, body: `event ${id}` }))),
    failReads: (n: number) => (failNext = n),
    /** Holds every read until the returned function is called. */
    holdReads() {
      let open!: () => void
      readGate = new Promise((resolve) => (open = resolve))
      return () => ((readGate = undefined), open())
    },
  }
}

/** The next `n` events' ids. */
async function take(outbox: Outbox<Row, number>, n: number): Promise<number[]> {
  const ids: number[] = []
  for (let i = 0; i < n; i++) {
    const r = await outbox.next()
    if (r.done) break
    ids.push(r.value.id)
  }
  return ids
}

/** Whether `promise` is still pending after the queued work has run. */
async function pending(promise: Promise<unknown>): Promise<boolean> {
  let settled = false
  void promise.then(
    () => (settled = true),
    () => (settled = true),
  )
  for (let i = 0; i < 5; i++) await tick()
  return !settled
}

describe('when it reads', () => {
  test('LISTEN first, then the saved cursor, then one read after it: what was there before yields at once', async () => {
    const w = world({ load: () => 2 })
    w.insert(1, 2, 3, 4)
    expect(await take(w.outbox, 2)).toEqual([3, 4])
    expect(w.listened).toEqual(['outbox'])
    expect(w.reads).toEqual([2])
    expect(await pending(w.outbox.next())).toBe(true)
    expect(w.reads).toEqual([2, 4]) // read again after a read that returned something, then wait
  })

  test('with nothing new it waits for a wake-up, and reads after the last event yielded', async () => {
    const w = world()
    w.insert(1)
    expect(await take(w.outbox, 1)).toEqual([1])
    const next = w.outbox.next()
    expect(await pending(next)).toBe(true)
    expect(w.reads).toEqual([undefined, 1])
    w.insert(2)
    w.wakeUps.offer(notification())
    expect((await next).value).toEqual({ id: 2, body: 'event 2' })
    expect(w.reads).toEqual([undefined, 1, 1])
  })

  test('a Gap alone makes it read again: wake-ups may have been lost', async () => {
    const w = world()
    const next = w.outbox.next()
    expect(await pending(next)).toBe(true)
    w.insert(7) // committed while the wake-up was lost
    w.wakeUps.offerGap(gap())
    expect((await next).value?.id).toBe(7)
  })

  test('a burst of wake-ups during a read makes one more read, not one per wake-up', async () => {
    const w = world()
    const open = w.holdReads()
    const next = w.outbox.next()
    await tick()
    for (let i = 0; i < 50; i++) w.insert(i + 1), w.wakeUps.offer(notification())
    open()
    expect((await next).value?.id).toBe(1)
    expect(await take(w.outbox, 49)).toHaveLength(49)
    expect(await pending(w.outbox.next())).toBe(true)
    // The first read (it began before the inserts), one for the whole burst, one that found nothing more.
    expect(w.reads).toEqual([undefined, undefined, 50])
  })

  test('a page at a time: it reads on until a read comes back empty', async () => {
    const w = world({ page: 2 })
    w.insert(1, 2, 3, 4, 5)
    expect(await take(w.outbox, 5)).toEqual([1, 2, 3, 4, 5])
    const next = w.outbox.next()
    expect(await pending(next)).toBe(true)
    expect(w.reads).toEqual([undefined, 2, 4, 5])
    void w.outbox.return()
  })

  test('a failed read is reported and tried again, from the same cursor, without a wake-up', async () => {
    const w = world()
    w.insert(1, 2)
    w.failReads(2)
    expect(await take(w.outbox, 2)).toEqual([1, 2])
    expect(w.errors.map((e) => e.message)).toEqual(['connection lost', 'connection lost'])
    expect(w.reads.slice(0, 3)).toEqual([undefined, undefined, undefined])
  })
})

describe('a read() that is not an async function', () => {
  test('one that throws at once is reported and tried again, like one that rejects, and leaves no rejection unheard', async () => {
    const unheard: unknown[] = []
    const onUnheard = (e: unknown) => void unheard.push(e)
    process.on('unhandledRejection', onUnheard)
    try {
      const rows = [{ id: 1, body: 'one' }]
      let calls = 0
      const errors: Error[] = []
      const source: OutboxSource = { listen: async () => {}, release: () => {}, wakeUps: () => new Subscription({ gaps: true }), reportError: (e) => void errors.push(e) }
      const outbox = new Outbox<Row, number>(source, {
        channel: 'outbox',
        read: ((after: number | undefined) => {
          if (calls++ === 0) throw new Error('thrown, not rejected')
          return rows.filter((r) => r.id > (after ?? 0)) // a plain array, no promise
        }) as never,
        cursor: (r) => r.id,
        retry: { minDelay: 1, maxDelay: 2 },
        readTimeout: 50,
      })
      expect(await take(outbox, 1)).toEqual([1])
      expect(errors.map((e) => e.message)).toEqual(['thrown, not rejected'])
      await outbox.return()
      await new Promise((resolve) => setTimeout(resolve, 100)) // past readTimeout: before, the abandoned race rejected here
      expect(unheard).toEqual([])
    } finally {
      process.off('unhandledRejection', onUnheard)
    }
  })
})

describe('its options', () => {
  test.each([
    ['empty', ''],
    ['64 bytes', 'x'.repeat(64)],
    ['a NUL', 'a\0b'],
  ])('a channel that is %s is a RangeError at the call, before anything is listened on', (_, channel) => {
    const listened: string[] = []
    const source: OutboxSource = { listen: async (c) => void listened.push(c), release: () => {}, wakeUps: () => new Subscription({ gaps: true }), reportError: () => {} }
    expect(() => new Outbox<Row, number>(source, { channel, read: async () => [], cursor: (r) => r.id })).toThrow(RangeError)
    expect(listened).toEqual([])
  })
})

describe('retrying a failed read', () => {
  afterEach(() => void vi.useRealTimers())

  test('after retry.minDelay, doubling up to retry.maxDelay', async () => {
    vi.useFakeTimers()
    const w = world({ retry: { minDelay: 1000, maxDelay: 1000 } })
    w.insert(1)
    w.failReads(3)
    const next = w.outbox.next()
    await vi.advanceTimersByTimeAsync(0)
    expect(w.reads).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(499) // each wait is drawn from [500, 1000]
    expect(w.reads).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(2501) // three waits of at most 1000 (maxDelay holds the doubling)
    expect(w.reads).toHaveLength(4)
    expect((await next).value?.id).toBe(1)
  })

  test('a wake-up during the wait retries at once', async () => {
    vi.useFakeTimers()
    const w = world({ retry: { minDelay: 60_000, maxDelay: 60_000 } })
    w.insert(1)
    w.failReads(1)
    const next = w.outbox.next()
    await vi.advanceTimersByTimeAsync(0)
    expect(w.reads).toHaveLength(1)
    w.wakeUps.offerGap(gap()) // the connection is back
    await vi.advanceTimersByTimeAsync(0)
    expect((await next).value?.id).toBe(1)
    expect(w.reads).toHaveLength(2)
  })

  test('wake-ups during the wait do not cut it short (a failing read is not hammered); a Gap does', async () => {
    vi.useFakeTimers()
    const w = world({ retry: { minDelay: 10_000, maxDelay: 10_000 } })
    w.insert(1)
    w.failReads(1)
    const next = w.outbox.next()
    await vi.advanceTimersByTimeAsync(0)
    for (let i = 0; i < 100; i++) w.wakeUps.offer(notification())
    await vi.advanceTimersByTimeAsync(100)
    expect(w.reads).toHaveLength(1)
    expect(vi.getTimerCount()).toBe(1) // one wait, no timer per wake-up
    w.wakeUps.offerGap(gap())
    expect((await next).value?.id).toBe(1)
    expect(w.reads).toHaveLength(2)
  })

  test('a read that takes longer than readTimeout is abandoned, its signal aborted, and tried again', async () => {
    vi.useFakeTimers()
    const signals: AbortSignal[] = []
    let calls = 0
    const w = world({
      readTimeout: 5_000,
      read: (after, signal) => {
        signals.push(signal)
        calls++
        return calls === 1 ? new Promise(() => {}) : Promise.resolve(w.table.filter((r) => r.id > (after ?? 0)))
      },
    })
    w.insert(1)
    const next = w.outbox.next()
    await vi.advanceTimersByTimeAsync(4_999)
    expect(calls).toBe(1)
    expect(signals[0]!.aborted).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(signals[0]!.aborted).toBe(true)
    expect(w.errors[0]!.message).toMatch(/longer than 5000 ms/)
    await vi.advanceTimersByTimeAsync(1_000) // the retry's wait (minDelay 1)
    expect((await next).value?.id).toBe(1)
    expect(calls).toBe(2)
  })

  test('return() during a read that never settles ends the pending next() at once', async () => {
    const w = world({ read: () => new Promise(() => {}) })
    const next = w.outbox.next()
    await tick()
    await w.outbox.return()
    expect(await next).toEqual({ done: true, value: undefined })
  })

  test('a read that fails because the iteration ended is not reported', async () => {
    const w = world()
    const open = w.holdReads()
    w.failReads(1)
    const next = w.outbox.next()
    await tick()
    expect(await w.outbox.return()).toEqual({ done: true, value: undefined })
    open()
    expect(await next).toEqual({ done: true, value: undefined })
    expect(w.errors).toEqual([])
  })
})

describe('what it yields and saves', () => {
  test('each cursor is saved once the next event is asked for, never before; leaving the loop saves nothing', async () => {
    const w = world()
    w.insert(1, 2, 3)
    await take(w.outbox, 1)
    expect(w.saved).toEqual([])
    await take(w.outbox, 1)
    expect(w.saved).toEqual([1])
    for await (const row of w.outbox) if (row.id === 3) break
    expect(w.saved).toEqual([1, 2]) // 3 was being handled when the loop was left
    expect(await w.outbox.next()).toEqual({ done: true, value: undefined })
    expect(w.saved).toEqual([1, 2]) // nor by a next() after it: before, 3 was saved here, and lost on restart
  })

  test('a next() called before return() has asked for the next event: the one handled is saved', async () => {
    const w = world()
    w.insert(1, 2)
    await take(w.outbox, 1)
    const next = w.outbox.next() // 1 is handled: save it, and give the next
    await w.outbox.return()
    await next
    expect(w.saved).toEqual([1])
  })

  test('an event not after the last one yielded is skipped: a read that overlaps yields nothing twice', async () => {
    let reads = 0
    const w = world({ read: async () => (reads++, w.table) }) // the whole table, every time
    w.insert(1, 2)
    expect(await take(w.outbox, 2)).toEqual([1, 2])
    w.insert(3)
    w.wakeUps.offer(notification())
    expect(await take(w.outbox, 1)).toEqual([3])
    const before = reads
    expect(await pending(w.outbox.next())).toBe(true) // a read that only repeats itself ends the reading
    expect(reads).toBe(before + 1)
  })

  test('load and save are optional: without them it reads from the start', async () => {
    const table = [{ id: 1, body: 'a' }, { id: 2, body: 'b' }]
    const source: OutboxSource = { listen: async () => {}, release: () => {}, wakeUps: () => new Subscription(), reportError: () => {} }
    const outbox = new Outbox<Row, number>(source, { channel: 'x', read: async (after) => table.filter((r) => r.id > (after ?? 0)), cursor: (r) => r.id })
    expect(await take(outbox, 2)).toEqual([1, 2])
    void outbox.return()
  })

  test('concurrent next() calls take different events, in order', async () => {
    const w = world()
    w.insert(1, 2, 3)
    const results = await Promise.all([w.outbox.next(), w.outbox.next(), w.outbox.next()])
    expect(results.map((r) => r.value?.id)).toEqual([1, 2, 3])
  })
})

describe('how it ends', () => {
  test('when the listener closes (the wake-ups end), the iteration ends; the last event handled is saved once', async () => {
    const w = world()
    w.insert(1)
    await take(w.outbox, 1)
    const next = w.outbox.next()
    expect(await pending(next)).toBe(true)
    w.wakeUps.end()
    expect(await next).toEqual({ done: true, value: undefined })
    expect(await w.outbox.next()).toEqual({ done: true, value: undefined })
    expect(w.saved).toEqual([1])
    expect(w.released).toEqual(['outbox']) // its channel is released once, as a feed's is
    await w.outbox.return()
    expect(w.released).toEqual(['outbox'])
  })

  test('a save that fails ends the iteration with its error, and releases the channel', async () => {
    const w = world({ save: () => Promise.reject(new Error('disk full')) })
    w.insert(1, 2)
    await take(w.outbox, 1)
    await expect(w.outbox.next()).rejects.toThrow('disk full')
    expect(await w.outbox.next()).toEqual({ done: true, value: undefined }) // thrown once, then over
    expect(w.wakeUps.ended).toBe(true)
    expect(w.released).toEqual(['outbox'])
  })

  test('a cursor that cannot be ordered ends the iteration with a TypeError', async () => {
    const w = world({ cursor: (row) => ({ id: row.id }) as never })
    w.insert(1, 2)
    await expect(w.outbox.next()).rejects.toThrow(TypeError)
    expect(w.wakeUps.ended).toBe(true)
  })

  test('when the listener gives up, next() rejects with its error', async () => {
    const w = world()
    const next = w.outbox.next()
    expect(await pending(next)).toBe(true)
    w.wakeUps.fail(new Error('gave up reconnecting'))
    await expect(next).rejects.toThrow('gave up reconnecting')
  })

  test('an aborted signal ends it, even one aborted before the start', async () => {
    const controller = new AbortController()
    const w = world({ signal: controller.signal })
    const next = w.outbox.next()
    expect(await pending(next)).toBe(true)
    controller.abort()
    expect(await next).toEqual({ done: true, value: undefined })
    const other = new AbortController()
    const ended = world({ signal: other.signal })
    expect(getEventListeners(other.signal, 'abort')).toHaveLength(1)
    await ended.outbox.return()
    expect(getEventListeners(other.signal, 'abort')).toHaveLength(0) // nothing left on the caller's signal
    const early = world({ signal: AbortSignal.abort() })
    early.insert(1)
    expect(await early.outbox.next()).toEqual({ done: true, value: undefined })
  })

  test("a signal from another realm, whose addEventListener ignores the `signal` option, is left with no listener once it ends", async () => {
    const foreign = foreignAbortController()
    const ended = world({ signal: foreign.signal })
    expect(foreign.listenerCount()).toBe(1)
    await ended.outbox.return()
    expect(foreign.listenerCount()).toBe(0)
    const aborted = foreignAbortController()
    const w = world({ signal: aborted.signal })
    const next = w.outbox.next()
    expect(await pending(next)).toBe(true)
    aborted.abort()
    expect(await next).toEqual({ done: true, value: undefined })
    expect(aborted.listenerCount()).toBe(0)
  })

  test('ended before it started (an aborted signal, return()), it neither LISTENs nor loads: done, even on a listener that gave up', async () => {
    for (const end of ['signal', 'return'] as const) {
      const loads: number[] = []
      const listened: string[] = []
      const source: OutboxSource = {
        listen: async (channel) => {
          listened.push(channel)
          throw new Error('the listener gave up reconnecting')
        },
        release: () => {},
        wakeUps: () => new Subscription({ gaps: true }),
        reportError: () => {},
        closed: () => false,
      }
      const outbox = new Outbox<Row, number>(source, {
        channel: 'x',
        read: async () => [],
        cursor: (r) => r.id,
        load: () => void loads.push(1),
        ...(end === 'signal' ? { signal: AbortSignal.abort() } : {}),
      })
      if (end === 'return') await outbox.return()
      expect(await outbox.next()).toEqual({ done: true, value: undefined })
      expect(listened).toEqual([])
      expect(loads).toEqual([])
    }
  })

  test('a LISTEN that fails rejects the first next()', async () => {
    const w = world()
    const released: string[] = []
    const source = { listen: async () => Promise.reject(new Error('LISTEN refused')), release: (c: string) => void released.push(c), wakeUps: () => w.wakeUps, reportError: () => {} }
    const outbox = new Outbox<Row, number>(source, { channel: 'x', read: async () => [], cursor: (r) => r.id })
    await expect(outbox.next()).rejects.toThrow('LISTEN refused')
    expect(await outbox.next()).toEqual({ done: true, value: undefined }) // thrown once, then over, as an iterator of notifications does
    expect(released).toEqual([]) // nothing was listened on
  })
})

describe('when close() comes first', () => {
  test('a LISTEN refused because the listener was closed (not given up) ends the iteration: done, not thrown', async () => {
    let closed = false
    const source: OutboxSource = {
      listen: async () => {
        closed = true
        throw new Error('the listener is closed')
      },
      release: () => {},
      wakeUps: () => new Subscription({ gaps: true }),
      reportError: () => {},
      closed: () => closed,
    }
    const outbox = new Outbox<Row, number>(source, { channel: 'x', read: async () => [], cursor: (r) => r.id })
    expect(await outbox.next()).toEqual({ done: true, value: undefined }) // before: it threw "the listener is closed"
  })
})

describe('its own upkeep', () => {
  test('each read takes its listener off the end signal again: a long life leaves none behind', async () => {
    const w = world()
    for (let id = 1; id <= 20; id++) {
      w.insert(id)
      w.wakeUps.offer(notification())
      await take(w.outbox, 1)
    }
    expect(w.reads.length).toBeGreaterThanOrEqual(20)
    expect(getEventListeners(w.stopSignal(), 'abort')).toHaveLength(1) // the wake-ups' own
  })

  test('ended while its LISTEN was being answered: the channel is released once the answer comes', async () => {
    let answer!: () => void
    const released: string[] = []
    const source: OutboxSource = {
      listen: () => new Promise<void>((resolve) => (answer = resolve)),
      release: (channel) => void released.push(channel),
      wakeUps: () => new Subscription(),
      reportError: () => {},
    }
    const outbox = new Outbox<Row, number>(source, { channel: 'x', read: async () => [], cursor: (r) => r.id })
    const next = outbox.next()
    await tick()
    await outbox.return()
    expect(released).toEqual([])
    answer()
    expect(await next).toEqual({ done: true, value: undefined })
    expect(released).toEqual(['x'])
  })

  test.each([0, -1, Number.NaN])('readTimeout %s is a RangeError', (readTimeout) => {
    expect(() => world({ readTimeout })).toThrow(new RangeError(`readTimeout must be positive, not ${readTimeout}`))
  })
})

describe('defaultCompare', () => {
  test.each([
    [1, 2, -1],
    [2, 1, 1],
    [5n, 5n, 0],
    ['9', '10', -1], // a bigint column read as text: by value, not by character
    ['-3', '2', -1],
    ['b', 'a', 1],
    [3, 4n, -1],
  ] as const)('%s against %s: %s', (a, b, sign) => {
    expect(Math.sign(defaultCompare(a, b))).toBe(sign)
  })

  test.each([[{ id: 1 }], [Number.NaN], [null], [undefined]])('%s is a TypeError: it cannot be ordered without a compare()', (x) => {
    expect(() => defaultCompare(x, 1)).toThrow(TypeError)
    expect(() => defaultCompare(1, x)).toThrow(/numbers, bigints or strings/)
  })

  test('a string against a number is a TypeError naming both', () => {
    expect(() => defaultCompare('a', 1)).toThrow(TypeError)
    expect(() => defaultCompare('a', 1)).toThrow(/a and 1/)
  })
})
