/**
 * Delivery and backpressure without a socket: `setReading` records what the socket would be
 * told. Each test names the bug it catches: notifications dropped for lack of a consumer, a
 * pause that comes late or never, a reply that cannot be read, an abandoned iterator that
 * stalls everyone forever.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { Delivery, type Watermarks } from '../../../src/listener/delivery.ts'
import { ConsumerStalledError } from '../../../src/listener/errors.ts'
import { EventHub } from '../../../src/listener/events.ts'
import type { ListenerEvents } from '../../../src/listener/listener-types.ts'
import { Subscription, type Gap, type ListenerItem, type Notification } from '../../../src/listener/subscription.ts'

const note = (payload: string, channel = 'a'): Notification => ({ type: 'NotificationResponse', processId: 1, channel, payload })

function setup(options: Watermarks = {}) {
  const errors: Error[] = []
  let delivery!: Delivery
  const events = new EventHub<ListenerEvents>((e) => errors.push(e as Error), () => delivery.settled())
  events.on('error', (e) => void errors.push(e))
  delivery = new Delivery(events, options)
  const reading: boolean[] = []
  delivery.attach((paused) => reading.push(!paused))
  const iterator = (extra: ConstructorParameters<typeof Subscription>[0] = {}) => {
    const s = new Subscription({ ...extra, onDrain: (sub) => delivery.drained(sub) })
    delivery.subscribe(s)
    return s
  }
  /** Whether the socket is being read, as last told. */
  const isReading = () => reading.at(-1) ?? true
  return { delivery, events, errors, reading, isReading, iterator }
}

async function read(s: Subscription, n: number): Promise<ListenerItem[]> {
  const items: ListenerItem[] = []
  for (let i = 0; i < n; i++) items.push((await s.next()).value as ListenerItem)
  return items
}

const payloads = (items: ListenerItem[]) => items.map((i) => (i.type === 'Gap' ? 'Gap' : i.payload))

describe('nobody consuming yet', () => {
  test('notifications are held for the first iterator, in order (listen, refresh, then iterate)', async () => {
    const { delivery, iterator } = setup()
    for (let i = 0; i < 5; i++) delivery.deliver(note(String(i)))
    expect(delivery.backlog()).toBe(5)
    const first = iterator()
    const second = iterator()
    expect(payloads(await read(first, 5))).toEqual(['0', '1', '2', '3', '4'])
    expect(second.length).toBe(0) // only the first consumer takes what was held
    delivery.deliver(note('5'))
    expect(payloads(await read(second, 1))).toEqual(['5'])
  })

  test('held notifications count for backpressure: at the high-water mark the socket pauses', () => {
    const { delivery, isReading } = setup({ highWaterMark: 4, lowWaterMark: 1 })
    for (let i = 0; i < 3; i++) delivery.deliver(note(String(i)))
    expect(isReading()).toBe(true)
    delivery.deliver(note('3'))
    expect(isReading()).toBe(false)
  })

  test('a Gap while nobody consumes is held too, in its place', async () => {
    const { delivery, iterator } = setup()
    delivery.deliver(note('before'))
    const gap: Gap = { type: 'Gap', from: new Date(0), to: new Date(1), cause: undefined }
    delivery.gap(gap)
    delivery.deliver(note('after'))
    expect(payloads(await read(iterator(), 3))).toEqual(['before', 'Gap', 'after'])
  })

  test('the first notification handler takes what was held; the held Gap becomes a gap event', async () => {
    const { delivery, events } = setup()
    delivery.deliver(note('1'))
    delivery.gap({ type: 'Gap', from: new Date(0), to: new Date(1), cause: undefined })
    delivery.deliver(note('2'))
    const heard: string[] = []
    events.on('gap', () => void heard.push('Gap'))
    events.on('notification', (n) => void heard.push(n.payload))
    delivery.handlerAdded()
    expect(heard).toEqual(['1', 'Gap', '2'])
    expect(delivery.backlog()).toBe(0)
  })

  test('an iterator with channels takes only its channels from what was held; the rest waits for its own consumer', async () => {
    const { delivery, iterator } = setup()
    delivery.deliver(note('x', 'a'))
    delivery.deliver(note('y', 'b'))
    const only = iterator({ channels: new Set(['b']) })
    expect(payloads(await read(only, 1))).toEqual(['y'])
    expect(only.length).toBe(0)
    expect(delivery.backlog()).toBe(1)
    const rest = iterator()
    expect(payloads(await read(rest, 1))).toEqual(['x'])
    expect(delivery.backlog()).toBe(0)
  })

  test('what no existing consumer takes is held too (a feed on another channel is no consumer of this one)', async () => {
    const { delivery, iterator } = setup()
    const feed = iterator({ channels: new Set(['feed']) })
    delivery.deliver(note('orders 1', 'orders'))
    delivery.deliver(note('feed 1', 'feed'))
    const orders = iterator({ channels: new Set(['orders']) })
    expect(payloads(await read(orders, 1))).toEqual(['orders 1'])
    expect(payloads(await read(feed, 1))).toEqual(['feed 1'])
  })

  test('when a consumer takes part of what held the socket, the socket is read again if that was enough', async () => {
    const { delivery, reading, iterator } = setup({ highWaterMark: 4, lowWaterMark: 2, stallTimeout: false })
    for (const channel of ['a', 'b', 'a', 'b']) delivery.deliver(note('x', channel))
    expect(reading).toEqual([false])
    iterator({ channels: new Set(['a']) }) // takes 2: now 2 behind here, 2 held
    expect(reading).toEqual([false, true])
  })

  test('a held Gap with nothing after it goes to the first consumer only', async () => {
    const { delivery, iterator } = setup()
    delivery.gap({ type: 'Gap', from: new Date(0), to: new Date(1), cause: undefined })
    expect(payloads(await read(iterator(), 1))).toEqual(['Gap'])
    expect(iterator().length).toBe(0)
  })

})

describe('watermarks', () => {
  test('the socket pauses at exactly highWaterMark and reads again at lowWaterMark', async () => {
    const { delivery, reading, iterator } = setup({ highWaterMark: 10, lowWaterMark: 3 })
    const s = iterator()
    for (let i = 0; i < 9; i++) delivery.deliver(note(String(i)))
    expect(reading).toEqual([])
    delivery.deliver(note('9'))
    expect(reading).toEqual([false])
    expect(delivery.paused).toBe(true)
    await read(s, 6) // 4 left
    expect(reading).toEqual([false])
    await read(s, 1) // 3 left
    expect(reading).toEqual([false, true])
    expect(delivery.stats).toMatchObject({ pauses: 1, maxBacklog: 10 })
  })

  test('a reply awaited overrides the pause, up to 4 × highWaterMark, with hysteresis', async () => {
    const { delivery, reading, iterator } = setup({ highWaterMark: 10, lowWaterMark: 3 })
    expect(delivery.maxBacklog).toBe(40)
    const s = iterator()
    delivery.beginQuery()
    for (let i = 0; i < 39; i++) delivery.deliver(note(String(i)))
    expect(reading).toEqual([]) // past highWaterMark: still read, so the reply can come
    delivery.deliver(note('39'))
    expect(reading).toEqual([false]) // but never past 4 × highWaterMark
    await read(s, 1) // 39: not yet
    expect(reading).toEqual([false])
    await read(s, 6) // 33 = 40 - (10 - 3)
    expect(reading).toEqual([false, true])
    delivery.endQuery()
    expect(reading).toEqual([false, true, false]) // the plain rule again: 33 is past highWaterMark
  })

  test('ending the query resumes nothing by itself when nobody is behind, and pauses when someone is', () => {
    const { delivery, reading, iterator } = setup({ highWaterMark: 2, lowWaterMark: 0 })
    iterator()
    delivery.beginQuery()
    delivery.deliver(note('1'))
    delivery.deliver(note('2'))
    expect(reading).toEqual([])
    delivery.endQuery()
    expect(reading).toEqual([false])
  })

  test('the slowest iterator decides; an ended one stops counting', async () => {
    const { delivery, reading, iterator } = setup({ highWaterMark: 3, lowWaterMark: 1 })
    const fast = iterator()
    const slow = iterator()
    for (let i = 0; i < 3; i++) delivery.deliver(note(String(i)))
    await read(fast, 3)
    expect(reading).toEqual([false])
    slow.end()
    expect(reading).toEqual([false, true])
  })

  test('async handlers count while their promises are pending', async () => {
    const { delivery, events, reading } = setup({ highWaterMark: 2, lowWaterMark: 0 })
    const release: (() => void)[] = []
    events.on('notification', () => new Promise<void>((r) => release.push(r)))
    delivery.deliver(note('1'))
    delivery.deliver(note('2'))
    expect(reading).toEqual([false])
    release.forEach((r) => r())
    await new Promise((r) => setTimeout(r, 0))
    expect(reading).toEqual([false, true])
  })

  test('watermarks are checked', () => {
    const events = new EventHub<ListenerEvents>(() => {})
    expect(() => new Delivery(events, { highWaterMark: 0 })).toThrow(RangeError)
    expect(() => new Delivery(events, { highWaterMark: 4, lowWaterMark: 4 })).toThrow(RangeError)
    expect(() => new Delivery(events, { highWaterMark: 4.5 })).toThrow(RangeError)
    expect(() => new Delivery(events, { stallTimeout: 0 })).toThrow(RangeError)
    expect(() => new Delivery(events, { stallTimeout: false })).not.toThrow()
  })
})

describe('a consumer that stops reading', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  test('an abandoned iterator is cut off after stallTimeout: named in an error, the others go on, and it gets a Gap when it reads again', async () => {
    const { delivery, errors, reading, iterator } = setup({ highWaterMark: 4, lowWaterMark: 1, stallTimeout: 1000 })
    const abandoned = iterator({ channels: new Set(['a']) })
    const live = iterator()
    delivery.confirmedAt = new Date(Date.now() - 5)
    const from = delivery.confirmedAt
    for (let i = 0; i < 4; i++) delivery.deliver(note(String(i)))
    await read(live, 4)
    expect(reading).toEqual([false])
    vi.advanceTimersByTime(999)
    expect(errors).toEqual([])
    vi.advanceTimersByTime(1)
    expect(errors).toHaveLength(1)
    const error = errors[0] as ConsumerStalledError
    expect(error).toBeInstanceOf(ConsumerStalledError)
    expect(error.consumer).toBe(abandoned.name)
    expect(error.behind).toBe(4)
    expect(error.message).toContain(abandoned.name)
    expect(reading).toEqual([false, true]) // the live one is no longer held back
    expect(delivery.stats.stalls).toBe(1)
    for (let i = 4; i < 8; i++) delivery.deliver(note(String(i)))
    expect(payloads(await read(live, 4))).toEqual(['4', '5', '6', '7'])
    const back = await read(abandoned, 5)
    expect(payloads(back)).toEqual(['0', '1', '2', '3', 'Gap'])
    expect((back[4] as Gap).from).toBe(from)
    expect((back[4] as Gap).cause).toBe(error)
    delivery.deliver(note('8'))
    expect(payloads(await read(abandoned, 1))).toEqual(['8'])
  })

  test('a slow iterator that keeps reading is never cut off', async () => {
    const { delivery, errors, iterator } = setup({ highWaterMark: 4, lowWaterMark: 1, stallTimeout: 1000 })
    const slow = iterator()
    for (let round = 0; round < 20; round++) {
      while (!delivery.paused) delivery.deliver(note(String(round)))
      vi.advanceTimersByTime(900)
      await read(slow, 1) // one read every 900 ms: slow, but reading
    }
    expect(errors).toEqual([])
    expect(slow.cutOff).toBe(false)
  })

  test('time spent not holding the socket does not count: the stall is measured from the pause', async () => {
    const { delivery, errors, iterator } = setup({ highWaterMark: 2, lowWaterMark: 0, stallTimeout: 1000 })
    const s = iterator()
    vi.advanceTimersByTime(5000) // idle, but holding nothing
    delivery.deliver(note('1'))
    delivery.deliver(note('2'))
    vi.advanceTimersByTime(999)
    expect(errors).toEqual([])
    expect(s.cutOff).toBe(false)
    vi.advanceTimersByTime(1)
    expect(s.cutOff).toBe(true)
  })

  test('held notifications that nobody takes for stallTimeout: reported, later ones dropped, the first consumer gets a Gap', async () => {
    const { delivery, errors, reading, iterator } = setup({ highWaterMark: 2, lowWaterMark: 0, stallTimeout: 1000 })
    delivery.deliver(note('1'))
    delivery.deliver(note('2'))
    expect(reading).toEqual([false])
    vi.advanceTimersByTime(1000)
    expect((errors[0] as ConsumerStalledError).consumer).toBe('no consumer')
    expect(reading).toEqual([false, true])
    delivery.deliver(note('dropped'))
    const s = iterator()
    expect(payloads(await read(s, 3))).toEqual(['1', '2', 'Gap'])
  })

  test('async handlers that never settle stop counting after stallTimeout', async () => {
    const { delivery, events, errors, reading } = setup({ highWaterMark: 2, lowWaterMark: 0, stallTimeout: 1000 })
    events.on('notification', () => new Promise(() => {}))
    delivery.deliver(note('1'))
    delivery.deliver(note('2'))
    vi.advanceTimersByTime(1000)
    expect((errors[0] as ConsumerStalledError).consumer).toBe("'notification' handlers")
    expect(events.pending).toBe(0)
    expect(reading).toEqual([false, true])
  })

  test('with stallTimeout: false, nobody is ever cut off', async () => {
    const { delivery, errors, iterator } = setup({ highWaterMark: 2, lowWaterMark: 0, stallTimeout: false })
    const s = iterator()
    delivery.deliver(note('1'))
    delivery.deliver(note('2'))
    vi.advanceTimersByTime(10 * 60_000)
    expect(errors).toEqual([])
    expect(s.cutOff).toBe(false)
  })
})

describe('the end', () => {
  test('fail(): every iterator reads what it has, then throws the error', async () => {
    const { delivery, iterator } = setup()
    const s = iterator()
    delivery.deliver(note('last'))
    const error = new Error('gave up')
    delivery.fail(error)
    expect(payloads(await read(s, 1))).toEqual(['last'])
    await expect(s.next()).rejects.toBe(error)
  })

  test('end(): every iterator is done at once, and what was held is dropped', async () => {
    const { delivery, iterator } = setup()
    const s = iterator()
    delivery.deliver(note('dropped'))
    delivery.end()
    expect(await s.next()).toEqual({ value: undefined, done: true })
  })
})
