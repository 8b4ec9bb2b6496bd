/** The consumer's queue: order, filtering, gaps, ending, and the drain signal backpressure uses. */
import { describe, expect, test } from 'vitest'
import { Subscription, type Gap, type Notification } from '../../../src/listener/subscription.ts'

const note = (channel: string, payload: string): Notification => ({ type: 'NotificationResponse', processId: 1, channel, payload })
const gap: Gap = { type: 'Gap', from: new Date(0), to: new Date(1), cause: undefined }

describe('Subscription', () => {
  test('queued items come out in order; the length counts what is unread', async () => {
    const s = new Subscription(undefined, true, () => {})
    expect(s.offer(note('a', '1'))).toBe(1)
    expect(s.offer(note('a', '2'))).toBe(2)
    expect((await s.next()).value).toMatchObject({ payload: '1' })
    expect(s.length).toBe(1)
    expect((await s.next()).value).toMatchObject({ payload: '2' })
    expect(s.length).toBe(0)
  })

  test('a waiting next() gets the next item directly', async () => {
    const s = new Subscription(undefined, true, () => {})
    const waiting = s.next()
    expect(s.offer(note('a', 'x'))).toBe(0)
    expect((await waiting).value).toMatchObject({ payload: 'x' })
  })

  test('channels filter notifications but never gaps; gaps: false drops gaps', async () => {
    const only = new Subscription(new Set(['a']), true, () => {})
    only.offer(note('b', 'no'))
    only.offerGap(gap)
    only.offer(note('a', 'yes'))
    expect([(await only.next()).value, (await only.next()).value]).toEqual([gap, note('a', 'yes')])
    const noGaps = new Subscription(undefined, false, () => {})
    noGaps.offerGap(gap)
    expect(noGaps.length).toBe(0)
  })

  test('end() finishes a waiting next(), drops the queue, refuses more, and says so once', async () => {
    let drains = 0
    const s = new Subscription(undefined, true, () => drains++)
    const waiting = s.next()
    s.end()
    expect(await waiting).toEqual({ value: undefined, done: true })
    expect(s.offer(note('a', 'late'))).toBe(0)
    expect(await s.next()).toEqual({ value: undefined, done: true })
    s.end()
    expect(drains).toBe(1)
  })

  test('every read signals a drain, so the listener can resume the socket', async () => {
    const lengths: number[] = []
    const s = new Subscription(undefined, true, (sub) => lengths.push(sub.length))
    for (let i = 0; i < 3; i++) s.offer(note('a', String(i)))
    for (let i = 0; i < 3; i++) await s.next()
    expect(lengths).toEqual([2, 1, 0])
  })

  test('a long history does not keep memory: reading compacts the queue', async () => {
    const s = new Subscription(undefined, true, () => {})
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 1000; i++) s.offer(note('a', String(i)))
      for (let i = 0; i < 1000; i++) await s.next()
    }
    expect(s.length).toBe(0)
    s.offer(note('a', 'last'))
    expect((await s.next()).value).toMatchObject({ payload: 'last' })
  })

  test('for await works and return() ends it', async () => {
    const s = new Subscription(undefined, true, () => {})
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
})
