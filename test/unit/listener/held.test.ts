/**
 * What no consumer took: each channel's notifications and the Gaps that concern it reach that
 * channel's first consumer, whoever comes first; only notifications count for backpressure.
 */
import { describe, expect, test } from 'vitest'
import { Held } from '../../../src/listener/held.ts'
import type { Gap, ListenerItem, Notification } from '../../../src/listener/subscription.ts'

const note = (channel: string, payload: string): Notification => ({ type: 'NotificationResponse', processId: 1, channel, payload })
const gap = (from: number, to: number): Gap => ({ type: 'Gap', from: new Date(from), to: new Date(to), cause: undefined })
const only = (...channels: string[]) => (channel: string) => channels.includes(channel)
const labels = (items: ListenerItem[]) => items.map((item) => (item.type === 'Gap' ? `Gap ${+item.from}-${+item.to}` : `${item.channel}:${item.payload}`))

describe('Held', () => {
  test('each consumer takes the notifications on its channels, in order, and the rest stays', () => {
    const held = new Held(() => 0)
    held.offer(note('a', '1'))
    held.offer(note('b', '2'))
    held.offer(note('a', '3'))
    expect(labels(held.take(only('a')))).toEqual(['a:1', 'a:3'])
    expect(held.behind).toBe(1)
    expect(labels(held.take(only('b')))).toEqual(['b:2'])
    expect(held.empty).toBe(true)
  })

  test('a Gap goes to the first consumer of each channel it concerns, in its place, and stays for the others', () => {
    const held = new Held(() => 0)
    held.offer(note('b', '1'))
    held.offerGap(gap(10, 20), ['b', 'c'])
    held.offer(note('b', '2'))
    expect(held.take(only('a'))).toEqual([]) // a was consumed when the Gap came: not its concern
    expect(labels(held.take(only('b')))).toEqual(['b:1', 'Gap 10-20', 'b:2'])
    expect(held.empty).toBe(false) // c's first consumer is still owed it
    expect(labels(held.take(only('b')))).toEqual([]) // b has had it
    expect(labels(held.take(only('c')))).toEqual(['Gap 10-20'])
    expect(held.empty).toBe(true)
  })

  test('a consumer of several channels gets a Gap once', () => {
    const held = new Held(() => 0)
    held.offerGap(gap(1, 2), ['a', 'b'])
    expect(labels(held.take(() => true))).toEqual(['Gap 1-2'])
    expect(held.empty).toBe(true)
  })

  test('Gaps in a row are one, spanning both, for the channels of either', () => {
    const held = new Held(() => 0)
    held.offerGap(gap(10, 20), ['a'])
    held.offerGap(gap(5, 30), ['b'])
    expect(labels(held.take(only('b')))).toEqual(['Gap 5-30'])
    expect(labels(held.take(only('a')))).toEqual(['Gap 5-30'])
  })

  test('Gaps in a row that overlap: one from the earlier start to the later end, whichever came first', () => {
    for (const [first, second] of [[gap(5, 20), gap(10, 30)], [gap(10, 30), gap(5, 20)]] as const) {
      const held = new Held(() => 0)
      held.offerGap(first, ['a'])
      held.offerGap(second, ['a'])
      expect(labels(held.take(only('a')))).toEqual(['Gap 5-30'])
    }
  })

  test('Gaps with a notification between them stay apart', () => {
    const held = new Held(() => 0)
    held.offerGap(gap(1, 2), ['a'])
    held.offer(note('a', 'x'))
    held.offerGap(gap(3, 4), ['a'])
    expect(labels(held.take(only('a')))).toEqual(['Gap 1-2', 'a:x', 'Gap 3-4'])
  })

  test('only notifications count for backpressure: a Gap owed is no backlog', () => {
    const held = new Held(() => 0)
    held.offerGap(gap(1, 2), ['b'])
    expect(held.behind).toBe(0)
    expect(held.offer(note('b', '1'))).toBe(1)
    expect(held.offer(note('b', '2'))).toBe(2)
    expect(held.behind).toBe(2)
    held.take(only('b'))
    expect(held.behind).toBe(0)
  })

  test('cut off: later notifications are dropped, and the Gap up to each take goes to the consumers of the channels they were on', () => {
    let clock = 100
    const held = new Held(() => clock)
    held.offer(note('a', 'kept'))
    const cause = new Error('nobody came')
    held.cut(new Date(50), cause)
    expect(held.behind).toBe(0) // it no longer holds the socket
    expect(held.offer(note('a', 'dropped'))).toBe(0)
    expect(held.offer(note('b', 'dropped'))).toBe(0)
    clock = 200
    expect(held.take(only('z'))).toEqual([]) // the first to come takes none of it
    expect(held.offer(note('c', 'dropped'))).toBe(0) // a:kept still waits: still cut off
    const cutGap = { type: 'Gap', from: new Date(50), to: new Date(200), cause }
    expect(held.take(only('a'))).toEqual([note('a', 'kept'), cutGap])
    expect(held.offer(note('d', 'held'))).toBe(1) // nothing waited any more: the cut has ended
    expect(held.take(only('b'))).toEqual([cutGap])
    clock = 300
    expect(held.take(only('c'))).toEqual([{ ...cutGap }]) // dropped after the first take: the Gap up to the second
    expect(held.take(only('d'))).toEqual([note('d', 'held')])
    expect(held.empty).toBe(true)
  })

  test('a Gap concerns the channels it holds notifications on too, listened on or not', () => {
    const held = new Held(() => 0)
    held.offer(note('a', '1'))
    held.offerGap(gap(1, 2), ['b'])
    expect(labels(held.take(only('a')))).toEqual(['a:1', 'Gap 1-2'])
    expect(labels(held.take(only('b')))).toEqual(['Gap 1-2'])
  })

  test('cut off with nothing dropped: nothing was lost, so no Gap', () => {
    const held = new Held(() => 0)
    held.offer(note('a', 'kept'))
    held.cut(new Date(50), new Error('nobody came'))
    expect(labels(held.take(only('a')))).toEqual(['a:kept'])
    expect(held.empty).toBe(true)
  })

  test('a Gap while cut off is kept too (a notification lost in a reconnect never came to be dropped), before the cut\'s', () => {
    let clock = 100
    const held = new Held(() => clock)
    held.cut(new Date(50), new Error('nobody came'))
    held.offerGap(gap(60, 70), ['c'])
    held.offer(note('a', 'dropped'))
    clock = 200
    expect(labels(held.take(only('c')))).toEqual(['Gap 50-200']) // merged with the cut's, which came right after
    expect(labels(held.take(only('a')))).toEqual(['Gap 50-200'])
  })

  test('a cut that dropped nothing leaves a Gap that came during it as it was (no cut\'s Gap merged into it)', () => {
    const held = new Held(() => 200)
    held.cut(new Date(50), new Error('nobody came'))
    held.offerGap(gap(60, 70), ['c'])
    expect(labels(held.take(only('c')))).toEqual(['Gap 60-70'])
  })

  test('cut() twice keeps the first cut', () => {
    const held = new Held(() => 200)
    held.cut(new Date(50), new Error('first'))
    held.cut(new Date(80), new Error('second'))
    held.offer(note('a', 'dropped'))
    expect(held.take(only('a'))).toMatchObject([{ from: new Date(50), cause: { message: 'first' } }])
  })

  test('its name, for ConsumerStalledError, and when it was made', () => {
    const held = new Held(() => 42)
    expect(held.name).toBe('no consumer')
    expect(held.lastRead).toBe(42)
  })
})

describe("Held: whom each Gap's 'gap' event came to", () => {
  /** 'gap' registrations, as events.ts makes them. */
  const registration = () => ({ handler: () => {}, called: 0 })
  const [p, q, r] = [registration(), registration(), registration()]
  /** The audience of the event numbered `event`. */
  const came = (registrations: ReturnType<typeof registration>[], event = 1) => ({ registrations, event })
  const to = (held: Held, item: ListenerItem) => held.audience.get(item as Gap)

  test('Gaps in a row that the same handlers heard are one, and it notes them', () => {
    const held = new Held(() => 0)
    held.offerGap(gap(10, 20), ['a'], came([p], 1))
    held.offerGap(gap(30, 40), ['a'], came([p], 3))
    const taken = held.take(only('a'))
    expect(labels(taken)).toEqual(['Gap 10-40'])
    // The later event's: a registration it reached was reached by both.
    expect(to(held, taken[0]!)).toEqual(came([p], 3))
  })

  test('Gaps in a row that different handlers heard stay apart: a handler added between is owed the first only, and hears the second once', () => {
    const held = new Held(() => 0)
    held.offerGap(gap(10, 20), ['a'], came([p], 1))
    held.offerGap(gap(30, 40), ['a'], came([p, q], 2))
    const taken = held.take(only('a'))
    expect(labels(taken)).toEqual(['Gap 10-20', 'Gap 30-40'])
    expect(taken.map((g) => to(held, g))).toEqual([came([p], 1), came([p, q], 2)])
  })

  // Found by review: lists of the same length ending in the same handler were taken for the same.
  test.each([
    ['the same number, the same last one', [p, r], [q, r]],
    ['the same number, the same first one', [p, q], [p, r]],
  ])('Gaps in a row that different handlers heard stay apart: %s', (_, first, second) => {
    const held = new Held(() => 0)
    held.offerGap(gap(10, 20), ['a'], came(first, 1))
    held.offerGap(gap(30, 40), ['a'], came(second, 2))
    const taken = held.take(only('a'))
    expect(labels(taken)).toEqual(['Gap 10-20', 'Gap 30-40'])
    expect(taken.map((g) => to(held, g)!.registrations)).toEqual([first, second])
  })

  test("a cut's Gap came to nobody", () => {
    const held = new Held(() => 50)
    held.offer(note('a', '1'))
    held.cut(new Date(5), new Error('stalled'))
    held.offer(note('a', '2')) // dropped: the cut's Gap covers it
    const taken = held.take(only('a'))
    expect(labels(taken)).toEqual(['a:1', 'Gap 5-50'])
    expect(to(held, taken[1]!)).toEqual({ registrations: [], event: 0 })
  })
})
