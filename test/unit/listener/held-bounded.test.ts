/**
 * What no consumer took stays bounded over a long-lived listener's life. A channel listened on
 * whose consumer never comes is held up to highWaterMark, then cut off (stallTimeout): from then
 * on its notifications are dropped and only a Gap is owed. That Gap must not turn into one more
 * record per reconnect: with a 'gap' handler (which hears each reconnect's Gap as it comes) and
 * short-lived iterators on other channels (each one makes the held queue hand on what is theirs,
 * and note the cut's Gap so far), the cut's Gaps and the reconnects' Gaps alternated, no two in a
 * row heard by the same handlers, so none merged: two records per reconnect, for ever.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { Delivery } from '../../../src/listener/delivery.ts'
import { EventHub } from '../../../src/listener/events.ts'
import { Held } from '../../../src/listener/held.ts'
import type { ListenerEvents } from '../../../src/listener/listener-types.ts'
import { Subscription, type Gap, type ListenerItem, type Notification } from '../../../src/listener/subscription.ts'

const note = (channel: string, payload: string): Notification => ({ type: 'NotificationResponse', processId: 1, channel, payload })
const gap = (from: number, to: number): Gap => ({ type: 'Gap', from: new Date(from), to: new Date(to), cause: undefined })
const labels = (items: ListenerItem[]) => items.map((item) => (item.type === 'Gap' ? `Gap ${+item.from}-${+item.to}` : `${item.channel}:${item.payload}`))

describe('Held: the Gaps owed after the last notification stay bounded', () => {
  const handler = { handler: () => {}, called: 0 } // a 'gap' registration, as events.ts makes it

  test("cut-off Gaps and reconnect Gaps, alternating, are one of each however many reconnects come", () => {
    let clock = 100
    const held = new Held(() => clock)
    held.offer(note('a', 'kept'))
    held.cut(new Date(50), new Error('nobody came'))
    for (let i = 0; i < 1000; i++) {
      held.offer(note('a', 'dropped')) // noted for the cut's Gap
      clock += 10
      held.take((channel) => channel === 'b') // a short-lived iterator on b: the cut's Gap so far is noted
      held.offerGap(gap(clock, clock + 5), ['a'], { registrations: [handler], event: i + 1 }) // a reconnect, heard by the 'gap' handler
    }
    const taken = held.take((channel) => channel === 'a')
    // Before: 2001 items, a Gap per cut and per reconnect.
    expect(labels(taken)).toEqual(['a:kept', `Gap 50-${100 + 10 * 1000}`, `Gap 110-${100 + 10 * 1000 + 5}`])
    expect(taken.slice(1).map((g) => held.audience.get(g as Gap)!.registrations)).toEqual([[], [handler]])
    expect(held.empty).toBe(true)
  })
})

describe('Delivery: a channel nobody consumes, through many reconnects', () => {
  beforeEach(() => void vi.useFakeTimers())
  afterEach(() => void vi.useRealTimers())

  test("a 'notification' handler that comes at last makes the 'gap' handler hear the cut once, not once per reconnect", async () => {
    let delivery!: Delivery
    const events = new EventHub<ListenerEvents>(() => {}, () => delivery.settled())
    events.on('error', () => {}) // the stall's ConsumerStalledError
    delivery = new Delivery(events, { highWaterMark: 4, lowWaterMark: 1, stallTimeout: 1000 })
    delivery.listened = new Set(['a', 'b'])
    delivery.attach(() => {})
    const heard: Gap[] = []
    events.on('gap', (g) => void heard.push(g))
    for (let i = 0; i < 4; i++) delivery.deliver(note('a', String(i))) // nobody consumes a: held, up to highWaterMark
    vi.advanceTimersByTime(1000) // and cut off
    const reconnects = 200
    for (let i = 0; i < reconnects; i++) {
      delivery.deliver(note('a', 'dropped'))
      // A short-lived iterator on b, as a request handler might make.
      const s = new Subscription({ channels: new Set(['b']), onDrain: (sub) => delivery.drained(sub) })
      delivery.subscribe(s)
      await s.return()
      // A reconnect: the listener says its Gap to the 'gap' handlers, and to what is held.
      const reconnect = gap(i, i + 1)
      delivery.gap(reconnect)
    }
    expect(heard).toHaveLength(reconnects)
    const payloads: string[] = []
    events.on('notification', (n) => void payloads.push(n.payload))
    delivery.handlerAdded()
    expect(payloads).toEqual(['0', '1', '2', '3'])
    // It never heard the cut's Gap: once, spanning the cut. Before: once per reconnect.
    expect(heard.slice(reconnects)).toHaveLength(1)
    expect(heard.at(-1)!.cause?.message).toMatch(/waited 1000 ms for a consumer/)
  })
})
