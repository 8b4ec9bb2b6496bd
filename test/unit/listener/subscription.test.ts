/** The consumer's queue: order, filtering, gaps, ending, failing, being cut off, and the drain signal backpressure uses. */
import { describe, expect, test } from 'vitest'
import { Subscription, type Gap, type Notification } from '../../../src/listener/subscription.ts'

const note = (channel: string, payload: string): Notification => ({ type: 'NotificationResponse', processId: 1, channel, payload })
const gap: Gap = { type: 'Gap', from: new Date(0), to: new Date(1), cause: undefined }

describe('Subscription', () => {
  test('queued items come out in order; the length counts what is unread', async () => {
    const s = new Subscription()
    expect(s.offer(note('a', '1'))).toBe(1)
    expect(s.offer(note('a', '2'))).toBe(2)
    expect((await s.next()).value).toMatchObject({ payload: '1' })
    expect(s.length).toBe(1)
    expect((await s.next()).value).toMatchObject({ payload: '2' })
    expect(s.length).toBe(0)
  })

  test('a waiting next() gets the next item directly', async () => {
    const s = new Subscription()
    const waiting = s.next()
    expect(s.offer(note('a', 'x'))).toBe(0)
    expect((await waiting).value).toMatchObject({ payload: 'x' })
  })

  test('a waiting next() handed an item says the iteration goes on (done: false), so for await does not stop there', async () => {
    const s = new Subscription()
    const waiting = s.next()
    s.offer(note('a', 'x'))
    expect(await waiting).toEqual({ value: note('a', 'x'), done: false })
  })

  test('return() answers that the iteration is done, with no value', async () => {
    const s = new Subscription()
    s.offer(note('a', 'dropped'))
    expect(await s.return()).toEqual({ value: undefined, done: true })
    expect(s.ended).toBe(true)
  })

  test('channels filter notifications but never gaps; gaps: false drops gaps', async () => {
    const only = new Subscription({ channels: new Set(['a']) })
    only.offer(note('b', 'no'))
    only.offerGap(gap)
    only.offer(note('a', 'yes'))
    expect([(await only.next()).value, (await only.next()).value]).toEqual([gap, note('a', 'yes')])
    const noGaps = new Subscription({ gaps: false })
    noGaps.offerGap(gap)
    expect(noGaps.length).toBe(0)
  })

  test('end() finishes a waiting next(), drops the queue, refuses more, and says so once', async () => {
    let drains = 0
    const s = new Subscription({ onDrain: () => drains++ })
    const waiting = s.next()
    s.end()
    expect(await waiting).toEqual({ value: undefined, done: true })
    expect(s.offer(note('a', 'late'))).toBe(-1) // not taken
    expect(await s.next()).toEqual({ value: undefined, done: true })
    s.end()
    expect(drains).toBe(1)
  })

  test('every read signals a drain, so the listener can resume the socket', async () => {
    const lengths: number[] = []
    const s = new Subscription({ onDrain: (sub) => lengths.push(sub.length) })
    for (let i = 0; i < 3; i++) s.offer(note('a', String(i)))
    for (let i = 0; i < 3; i++) await s.next()
    expect(lengths).toEqual([2, 1, 0])
  })

  test('a long history does not keep memory: reading compacts the queue', async () => {
    const s = new Subscription()
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 1000; i++) s.offer(note('a', String(i)))
      for (let i = 0; i < 1000; i++) await s.next()
    }
    expect(s.length).toBe(0)
    expect(s.retained).toBeLessThanOrEqual(2048) // not 50,000 read slots
    s.offer(note('a', 'last'))
    expect((await s.next()).value).toMatchObject({ payload: 'last' })
  })

  test('reading most of a long queue releases what was read: the array holds at most max(length + 1024, 2 × length) slots', async () => {
    const s = new Subscription()
    for (let i = 0; i < 5000; i++) s.offer(note('a', String(i)))
    for (let i = 0; i < 4000; i++) {
      expect((await s.next()).value).toMatchObject({ payload: String(i) })
      expect(s.retained).toBeLessThanOrEqual(Math.max(s.length + 1024, 2 * s.length))
    }
    expect(s.length).toBe(1000)
    expect(s.retained).toBeLessThan(2100) // not the 5000 slots of everything ever queued
    expect((await s.next()).value).toMatchObject({ payload: '4000' }) // and nothing unread was lost
  })

  test('a steady stream read as it comes never holds more than about 1024 read slots', async () => {
    const s = new Subscription()
    let most = 0
    for (let i = 0; i < 10_000; i++) {
      s.offer(note('a', String(i)))
      expect((await s.next()).value).toMatchObject({ payload: String(i) })
      most = Math.max(most, s.retained)
    }
    expect(s.length).toBe(0)
    expect(most).toBeLessThanOrEqual(1025) // compaction runs once more than 1024 slots are read
  })

  test('for await works and return() ends it', async () => {
    const s = new Subscription()
    s.offer(note('a', '1'))
    s.offer(note('a', '2'))
    const seen: string[] = []
    for await (const item of s) {
      seen.push((item as Notification).payload)
      break
    }
    expect(seen).toEqual(['1'])
    expect(s.ended).toBe(true)
  })

  test('fail(): what is queued is still read, then next() throws the error once, then it is done', async () => {
    let ends = 0
    const s = new Subscription({ onEnd: () => ends++ })
    s.offer(note('a', '1'))
    const error = new Error('gave up')
    s.fail(error)
    expect(s.offer(note('a', 'late'))).toBe(-1) // refused
    expect(s.length).toBe(1)
    expect((await s.next()).value).toMatchObject({ payload: '1' })
    await expect(s.next()).rejects.toBe(error)
    expect(await s.next()).toEqual({ value: undefined, done: true })
    expect(ends).toBe(1)
  })

  test('fail() rejects a waiting next()', async () => {
    const s = new Subscription()
    const waiting = s.next()
    const error = new Error('gave up')
    s.fail(error)
    await expect(waiting).rejects.toBe(error)
    expect(await s.next()).toEqual({ value: undefined, done: true })
  })

  // An async iterator may be asked again before its last answer came (Promise.all of two next();
  // a feed reading its source while another read waits): every call gets its own answer.
  test('overlapping next() calls each get an item, in call order', async () => {
    const s = new Subscription()
    const first = s.next()
    const second = s.next()
    expect(s.offer(note('a', '1'))).toBe(0) // straight to a waiting call, nothing queued
    expect(s.offer(note('a', '2'))).toBe(0)
    expect(await first).toEqual({ value: note('a', '1'), done: false })
    expect(await second).toEqual({ value: note('a', '2'), done: false })
    expect(s.length).toBe(0)
  })

  test('end() settles every waiting next(), not only the last one', async () => {
    const s = new Subscription()
    const waiting = [s.next(), s.next(), s.next()]
    s.end()
    expect(await Promise.all(waiting)).toEqual(Array(3).fill({ value: undefined, done: true }))
  })

  test('fail() rejects the oldest waiting next() with the error, once; the others are done', async () => {
    const s = new Subscription()
    const first = s.next()
    const second = s.next()
    const error = new Error('gave up')
    s.fail(error)
    await expect(first).rejects.toBe(error)
    expect(await second).toEqual({ value: undefined, done: true })
  })

  test('onEnd is told once, however it ends', async () => {
    for (const end of [(s: Subscription) => s.end(), (s: Subscription) => void s.return(), (s: Subscription) => s.fail(new Error('x'))]) {
      let ends = 0
      const s = new Subscription({ onEnd: () => ends++ })
      end(s)
      s.end()
      s.fail(new Error('again'))
      expect(ends).toBe(1)
    }
  })

  test('cut off: it stops taking and stops counting; what it had is read, then a Gap from the cut, then it takes again', async () => {
    let clock = 1000
    const drained: number[] = []
    const s = new Subscription({ now: () => clock, onDrain: (sub) => drained.push(sub.behind) })
    s.offer(note('a', '1'))
    s.offer(note('a', '2'))
    expect(s.behind).toBe(2)
    const cause = new Error('stalled')
    s.cut(new Date(500), cause)
    expect(s.cutOff).toBe(true)
    expect(s.behind).toBe(0) // no longer holds the socket
    expect(s.length).toBe(2) // but keeps what it had
    expect(drained).toEqual([0]) // and says so, so the socket can resume
    expect(s.offer(note('a', 'missed'))).toBe(0)
    s.offerGap(gap) // covered by the cut's own gap
    clock = 2000
    expect((await s.next()).value).toMatchObject({ payload: '1' })
    expect((await s.next()).value).toMatchObject({ payload: '2' })
    clock = 3000
    expect(await s.next()).toEqual({ value: { type: 'Gap', from: new Date(500), to: new Date(3000), cause }, done: false })
    expect(s.cutOff).toBe(false)
    expect(s.offer(note('a', '3'))).toBe(1)
    expect((await s.next()).value).toMatchObject({ payload: '3' })
  })

  test('cut off, then failed (the listener gave up): what it had, the cut\'s Gap, then the error', async () => {
    const s = new Subscription({ now: () => 7 })
    s.offer(note('a', '1'))
    const cause = new Error('stalled')
    s.cut(new Date(5), cause)
    const error = new Error('gave up')
    s.fail(error)
    expect((await s.next()).value).toMatchObject({ payload: '1' })
    expect((await s.next()).value).toEqual({ type: 'Gap', from: new Date(5), to: new Date(7), cause })
    await expect(s.next()).rejects.toBe(error)
  })

  test('cut off with gaps: false: it takes again without a Gap item', async () => {
    const s = new Subscription({ gaps: false })
    s.cut(new Date(0), new Error('stalled'))
    const waiting = s.next()
    expect(s.offer(note('a', 'after'))).toBe(0)
    expect((await waiting).value).toMatchObject({ payload: 'after' })
  })

  test('lastRead moves on every read, and when a waiting next() is handed an item', async () => {
    let clock = 10
    const s = new Subscription({ now: () => clock })
    expect(s.lastRead).toBe(10)
    s.offer(note('a', '1'))
    clock = 20
    expect(s.lastRead).toBe(10) // offering is not reading
    await s.next()
    expect(s.lastRead).toBe(20)
    clock = 30
    const waiting = s.next()
    clock = 40
    s.offer(note('a', '2'))
    await waiting
    expect(s.lastRead).toBe(40)
  })

  test('offer() says whether the channel is taken: -1 if not, 0 while cut off (its Gap covers it)', () => {
    const s = new Subscription({ channels: new Set(['a']) })
    expect(s.offer(note('b', 'x'))).toBe(-1)
    expect(s.takes('b')).toBe(false)
    expect(s.offer(note('a', 'x'))).toBe(1)
    s.cut(new Date(0), new Error('stalled'))
    expect(s.offer(note('a', 'y'))).toBe(0)
    s.end()
    expect(s.offer(note('a', 'z'))).toBe(-1)
    expect(s.takes('a')).toBe(false)
  })

  test('while cut off, a later Gap is not merged into a Gap queued before the cut: the cut\'s own Gap covers it', async () => {
    const s = new Subscription({ now: () => 100 })
    const before: Gap = { type: 'Gap', from: new Date(10), to: new Date(20), cause: undefined }
    s.offer(note('a', '1'))
    s.offerGap(before)
    const cause = new Error('stalled')
    s.cut(new Date(30), cause)
    s.offerGap({ type: 'Gap', from: new Date(40), to: new Date(50), cause: new Error('reconnected') })
    expect(s.length).toBe(2)
    expect([(await s.next()).value, (await s.next()).value, (await s.next()).value]).toEqual([
      note('a', '1'),
      before, // unchanged: still from 10 to 20
      { type: 'Gap', from: new Date(30), to: new Date(100), cause },
    ])
  })

  test('after fail(), a Gap offered changes nothing queued, not even a Gap it could merge with', async () => {
    const s = new Subscription()
    const last: Gap = { type: 'Gap', from: new Date(10), to: new Date(20), cause: undefined }
    s.offerGap(last)
    const error = new Error('gave up')
    s.fail(error)
    s.offerGap({ type: 'Gap', from: new Date(30), to: new Date(40), cause: new Error('late') })
    expect(await s.next()).toEqual({ value: last, done: false })
    await expect(s.next()).rejects.toBe(error)
  })

  test('cut() twice keeps the first cut: its from is the earlier one', async () => {
    const s = new Subscription({ now: () => 9 })
    const first = new Error('first')
    s.cut(new Date(1), first)
    s.cut(new Date(5), new Error('second'))
    expect((await s.next()).value).toEqual({ type: 'Gap', from: new Date(1), to: new Date(9), cause: first })
  })

  test('offerGap() spans both whatever their order', async () => {
    const s = new Subscription()
    s.offerGap({ type: 'Gap', from: new Date(30), to: new Date(40), cause: undefined })
    s.offerGap({ type: 'Gap', from: new Date(10), to: new Date(20), cause: undefined })
    expect((await s.next()).value).toMatchObject({ from: new Date(10), to: new Date(40) })
  })

  test('offerGap() keeps one Gap spanning consecutive ones', async () => {
    const s = new Subscription()
    s.offerGap({ type: 'Gap', from: new Date(10), to: new Date(20), cause: undefined })
    const cause = new Error('second')
    s.offerGap({ type: 'Gap', from: new Date(30), to: new Date(40), cause })
    expect(s.length).toBe(1)
    s.offer(note('a', '1'))
    s.offerGap({ type: 'Gap', from: new Date(50), to: new Date(60), cause })
    expect(s.length).toBe(3)
    expect((await s.next()).value).toEqual({ type: 'Gap', from: new Date(10), to: new Date(40), cause })
  })

  test('each has a name for error messages, with its channels', () => {
    expect(new Subscription({ channels: new Set(['orders']) }).name).toMatch(/^iterator #\d+ on "orders"$/)
    expect(new Subscription({ channels: new Set(['orders', 'payments']) }).name).toMatch(/^iterator #\d+ on "orders", "payments"$/)
    expect(new Subscription().name).toMatch(/^iterator #\d+$/) // all channels: no list
    expect(new Subscription({ name: 'feed' }).name).toBe('feed')
  })
})
