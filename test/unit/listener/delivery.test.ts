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
import { deliverySetup } from '../../support/delivery.ts'

const note = (payload: string, channel = 'a'): Notification => ({ type: 'NotificationResponse', processId: 1, channel, payload })

/** Collected errors, the channels a and b listened on: see test/support/delivery.ts. */
const setup = (options: Watermarks = {}) => deliverySetup(options)

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

  test('a notification handler added and not yet given what was held (handlerAdded() runs once on() has returned) hears it before whatever comes first: a notification, a Gap, an iterator, an UNLISTEN', async () => {
    for (const comes of ['notification', 'gap', 'iterator', 'unlisten'] as const) {
      const { delivery, events, iterator } = setup()
      delivery.deliver(note('held'))
      const heard: string[] = []
      events.on('gap', () => void heard.push('Gap'))
      events.on('notification', (n) => void heard.push(n.payload))
      if (comes === 'notification') delivery.deliver(note('new'))
      if (comes === 'gap') delivery.gap({ type: 'Gap', from: new Date(0), to: new Date(1), cause: undefined })
      const later = comes === 'iterator' ? iterator({ channels: new Set(['a']) }) : undefined
      if (comes === 'unlisten') ((delivery.listened = new Set(['b'])), delivery.unlistened())
      expect(heard, comes).toEqual(['held', ...(comes === 'notification' ? ['new'] : comes === 'gap' ? ['Gap'] : [])])
      if (later) expect(later.length, 'what the handler took is not the iterator\'s too').toBe(0)
      delivery.handlerAdded() // its turn comes: nothing is told twice
      expect(heard.filter((h) => h === 'held'), comes).toEqual(['held'])
      expect(delivery.backlog(), comes).toBe(0)
    }
  })

  test("a 'gap' handler that heard the Gap, removed and added again, is not told it twice when a 'notification' handler comes", () => {
    const { delivery, events } = setup()
    delivery.deliver(note('1'))
    const heard: string[] = []
    const onGap = () => void heard.push('Gap')
    const off = events.on('gap', onGap)
    const gap: Gap = { type: 'Gap', from: new Date(0), to: new Date(1), cause: undefined }
    delivery.gap(gap) // as the listener does: held notes who heard it, then the event
    off()
    events.on('gap', onGap) // a new registration of the same function, which heard it
    events.on('gap', () => void heard.push('Gap to the newcomer'))
    events.on('notification', (n) => void heard.push(n.payload))
    delivery.handlerAdded()
    expect(heard).toEqual(['Gap', '1', 'Gap to the newcomer'])
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
    delivery.listened = new Set(['orders', 'feed'])
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

// What is held is, for each channel nobody consumes, its consumer's past: its notifications, and
// every Gap since (a reconnect may have lost some of them). It must reach that consumer, however
// many consumers of other channels come and go first.
describe('channels listened on that nobody consumes yet', () => {
  const lost = (): Gap => ({ type: 'Gap', from: new Date(0), to: new Date(1), cause: new Error('lost') })
  const channels = (...names: string[]) => ({ channels: new Set(names) })

  test('a Gap between two held notifications stays between them when a consumer of another channel takes its share first', async () => {
    const { delivery, iterator } = setup()
    delivery.listened = new Set(['a', 'b'])
    delivery.deliver(note('1', 'b')) // nobody consumes b: held
    iterator(channels('a'))
    delivery.gap(lost()) // a reconnect: b's notifications in it may be lost
    iterator(channels('a')) // another consumer of a takes its part of what is held: nothing of b
    delivery.deliver(note('2', 'b'))
    expect(payloads(await read(iterator(channels('b')), 3))).toEqual(['1', 'Gap', '2'])
  })

  test('a Gap with nothing held is kept for the first consumer of a channel nobody consumed, not for a newcomer on a consumed one', async () => {
    const { delivery, iterator } = setup()
    delivery.listened = new Set(['a', 'b'])
    const a = iterator(channels('a'))
    delivery.gap(lost()) // nothing held, but a notification on b in it would have been held for b's consumer
    expect(a.length).toBe(1)
    expect(iterator(channels('a')).length).toBe(0) // a was consumed all along: not its past
    delivery.deliver(note('after', 'b'))
    expect(payloads(await read(iterator(channels('b')), 2))).toEqual(['Gap', 'after'])
    expect(iterator(channels('b')).length).toBe(0) // b has a consumer now: nothing is kept any more
    await read(a, 1)
    expect(delivery.backlog()).toBe(0) // nothing held
  })

  test('once every channel listened on has a consumer, a Gap is no longer kept', () => {
    const { delivery, iterator } = setup()
    delivery.listened = new Set(['a', 'b'])
    iterator(channels('a'))
    iterator(channels('b'))
    delivery.gap(lost())
    expect(iterator().length).toBe(0)
    expect(delivery.backlog()).toBe(1) // the two iterators' Gaps, unread
  })

  test('a feed\'s channel (hidden) is never waiting for a consumer: a Gap is not kept for it', () => {
    const { delivery, iterator } = setup()
    delivery.listened = new Set(['a', 'feed'])
    delivery.hidden = new Set(['feed'])
    iterator(channels('a'))
    delivery.gap(lost())
    expect(iterator().length).toBe(0)
  })

  test('with a notification handler every channel is consumed: a Gap is its gap event, not kept', () => {
    const { delivery, events, iterator } = setup()
    delivery.listened = new Set(['a', 'b'])
    events.on('notification', () => {})
    delivery.gap(lost())
    expect(iterator(channels('b')).length).toBe(0)
  })

  test('a Gap is not kept for a channel that had a consumer then: a later consumer of it, after that one left, gets none', () => {
    const { delivery, iterator } = setup()
    delivery.listened = new Set(['a', 'b'])
    const first = iterator(channels('a'))
    delivery.gap(lost()) // first has it; it is kept for b's first consumer only
    void first.return()
    for (let i = 0; i < 3; i++) {
      const next = iterator(channels('a')) // short-lived consumers, one per request say
      expect(next.length).toBe(0)
      void next.return()
    }
    expect(iterator(channels('b')).length).toBe(1) // b's first consumer still gets it
  })

  test('a Gap kept for a channel\'s first consumer is no backlog: the socket is read again once the consumers have read (lowWaterMark 0)', async () => {
    const { delivery, isReading, iterator } = setup({ highWaterMark: 4, lowWaterMark: 0, stallTimeout: false })
    delivery.listened = new Set(['a', 'b'])
    const a = iterator(channels('a'))
    delivery.gap(lost()) // kept for b's first consumer
    for (let i = 0; i < 4; i++) delivery.deliver(note(String(i), 'a'))
    expect(isReading()).toBe(false)
    await read(a, 5) // the Gap and the four
    expect(delivery.backlog()).toBe(0)
    expect(isReading()).toBe(true) // with stallTimeout false, nothing else would ever resume it
  })

  test('a Gap kept for a channel\'s first consumer is never reported as waiting notifications', async () => {
    vi.useFakeTimers()
    try {
      const { delivery, errors, isReading, iterator } = setup({ highWaterMark: 2, stallTimeout: 1000 })
      delivery.listened = new Set(['a', 'b'])
      const a = iterator(channels('a'))
      delivery.gap(lost())
      delivery.deliver(note('1', 'a'))
      delivery.deliver(note('2', 'a'))
      await read(a, 3)
      vi.advanceTimersByTime(1000)
      expect(errors).toEqual([])
      expect(isReading()).toBe(true)
    } finally {
      vi.useRealTimers()
    }
  })

  test('with highWaterMark 1, a new consumer of a consumed channel does not pause the socket for a Gap kept for another channel', async () => {
    const { delivery, isReading, iterator } = setup({ highWaterMark: 1, stallTimeout: false })
    delivery.listened = new Set(['a', 'b'])
    const first = iterator(channels('a'))
    delivery.gap(lost())
    await read(first, 1)
    expect(isReading()).toBe(true)
    expect(iterator(channels('a')).length).toBe(0)
    expect(isReading()).toBe(true)
  })

  test('a change feed on a channel of the user\'s takes nothing held and is no consumer of the user\'s: what comes meanwhile, and the Gaps, are held too', async () => {
    const { delivery, iterator } = setup()
    delivery.deliver(note('before', 'a'))
    const feed = iterator({ channels: new Set(['a']), feed: true })
    expect(feed.length).toBe(0) // before the fix: it took 'before'
    delivery.deliver(note('during', 'a'))
    expect(feed.length).toBe(1) // the feed hears it too
    delivery.gap(lost())
    expect(payloads(await read(iterator(channels('a')), 3))).toEqual(['before', 'during', 'Gap'])
  })

  test('a change feed made after the listener gave up gets its error, and leaves what was held for the user\'s first iterator', async () => {
    const { delivery, iterator } = setup()
    delivery.deliver(note('held', 'a'))
    const error = new Error('gave up')
    delivery.fail(error)
    const feed = new Subscription({ channels: new Set(['a']), feed: true })
    delivery.failLate(feed, error)
    await expect(feed.next()).rejects.toBe(error)
    const late = new Subscription({ channels: new Set(['a']) })
    delivery.failLate(late, error)
    expect(payloads(await read(late, 1))).toEqual(['held'])
  })

  test('unlistened: what was held on the channel is dropped, the socket it held paused is read again, and later ones on it are not held', async () => {
    const { delivery, isReading, iterator } = setup({ highWaterMark: 4, lowWaterMark: 1, stallTimeout: false })
    iterator(channels('a'))
    for (let i = 0; i < 4; i++) delivery.deliver(note(`held ${i}`, 'b')) // nobody consumes b
    expect(isReading()).toBe(false)
    delivery.listened = new Set(['a']) // unlisten(b), as the book says
    delivery.unlistened()
    expect(delivery.backlog()).toBe(0)
    expect(isReading()).toBe(true) // before: paused for good, with stallTimeout false
    delivery.deliver(note('late', 'b')) // sent before the UNLISTEN took effect: nobody wants it
    expect(delivery.backlog()).toBe(0)
    delivery.listened = new Set(['a', 'b']) // listen(b) again: its first consumer gets what comes from now on
    delivery.deliver(note('new', 'b'))
    expect(payloads(await read(iterator(channels('b')), 1))).toEqual(['new'])
  })

  test('unlistened on a channel a change feed still uses: what was held on it for the user\'s consumers is dropped', () => {
    const { delivery } = setup()
    delivery.listened = new Set(['a', 'f'])
    delivery.deliver(note('held', 'f')) // listen(f): nobody consumes it
    delivery.deliver(note('kept', 'a'))
    delivery.hidden = new Set(['f']) // unlisten(f) while a feed on f lives: still listened on, hidden
    delivery.unlistened()
    expect(delivery.backlog()).toBe(1)
  })

  test('unlistened: what is held on the channels still listened on stays, with its Gaps, and the dropped channel gets no stale Gap', async () => {
    const { delivery, iterator } = setup()
    delivery.deliver(note('a1', 'a'))
    delivery.deliver(note('b1', 'b'))
    delivery.gap(lost())
    delivery.deliver(note('a2', 'a'))
    delivery.deliver(note('b2', 'b'))
    delivery.listened = new Set(['a'])
    delivery.unlistened()
    expect(delivery.backlog()).toBe(2)
    expect(payloads(await read(iterator(channels('a')), 3))).toEqual(['a1', 'Gap', 'a2'])
    delivery.listened = new Set(['a', 'b'])
    expect(iterator(channels('b')).length).toBe(0)
  })

  describe('cut off', () => {
    beforeEach(() => void vi.useFakeTimers())
    afterEach(() => void vi.useRealTimers())

    test('held notifications cut off for stallTimeout: each channel\'s consumer is told of what was dropped, not only the first one to come', async () => {
      const { delivery, errors, iterator } = setup({ highWaterMark: 4, lowWaterMark: 1, stallTimeout: 1000 })
      delivery.listened = new Set(['a', 'b'])
      for (const channel of ['a', 'b', 'a', 'b']) delivery.deliver(note('kept', channel))
      vi.advanceTimersByTime(1000) // nobody came: cut off
      expect(errors).toHaveLength(1)
      delivery.deliver(note('dropped', 'a'))
      delivery.deliver(note('dropped', 'b'))
      expect(payloads(await read(iterator(channels('a')), 3))).toEqual(['kept', 'kept', 'Gap'])
      delivery.deliver(note('dropped too', 'b')) // b's notifications still wait: still cut off
      const b = iterator(channels('b'))
      expect(payloads(await read(b, 3))).toEqual(['kept', 'kept', 'Gap'])
      expect(b.length).toBe(0)
      delivery.deliver(note('later', 'b')) // b has a consumer now
      expect(payloads(await read(b, 1))).toEqual(['later'])
    })

    test('held notifications cut off: a consumer of another channel coming does not end the cut while they still wait (no second pause, no second error)', () => {
      const { delivery, errors, reading, iterator } = setup({ highWaterMark: 4, lowWaterMark: 1, stallTimeout: 1000 })
      delivery.listened = new Set(['a', 'b'])
      for (let i = 0; i < 4; i++) delivery.deliver(note(`kept ${i}`, 'b')) // b: nobody consumes it
      vi.advanceTimersByTime(1000) // cut off: read again
      expect(reading).toEqual([false, true])
      for (let i = 0; i < 3; i++) iterator(channels('a')).end() // short-lived consumers of a
      vi.advanceTimersByTime(5000)
      expect(reading).toEqual([false, true])
      expect(errors).toHaveLength(1)
    })

    test('unlistened while cut off for it alone: the cut ends, so what comes on it after a new listen() is held again', async () => {
      const { delivery, errors, iterator } = setup({ highWaterMark: 4, lowWaterMark: 1, stallTimeout: 1000 })
      for (let i = 0; i < 4; i++) delivery.deliver(note('kept', 'b'))
      vi.advanceTimersByTime(1000) // nobody came: cut off
      expect(errors).toHaveLength(1)
      delivery.deliver(note('dropped', 'b'))
      delivery.listened = new Set(['a']) // unlisten(b)
      delivery.unlistened()
      delivery.listened = new Set(['a', 'b']) // listen(b) again
      delivery.deliver(note('new', 'b'))
      const b = iterator(channels('b'))
      expect(payloads(await read(b, 1))).toEqual(['new'])
      expect(b.length).toBe(0)
    })

    test('a Gap also concerns the channels something is held on, listened on or not: the consumer of what was held hears of the loss', async () => {
      const { delivery, iterator } = setup()
      delivery.listened = new Set(['a', 'b'])
      iterator(channels('b'))
      delivery.deliver(note('before', 'a')) // held: nobody consumes a
      delivery.listened = new Set(['b']) // a no longer listened on, though what came on it is held (no unlistened())
      delivery.gap(lost())
      expect(payloads(await read(iterator(channels('a')), 2))).toEqual(['before', 'Gap'])
    })

    test('held notifications cut off: a consumer of another channel, first to come, does not take the Gap away from the one that takes them', async () => {
      const { delivery, iterator } = setup({ highWaterMark: 4, lowWaterMark: 1, stallTimeout: 1000 })
      delivery.listened = new Set(['a', 'z'])
      const z = iterator(channels('z')) // z is consumed all along
      for (let i = 0; i < 4; i++) delivery.deliver(note(`kept ${i}`, 'a'))
      vi.advanceTimersByTime(1000)
      delivery.deliver(note('dropped', 'a'))
      iterator(channels('z')) // takes none of it, and z was consumed: nothing of it is its past
      const a = iterator(channels('a'))
      expect(payloads(await read(a, 5))).toEqual(['kept 0', 'kept 1', 'kept 2', 'kept 3', 'Gap'])
      expect(z.length).toBe(0)
    })
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

  // Found by mutation: with no reconnect ever, a Gap was taken for one whose 'gap' event was
  // under way, and was never told (Delivery's flag starting true survived every test).
  test("held notifications cut off, then a 'notification' handler comes: it takes them, and the 'gap' handlers are told the cut's Gap, which no event told", async () => {
    const { delivery, events, on } = setup({ highWaterMark: 2, lowWaterMark: 0, stallTimeout: 1000 })
    const heard: string[] = []
    events.on('gap', (gap) => void heard.push(`Gap, ${(gap.cause as Error).constructor.name}`))
    delivery.deliver(note('1'))
    delivery.deliver(note('2'))
    vi.advanceTimersByTime(1000) // nobody came: cut off
    delivery.deliver(note('dropped'))
    on((n) => void heard.push(n.payload))
    await Promise.resolve() // on()'s release
    expect(heard).toEqual(['1', '2', 'Gap, ConsumerStalledError'])
  })

  // Found by mutation: nothing showed that an ended iterator leaves delivery's list.
  test('an iterator that ended is no longer offered anything: a thousand short-lived ones cost the hot path nothing', async () => {
    const { delivery, iterator } = setup()
    const live = iterator(['a'])
    for (let i = 0; i < 1000; i++) await iterator(['a']).return() // as request handlers might make them
    const offer = vi.spyOn(Subscription.prototype, 'offer')
    try {
      delivery.deliver(note('1'))
      expect(offer.mock.contexts).toEqual([live])
    } finally {
      offer.mockRestore()
    }
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

  test('handlers already waiting keep their stall clock when another handler is added', async () => {
    const { delivery, events, errors } = setup({ highWaterMark: 2, lowWaterMark: 0, stallTimeout: 1000 })
    events.on('notification', () => new Promise(() => {}))
    delivery.deliver(note('1'))
    delivery.deliver(note('2')) // two pending: the socket pauses
    vi.advanceTimersByTime(900)
    events.on('notification', () => undefined)
    delivery.handlerAdded() // nothing held: it takes nothing, and the first handler's wait goes on
    vi.advanceTimersByTime(100)
    expect(errors.map((e) => (e as ConsumerStalledError).consumer)).toEqual(["'notification' handlers"])
  })

  test.each(['end', 'fail'] as const)('after %s(), a handler that takes what was held and never settles is not reported as stalled', async (how) => {
    const { delivery, events, errors } = setup({ highWaterMark: 2, lowWaterMark: 0, stallTimeout: 1000 })
    delivery.deliver(note('1'))
    delivery.deliver(note('2'))
    vi.advanceTimersByTime(1000) // what is held is cut off (it keeps its two) and the socket resumes
    expect(errors).toHaveLength(1)
    if (how === 'end') delivery.end()
    else delivery.fail(new Error('gave up'))
    events.on('notification', () => new Promise(() => {}))
    delivery.handlerAdded() // after fail(), what was held still goes to the handler
    vi.advanceTimersByTime(10_000)
    expect(errors).toHaveLength(1) // closed or given up: no consumer is cut off any more
  })

  // Their next promises count again: not counting them would keep a closure per notification for
  // as long as they never settle. So handlers that never settle hold the listener to
  // highWaterMark notifications per stallTimeout, each stall reported; nothing is lost.
  test('async handlers that never settle: each stall is reported, and their promises stay bounded', async () => {
    const { delivery, events, errors, reading, iterator } = setup({ highWaterMark: 2, lowWaterMark: 0, stallTimeout: 1000 })
    events.on('notification', () => new Promise(() => {}))
    const s = iterator()
    for (let i = 1; i <= 6; i++) {
      delivery.deliver(note(String(i)))
      await s.next()
      if (i % 2 === 0) {
        expect(reading.at(-1)).toBe(false) // two pending: paused
        vi.advanceTimersByTime(1000)
        expect(reading.at(-1)).toBe(true)
      }
    }
    expect(errors.map((e) => (e as ConsumerStalledError).consumer)).toEqual(Array(3).fill("'notification' handlers"))
    expect(delivery.stats.stalls).toBe(3)
    expect(delivery.stats.maxBacklog).toBe(2)
  })

  test('a handler added while what is held pauses the socket is given stallTimeout from then, not from the pause', async () => {
    const { delivery, events, errors } = setup({ highWaterMark: 2, lowWaterMark: 0, stallTimeout: 1000 })
    delivery.deliver(note('1'))
    delivery.deliver(note('2')) // held, and the socket paused
    vi.advanceTimersByTime(900)
    const release: (() => void)[] = []
    events.on('notification', () => new Promise<void>((r) => release.push(r)))
    delivery.handlerAdded() // takes the two: its promises now hold the socket
    vi.advanceTimersByTime(200) // 1100 ms after the pause, 200 ms after the handler came
    expect(errors).toEqual([]) // before: "'notification' handlers left 2 promises unsettled for 1000 ms"
    vi.advanceTimersByTime(900)
    expect(errors.map((e) => (e as ConsumerStalledError).consumer)).toEqual(["'notification' handlers"])
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

  test.each(['end', 'fail'] as const)('after %s(), what the socket still had buffered reaches nobody: no handler, no held queue, no count', (how) => {
    const { delivery, events } = setup({ highWaterMark: 2, lowWaterMark: 0 })
    const heard: string[] = []
    events.on('notification', (n) => void heard.push(n.payload))
    delivery.deliver(note('1'))
    if (how === 'end') delivery.end() // close(), from a handler or not
    else delivery.fail(new Error('gave up'))
    for (let i = 2; i <= 5; i++) delivery.deliver(note(String(i)))
    expect(heard).toEqual(['1']) // before: handlers heard 2 to 5 after close()
    expect(delivery.stats.notifications).toBe(1)
    expect(delivery.backlog()).toBe(0)
  })

  test('end() while backpressure paused the socket: paused is false, as no socket is held any more', () => {
    const { delivery, iterator } = setup({ highWaterMark: 2, lowWaterMark: 0 })
    iterator()
    delivery.deliver(note('1'))
    delivery.deliver(note('2'))
    expect(delivery.paused).toBe(true)
    delivery.detach() // as close() does, first
    delivery.end()
    expect(delivery.paused).toBe(false)
  })

  test('end(): every iterator is done at once, and what was held is dropped', async () => {
    const { delivery, iterator } = setup()
    const s = iterator()
    delivery.deliver(note('dropped'))
    delivery.end()
    expect(await s.next()).toEqual({ value: undefined, done: true })
  })
})

const aGap = (): Gap => ({ type: 'Gap', from: new Date(0), to: new Date(1), cause: undefined })

describe('who still counts as a consumer', () => {
  test('ending one iterator leaves the others receiving', async () => {
    const { delivery, iterator } = setup()
    const leaving = iterator()
    const staying = iterator()
    leaving.end()
    delivery.deliver(note('1'))
    expect(payloads(await read(staying, 1))).toEqual(['1'])
    expect(delivery.backlog()).toBe(0) // taken by the one left, so nothing is held
  })

  test('once the only iterator has ended, a Gap is held for the next consumer (an ended iterator consumes nothing)', async () => {
    const { delivery, iterator } = setup()
    iterator().end()
    delivery.gap(aGap())
    delivery.deliver(note('after'))
    expect(payloads(await read(iterator(), 2))).toEqual(['Gap', 'after'])
  })

  test('an iterator waiting in next() takes a notification although its queue stays empty: nothing is held for later', async () => {
    const { delivery, iterator } = setup()
    const waiting = iterator()
    const pending = waiting.next()
    delivery.deliver(note('1'))
    expect(payloads([(await pending).value as ListenerItem])).toEqual(['1'])
    expect(delivery.backlog()).toBe(0)
    expect(iterator().length).toBe(0)
  })

  test('what was held, once taken, is not held any more: a later Gap goes to the iterators, not to the next newcomer', async () => {
    const { delivery, iterator } = setup()
    delivery.deliver(note('1'))
    const first = iterator()
    delivery.gap(aGap())
    expect(payloads(await read(first, 2))).toEqual(['1', 'Gap'])
    expect(iterator().length).toBe(0)
  })

  test('a Gap while an iterator consumes is not kept for iterators made later', () => {
    const { delivery, iterator } = setup()
    const s = iterator()
    delivery.gap(aGap())
    expect(s.length).toBe(1)
    expect(iterator().length).toBe(0)
  })

  test('a Gap while only handlers consume is theirs (a gap event), not kept for a later iterator', () => {
    const { delivery, events, iterator } = setup()
    events.on('notification', () => {})
    delivery.gap(aGap())
    expect(iterator().length).toBe(0)
  })

  test('adding a handler with nothing held is harmless', () => {
    const { delivery, events } = setup()
    events.on('notification', () => {})
    expect(() => delivery.handlerAdded()).not.toThrow()
    expect(delivery.backlog()).toBe(0)
  })

  test('a change feed\'s channel never reaches \'notification\' handlers, and with no feed left it is dropped, not held; other channels reach them as usual', () => {
    const { delivery, events, iterator } = setup()
    delivery.hidden = new Set(['feed'])
    const heard: string[] = []
    const off = events.on('notification', (n) => void heard.push(n.channel))
    delivery.deliver(note('x', 'feed'))
    delivery.deliver(note('y', 'orders'))
    expect(heard).toEqual(['orders'])
    off()
    delivery.deliver(note('z', 'feed'))
    expect(delivery.backlog()).toBe(0)
    expect(iterator().length).toBe(0) // nothing was held for a later consumer
  })

  test('a handler that throws is reported as a notification handler', () => {
    const reported: unknown[] = []
    const events = new EventHub<ListenerEvents>((_error, event) => void reported.push(event))
    const delivery = new Delivery(events, {})
    events.on('notification', () => {
      throw new Error('handler bug')
    })
    delivery.deliver(note('1'))
    expect(reported).toEqual(['notification'])
  })
})

describe('counting the backlog', () => {
  test('the slowest iterator decides even when a later one does not take the channel', () => {
    const { delivery, reading, iterator } = setup({ highWaterMark: 3, lowWaterMark: 1 })
    iterator()
    iterator({ channels: new Set(['other']) })
    for (let i = 0; i < 3; i++) delivery.deliver(note(String(i)))
    expect(reading).toEqual([false])
  })

  test('a synchronous handler does not hide an iterator that is behind', () => {
    const { delivery, events, reading, iterator } = setup({ highWaterMark: 3, lowWaterMark: 1 })
    events.on('notification', () => {})
    iterator()
    for (let i = 0; i < 3; i++) delivery.deliver(note(String(i)))
    expect(reading).toEqual([false])
  })

  test('an async \'gap\' handler still running holds the socket like a slow notification handler, even while the notifications are only held', async () => {
    const { delivery, events, reading, iterator } = setup({ highWaterMark: 4, lowWaterMark: 1, stallTimeout: false })
    const release: (() => void)[] = []
    events.on('gap', () => new Promise<void>((r) => release.push(r))) // re-reading state after a reconnect, say
    for (let i = 0; i < 5; i++) events.emit('gap', aGap())
    expect(events.pending).toBe(5)
    delivery.deliver(note('1', 'a')) // nobody consumes 'a' yet: held, 1 behind
    expect(reading).toEqual([false]) // paused for the 5 promises, not judged by the 1 held
    expect(delivery.backlog()).toBe(5)
    iterator({ channels: new Set(['b']) }) // takes nothing held: the backlog is still the handlers'
    expect(reading).toEqual([false])
    release.forEach((r) => r())
    await new Promise((r) => setTimeout(r, 0))
    expect(delivery.backlog()).toBe(1)
    expect(reading).toEqual([false, true])
  })

  test('backlog() is the furthest behind, whether an iterator or what is held', () => {
    const { delivery, iterator } = setup()
    iterator({ channels: new Set(['b']) })
    for (let i = 0; i < 3; i++) delivery.deliver(note(String(i), 'b'))
    delivery.deliver(note('held', 'a'))
    expect(delivery.backlog()).toBe(3)
  })

  test('stats count every notification, keep the peak backlog, and count a pause once however far past the mark', async () => {
    const { delivery, iterator } = setup({ highWaterMark: 3, lowWaterMark: 1, stallTimeout: false })
    const s = iterator()
    for (let i = 0; i < 5; i++) delivery.deliver(note(String(i)))
    await read(s, 5)
    delivery.deliver(note('5'))
    expect(delivery.stats).toMatchObject({ notifications: 6, maxBacklog: 5, pauses: 1 })
  })
})

describe('watermark options', () => {
  test('highWaterMark 1 with lowWaterMark 0 is the tightest valid setting', () => {
    const events = new EventHub<ListenerEvents>(() => {})
    expect(new Delivery(events, { highWaterMark: 1, lowWaterMark: 0 }).highWaterMark).toBe(1)
  })

  test('a negative lowWaterMark is refused, and the errors say what was wrong', () => {
    const events = new EventHub<ListenerEvents>(() => {})
    expect(() => new Delivery(events, { highWaterMark: 4, lowWaterMark: -1 })).toThrow('watermarks need integers 0 <= lowWaterMark < highWaterMark, not -1 and 4')
    expect(() => new Delivery(events, { stallTimeout: -5 })).toThrow('stallTimeout must be positive or false, not -5')
    expect(() => new Delivery(events, { stallTimeout: Infinity })).toThrow('stallTimeout must be at most 2147483647 ms (about 24.8 days, the longest a timer waits), not Infinity')
    expect(() => new Delivery(events, { stallTimeout: false })).not.toThrow()
  })

  test('before a connection is attached the socket is not reported paused, and after detach the old one is told nothing', () => {
    const events = new EventHub<ListenerEvents>(() => {})
    const delivery = new Delivery(events, { highWaterMark: 2, lowWaterMark: 0, stallTimeout: false })
    expect(delivery.paused).toBe(false)
    const told: boolean[] = []
    delivery.attach((paused) => told.push(paused))
    delivery.detach()
    delivery.deliver(note('1'))
    delivery.deliver(note('2'))
    expect(told).toEqual([])
  })
})

describe('after the listener gave up', () => {
  test('a late iterator reads what was held on its channels, then the error', async () => {
    const { delivery } = setup()
    delivery.deliver(note('held'))
    const error = new Error('gave up')
    const late = new Subscription()
    delivery.failLate(late, error)
    expect(payloads(await read(late, 1))).toEqual(['held'])
    await expect(late.next()).rejects.toBe(error)
  })

  test('a late iterator with nothing held gets just the error', async () => {
    const { delivery } = setup()
    const error = new Error('gave up')
    const late = new Subscription()
    delivery.failLate(late, error)
    await expect(late.next()).rejects.toBe(error)
  })
})

describe('the stall checker', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  test('only consumers above lowWaterMark are cut: one exactly at it is not what holds the socket', async () => {
    const { delivery, errors, iterator } = setup({ highWaterMark: 4, lowWaterMark: 1, stallTimeout: 1000 })
    const atLow = iterator()
    const stuck = iterator()
    for (let i = 0; i < 4; i++) delivery.deliver(note(String(i)))
    await read(atLow, 3) // 1 left: at lowWaterMark, but idle from now on
    vi.advanceTimersByTime(1000)
    expect(stuck.cutOff).toBe(true)
    expect(atLow.cutOff).toBe(false)
    expect(errors).toHaveLength(1)
  })

  test('a second consumer that went idle later is cut at its own time, not the first one\'s', async () => {
    const { delivery, errors, iterator } = setup({ highWaterMark: 4, lowWaterMark: 1, stallTimeout: 1000 })
    const first = iterator()
    const second = iterator()
    for (let i = 0; i < 4; i++) delivery.deliver(note(String(i)))
    vi.advanceTimersByTime(400)
    await read(second, 1) // 3 left: still holding the socket, idle from t = 400
    vi.advanceTimersByTime(600)
    expect(first.cutOff).toBe(true)
    expect(second.cutOff).toBe(false)
    vi.advanceTimersByTime(399)
    expect(second.cutOff).toBe(false)
    vi.advanceTimersByTime(1)
    expect(second.cutOff).toBe(true)
    expect(errors).toHaveLength(2)
    expect(delivery.stats.stalls).toBe(2)
  })

  test('idle time counts from the start of the current pause, not an earlier pause whose timer is still running', async () => {
    const { delivery, iterator } = setup({ highWaterMark: 4, lowWaterMark: 1, stallTimeout: 1000 })
    const s = iterator()
    for (let i = 0; i < 4; i++) delivery.deliver(note(String(i)))
    await read(s, 3) // read again at once; the first pause's timer stays armed
    vi.advanceTimersByTime(900)
    for (let i = 0; i < 3; i++) delivery.deliver(note(String(i))) // paused again at t = 900
    expect(delivery.paused).toBe(true)
    vi.advanceTimersByTime(999) // t = 1899
    expect(s.cutOff).toBe(false)
    vi.advanceTimersByTime(1) // t = 1900: idle 1000 since the second pause
    expect(s.cutOff).toBe(true)
  })

  test('reaching the hard bound during a pause does not restart the idle clock', () => {
    const { delivery, iterator } = setup({ highWaterMark: 2, lowWaterMark: 0, stallTimeout: 1000 })
    const s = iterator()
    delivery.beginQuery()
    delivery.deliver(note('1'))
    delivery.deliver(note('2')) // paused (overridden by the reply awaited) at t = 0
    vi.advanceTimersByTime(500)
    for (let i = 0; i < 6; i++) delivery.deliver(note('more')) // 8 = 4 × highWaterMark: full at t = 500
    vi.advanceTimersByTime(500)
    expect(s.cutOff).toBe(true)
  })

  test('once the socket is read again, a consumer still above lowWaterMark is not cut by the old timer', async () => {
    const { delivery, errors, iterator } = setup({ highWaterMark: 4, lowWaterMark: 1, stallTimeout: 1000 })
    const s = iterator()
    for (let i = 0; i < 4; i++) delivery.deliver(note(String(i)))
    await read(s, 3) // resumed at once
    delivery.deliver(note('4'))
    delivery.deliver(note('5')) // 3 behind: above lowWaterMark, below highWaterMark
    vi.advanceTimersByTime(5000)
    expect(s.cutOff).toBe(false)
    expect(errors).toEqual([])
  })

  test('once the stall check has cut the consumer and the socket is read again, no stall timer stays armed', () => {
    const { delivery, isReading, iterator } = setup({ highWaterMark: 2, lowWaterMark: 0, stallTimeout: 1000 })
    const s = iterator()
    delivery.deliver(note('1'))
    delivery.deliver(note('2'))
    expect(vi.getTimerCount()).toBe(1)
    vi.advanceTimersByTime(1000)
    expect(s.cutOff).toBe(true)
    expect(isReading()).toBe(true)
    expect(vi.getTimerCount()).toBe(0) // nothing holds the socket: no wake-up every stallTimeout for nothing
  })

  test('a consumer that takes over what was held while it was cut off, reaching highWaterMark with the Gap, pauses the socket at once', async () => {
    const { delivery, reading, iterator } = setup({ highWaterMark: 3, lowWaterMark: 0, stallTimeout: 1000 })
    delivery.deliver(note('1', 'a'))
    delivery.deliver(note('2', 'a'))
    delivery.deliver(note('3', 'b'))
    expect(reading).toEqual([false])
    vi.advanceTimersByTime(1000) // nobody came: the held queue is cut off and the socket read again
    expect(reading).toEqual([false, true])
    delivery.deliver(note('dropped', 'a')) // covered by the cut's Gap
    const s = iterator({ channels: new Set(['a']) }) // takes '1', '2' and the Gap: 3, highWaterMark exactly
    expect(s.behind).toBe(3)
    expect(reading).toEqual([false, true, false])
    expect(payloads(await read(s, 3))).toEqual(['1', '2', 'Gap'])
  })

  test('stats.maxBacklog is a peak: it rises when a consumer takes over held notifications with their Gap, and never falls', async () => {
    const { delivery, events, iterator } = setup({ highWaterMark: 3, lowWaterMark: 0, stallTimeout: 1000 })
    for (let i = 0; i < 3; i++) delivery.deliver(note(String(i), 'a'))
    expect(delivery.stats.maxBacklog).toBe(3)
    vi.advanceTimersByTime(1000) // held queue cut off
    delivery.deliver(note('dropped', 'a')) // so the cut has a Gap to give
    const s = iterator({ channels: new Set(['a']) }) // 3 notifications and the cut's Gap
    expect(delivery.stats.maxBacklog).toBe(4)
    delivery.deliver(note('b', 'b')) // held again: nobody takes 'b'
    await read(s, 4)
    const heard: string[] = []
    events.on('notification', (n) => void heard.push(n.payload))
    delivery.handlerAdded() // takes the held 'b': the backlog is 0 now
    expect(heard).toEqual(['b'])
    expect(delivery.backlog()).toBe(0)
    expect(delivery.stats.maxBacklog).toBe(4)
  })

  test('the error for held notifications says nobody consumes their channel', () => {
    const { delivery, errors } = setup({ highWaterMark: 2, lowWaterMark: 0, stallTimeout: 1000 })
    delivery.deliver(note('1'))
    delivery.deliver(note('2'))
    vi.advanceTimersByTime(1000)
    expect(errors).toHaveLength(1)
    expect((errors[0] as Error).message).toBe("2 notifications have waited 1000 ms for a consumer of their channel (an iterator, or a 'notification' handler); later ones are dropped until one comes, and it will get a Gap")
  })

  test('handlers that never settle: the error says so, and the stall is counted', () => {
    const { delivery, events, errors } = setup({ highWaterMark: 2, lowWaterMark: 0, stallTimeout: 1000 })
    events.on('notification', () => new Promise(() => {}))
    delivery.deliver(note('1'))
    delivery.deliver(note('2'))
    vi.advanceTimersByTime(1000)
    expect((errors[0] as Error).message).toBe("'notification' handlers left 2 promises unsettled for 1000 ms; they no longer hold the socket paused")
    expect(delivery.stats.stalls).toBe(1)
  })

  test.each(['a notification', 'a Gap'])('held notifications are timed on the injected clock (held made by %s)', (first) => {
    vi.setSystemTime(1_000_000_000_000)
    const start = Date.now()
    const errors: Error[] = []
    const events = new EventHub<ListenerEvents>(() => {})
    events.on('error', (e) => void errors.push(e))
    const delivery = new Delivery(events, { highWaterMark: 2, lowWaterMark: 0, stallTimeout: 1000 }, () => Date.now() - start)
    delivery.listened = new Set(['a'])
    if (first === 'a Gap') delivery.gap(aGap())
    delivery.deliver(note('1'))
    delivery.deliver(note('2'))
    vi.advanceTimersByTime(1000)
    expect(errors).toHaveLength(1)
  })

  test('end() and fail() stop the stall timer: nothing is reported afterwards, even if the hard bound was reached meanwhile', () => {
    for (const stop of ['end', 'fail'] as const) {
      const { delivery, events, errors } = setup({ highWaterMark: 2, lowWaterMark: 0, stallTimeout: 1000 })
      events.on('notification', () => new Promise(() => {}))
      delivery.beginQuery()
      delivery.deliver(note('1'))
      delivery.deliver(note('2')) // paused: timer armed
      vi.advanceTimersByTime(500)
      for (let i = 0; i < 6; i++) delivery.deliver(note('more')) // full: no second timer
      if (stop === 'end') delivery.end()
      else delivery.fail(new Error('gave up'))
      vi.advanceTimersByTime(5000)
      expect(errors).toEqual([])
    }
  })
})

// Deno's global timers are numbers, with no unref(): pausing must not throw on them.
test('a runtime whose timers are numbers (Deno\'s globals): the stall timer is armed without unref, and nothing throws', () => {
  const setTimeout = vi.spyOn(globalThis, 'setTimeout').mockReturnValue(9 as never)
  try {
    const { delivery, isReading } = setup({ highWaterMark: 2, lowWaterMark: 0, stallTimeout: 1000 })
    delivery.deliver(note('1'))
    expect(() => delivery.deliver(note('2'))).not.toThrow()
    expect(isReading()).toBe(false)
    expect(setTimeout).toHaveBeenCalledWith(expect.any(Function), 1000)
  } finally {
    setTimeout.mockRestore()
  }
})
