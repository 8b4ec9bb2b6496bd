/**
 * A Gap is said once per consumer per loss, against the real server: the listening backend is
 * terminated from a second connection, and each consumer (the 'gap' handlers, each iterator)
 * is counted for how often it hears of that one reconnect. The first three failed before the
 * fix (what is held notes which 'gap' handlers heard each Gap); the others hold what was found
 * right when looked for: close(), break, unlisten() and listen(), a slow consumer.
 */
import { describe, expect, test } from 'vitest'
import type { Listener } from '../../src/index.ts'
import type { Gap, ListenerItem } from '../../src/listener/subscription.ts'
import { quoteLiteral } from '../../src/listener/sql.ts'
import { connectSuperuser, eventually } from '../support/connect.ts'
import { listener, uniqueChannel } from '../support/listener.ts'

const fast = { reconnect: { minDelay: 20, maxDelay: 200 } }

/** Terminates the listening backend and resolves with the reconnect's Gap, once the new connection listens. */
async function reconnect(l: Listener): Promise<Gap> {
  const reconnected = new Promise<Gap>((resolve) => {
    const off = l.on('reconnected', (gap) => {
      off()
      resolve(gap)
    })
  })
  const admin = await connectSuperuser()
  await admin.query(`SELECT pg_terminate_backend(${l.processId})`)
  await admin.close()
  return reconnected
}

const label = (item: ListenerItem) => (item.type === 'Gap' ? 'Gap' : item.payload)

describe("'gap' handlers hear a reconnect's Gap once", () => {
  test('when a notification handler comes after the reconnect and takes what was held', async () => {
    const l = await listener(fast)
    const channel = uniqueChannel()
    await l.listen(channel)
    const gaps: Gap[] = []
    l.on('gap', (gap) => void gaps.push(gap))
    await l.notify(channel, 'before')
    await eventually(() => l.stats.notifications === 1) // held: nobody consumes the channel yet
    const gap = await reconnect(l)
    expect(gaps).toEqual([gap])
    await l.notify(channel, 'after')
    await eventually(() => l.stats.notifications === 2)
    const heard: string[] = []
    l.on('notification', (n) => void heard.push(n.payload))
    await null // what was held comes once on() has returned
    expect(heard).toEqual(['before', 'after'])
    expect(gaps).toEqual([gap]) // before the fix: [gap, gap], the held copy said again
  })

  test("and one added after the reconnect hears it, once, when a notification handler takes what was held (refresh, then handlers)", async () => {
    const l = await listener(fast)
    const channel = uniqueChannel()
    await l.listen(channel)
    const early: Gap[] = []
    l.on('gap', (gap) => void early.push(gap))
    const gap = await reconnect(l) // while the application refreshed its state, say
    const late: Gap[] = []
    l.on('gap', (gap) => void late.push(gap))
    l.on('notification', () => {})
    await null // what was held comes once on() has returned
    expect(late).toEqual([gap]) // it did not hear it when it came: it is owed it
    expect(early).toEqual([gap])
  })

  test("when a 'connected' handler adds the notification handler, before the Gap is said", async () => {
    const l = await listener(fast)
    const channel = uniqueChannel()
    await l.listen(channel)
    const heard: string[] = []
    l.on('gap', () => void heard.push('Gap'))
    await l.notify(channel, 'before')
    await eventually(() => l.stats.notifications === 1)
    l.on('connected', () => void l.on('notification', (n) => void heard.push(n.payload)))
    await reconnect(l)
    expect(heard).toEqual(['before', 'Gap']) // before the fix: ['Gap', 'before', 'Gap']
  })

  // Found by review: the only 'gap' handler's list was walked live, so a handler it added heard
  // the Gap then, though the record of who heard it was taken before; and heard again later.
  test("one added by the only 'gap' handler, as the Gap is said, hears it once", async () => {
    const l = await listener(fast)
    await l.listen(uniqueChannel())
    const second: Gap[] = []
    let added = false
    l.on('gap', () => {
      if (added) return
      added = true
      l.on('gap', (gap) => void second.push(gap))
    })
    const gap = await reconnect(l)
    l.on('notification', () => {})
    await null // what was held comes once on() has returned
    expect(second).toEqual([gap]) // before the fix: [gap, gap]
  })

  // Found by review: two held Gaps were merged when the lists of who heard them had the same
  // length and the same last handler, so a handler that heard only the second was never told
  // of the first.
  test("two held Gaps heard by different 'gap' handlers (the same number, the same last one) stay two", async () => {
    const l = await listener(fast)
    await l.listen(uniqueChannel())
    const last = () => undefined
    const offFirst = l.on('gap', () => undefined)
    let offLast = l.on('gap', last)
    const first = await reconnect(l)
    offFirst()
    offLast()
    const between: Gap[] = []
    l.on('gap', (gap) => void between.push(gap))
    offLast = l.on('gap', last)
    const second = await reconnect(l)
    expect(between).toEqual([second])
    l.on('notification', () => {})
    await null // what was held comes once on() has returned
    expect(between).toEqual([second, first]) // it is owed the first; before the fix: only [second]
  })
})

describe('close() while a reconnect is under way, with notifications held for a consumer not yet come', () => {
  test.each(['disconnected', 'reconnecting'] as const)('called on %s: it resolves, nothing reaches a consumer afterwards, and no Gap is said', async (when) => {
    const l = await listener(fast)
    const channel = uniqueChannel()
    await l.listen(channel)
    await l.notify(channel, 'held')
    await eventually(() => l.stats.notifications === 1)
    const after: string[] = []
    const errors: Error[] = []
    l.on('gap', () => void after.push('Gap'))
    l.on('error', (e) => void errors.push(e))
    let closing: Promise<void> | undefined
    l.on(when, () => void (closing ??= l.close()))
    const admin = await connectSuperuser()
    await admin.query(`SELECT pg_terminate_backend(${l.processId})`)
    await admin.close()
    await eventually(() => closing !== undefined)
    await closing
    l.on('notification', (n) => void after.push(n.payload))
    expect(await l.notifications().next()).toEqual({ value: undefined, done: true })
    expect(l.stats.state).toBe('closed')
    expect(after).toEqual([])
    expect(errors).toEqual([])
  })
})

describe('unlisten() then listen() on the same channel during a reconnect', () => {
  test.each([
    ['an iterator of the channel already reading', true],
    ['its first consumer, coming after', false],
  ] as const)('%s: one Gap, then what is notified after (the server listens on it again)', async (_, early) => {
    const l = await listener(fast)
    const channel = uniqueChannel()
    await l.listen(channel)
    const iterator = early ? l.notifications({ channels: [channel] }) : undefined
    await l.notify(channel, 'before') // the iterator's; for a consumer not yet come, let go by unlisten()
    await eventually(() => l.stats.notifications === 1)
    let calls: Promise<unknown> | undefined
    l.on('disconnected', () => void (calls ??= Promise.all([l.unlisten(channel), l.listen(channel)])))
    const gap = await reconnect(l)
    await calls
    expect(l.channels).toEqual(new Set([channel]))
    await l.notify(channel, 'after')
    const items: string[] = []
    for await (const item of iterator ?? l.notifications({ channels: [channel] })) {
      items.push(label(item))
      if (item.type === 'Gap') expect(item).toEqual(gap)
      if (item.type !== 'Gap' && item.payload === 'after') break
    }
    expect(items).toEqual(early ? ['before', 'Gap', 'after'] : ['Gap', 'after'])
  })
})

describe('two consumers on one channel, one slow, across a reconnect', () => {
  /** Reads until `end`, noting payloads and Gaps (by their cause's class). */
  async function readAll(iterator: AsyncIterableIterator<ListenerItem>): Promise<string[]> {
    const items: string[] = []
    for await (const item of iterator) {
      items.push(item.type === 'Gap' ? `Gap ${item.cause?.name}` : item.payload)
      if (item.type !== 'Gap' && item.payload === 'end') break
    }
    return items
  }
  const numbers = (n: number) => Array.from({ length: n }, (_, i) => String(i + 1))

  test.each([
    ['the slow one holds the socket paused when the backend goes (then reads all 30)', 'paused', ['Gap ConnectionLostError']],
    ['the slow one was cut off (stallTimeout) and reads again after the reconnect: its cut covers it', 'after', ['Gap ConsumerStalledError']],
    ['the slow one was cut off and reads up while the listener is disconnected: the stall, then the loss', 'during', ['Gap ConsumerStalledError', 'Gap ConnectionLostError']],
  ] as const)('%s: each gets its own Gap once', async (_, when, slowGaps) => {
    const l = await listener({ ...fast, highWaterMark: 10, lowWaterMark: 2, stallTimeout: when === 'paused' ? false : 200 })
    const channel = uniqueChannel()
    await l.listen(channel)
    const gaps: Gap[] = []
    l.on('gap', (gap) => void gaps.push(gap))
    const stalled = new Promise((resolve) => l.on('error', resolve))
    const slow = l.notifications({ channels: [channel] })
    const fastItems = readAll(l.notifications({ channels: [channel] }))
    const c = await connectSuperuser()
    await c.query(`SELECT pg_notify('${channel}', i::text) FROM generate_series(1, 30) i`)
    await c.close()
    await eventually(() => l.stats.paused)
    if (when !== 'paused') {
      await stalled
      await eventually(() => !l.stats.paused && l.stats.notifications === 30)
    }
    let slowItems: Promise<string[]> | undefined
    // Reading resumes a paused socket: the loss is found then. Read on 'disconnected', the slow
    // one's queue and its cut's Gap are read (microtasks) before the reconnect's first timer.
    if (when !== 'after') l.on('disconnected', () => void (slowItems ??= readAll(slow)))
    const reconnected = new Promise((resolve) => l.on('reconnected', resolve))
    const admin = await connectSuperuser()
    await admin.query(`SELECT pg_terminate_backend(${l.processId})`)
    await admin.close()
    if (when === 'paused') {
      expect(l.stats.paused).toBe(true) // the loss waits in the socket, behind what the slow one has not read
      slowItems = readAll(slow)
    }
    await reconnected
    slowItems ??= readAll(slow)
    await l.notify(channel, 'end')
    const [a, b] = await Promise.all([fastItems, slowItems])
    expect(gaps).toHaveLength(1)
    expect(a).toEqual([...numbers(30), 'Gap ConnectionLostError', 'end'])
    expect(b).toEqual([...numbers(when === 'paused' ? 30 : 10), ...slowGaps, 'end'])
  })
})

describe('an iterator that breaks out of its loop while a Gap is held for it', () => {
  test('it took the held Gap with what was held: the next iterator gets neither again, only what comes after, and nothing is held back', async () => {
    const l = await listener(fast)
    const channel = uniqueChannel()
    await l.listen(channel)
    await l.notify(channel, 'before')
    await eventually(() => l.stats.notifications === 1)
    await reconnect(l) // its Gap is held with 'before', for the channel's first consumer
    const first: string[] = []
    for await (const item of l.notifications({ channels: [channel] })) {
      first.push(label(item))
      break // the Gap is still queued for it
    }
    expect(first).toEqual(['before'])
    expect(l.stats.backlog).toBe(0)
    await l.notify(channel, 'after')
    const second: ListenerItem[] = []
    for await (const item of l.notifications({ channels: [channel] })) {
      second.push(item)
      break
    }
    expect(second.map(label)).toEqual(['after']) // held while nobody consumed, and no Gap a second time
  })
})

// Found by review: close() called from one of several handlers stopped nothing the event under
// way had yet to call, nor the events said after it ('reconnected', then 'gap').
describe('close() from a handler: nothing more reaches handlers', () => {
  test('from the first of two notification handlers: the second does not hear that notification', async () => {
    const l = await listener(fast)
    const channel = uniqueChannel()
    await l.listen(channel)
    const after: string[] = []
    let closed = false
    l.on('notification', () => {
      closed = true
      void l.close()
    })
    l.on('notification', (n) => void (closed && after.push(n.payload)))
    // Sent from a connection of its own: the handler's close() may come before notify()'s own
    // answer, and ends the notifier's connection under it (this test failed so, by chance).
    const admin = await connectSuperuser()
    await admin.query(`SELECT pg_catalog.pg_notify(${quoteLiteral(channel)}, 'x')`)
    await admin.close()
    await eventually(() => closed)
    expect(after).toEqual([]) // before the fix: ['x']
  })

  // Found by review: the 'gap' handlers owed a held Gap were emitted to as a copy of their list,
  // which close() did not empty, so the second still heard it.
  test("from the first of two 'gap' handlers told of a held Gap: the second does not hear it", async () => {
    const l = await listener(fast)
    await l.listen(uniqueChannel())
    await reconnect(l) // nobody consumes the channel: its Gap is held
    const heard: string[] = []
    l.on('gap', () => {
      heard.push('first')
      void l.close()
    })
    l.on('gap', () => void heard.push('second'))
    l.on('notification', () => {}) // takes what was held, the Gap to the 'gap' handlers
    await null // what was held comes once on() has returned
    await l.close()
    expect(heard).toEqual(['first']) // before the fix: ['first', 'second']
  })

  test("from a 'reconnected' handler: no other 'reconnected' handler, and no 'gap' handler, hears of it", async () => {
    const l = await listener(fast)
    await l.listen(uniqueChannel())
    const heard: string[] = []
    l.on('reconnected', () => {
      heard.push('reconnected')
      void l.close()
    })
    l.on('reconnected', () => void heard.push('reconnected, the second handler'))
    l.on('gap', () => void heard.push('gap'))
    const admin = await connectSuperuser()
    await admin.query(`SELECT pg_terminate_backend(${l.processId})`)
    await admin.close()
    await eventually(() => l.stats.state === 'closed')
    await l.close()
    expect(heard).toEqual(['reconnected']) // before the fix: all three
  })
})
