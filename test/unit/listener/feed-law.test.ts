/**
 * A law of Delivery: a change feed's iterator (Subscription.feed) changes nothing of what the
 * user's consumers get (before, a feed on a channel the user listens on too took what was held
 * for the user's first consumer; this law found that in 3 steps). The same random run of deliveries, Gaps, user iterators made
 * and ended, a handler added, and the listener giving up, with and without feed iterators among
 * them: every user iterator reads the same items. No backpressure (a high watermark, no
 * stallTimeout), so only what is held and who takes it can differ.
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { Delivery } from '../../../src/listener/delivery.ts'
import { EventHub } from '../../../src/listener/events.ts'
import type { ListenerEvents } from '../../../src/listener/listener-types.ts'
import { Subscription, type ListenerItem } from '../../../src/listener/subscription.ts'

type Step =
  | { kind: 'deliver'; channel: string }
  | { kind: 'gap' }
  | { kind: 'user'; channels: string[] | undefined }
  | { kind: 'feed'; channel: string }
  | { kind: 'endUser'; index: number }
  | { kind: 'endFeed'; index: number }
  | { kind: 'handler' }
  | { kind: 'fail' }
  | { kind: 'late'; channels: string[] | undefined; feed: boolean }
  | { kind: 'book'; change: 'unlistenA' | 'listenA' | 'userListensH' | 'userUnlistensH' }

const channel = fc.constantFrom('a', 'b', 'h') // 'h': a feed's own channel (hidden), named by a user iterator at times
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: channel.map((c) => ({ kind: 'deliver' as const, channel: c })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'gap' as const }) },
  { weight: 2, arbitrary: fc.option(fc.subarray(['a', 'b', 'h'], { minLength: 1 }), { nil: undefined }).map((channels) => ({ kind: 'user' as const, channels })) },
  { weight: 2, arbitrary: channel.map((c) => ({ kind: 'feed' as const, channel: c })) },
  { weight: 1, arbitrary: fc.nat(5).map((index) => ({ kind: 'endUser' as const, index })) },
  { weight: 1, arbitrary: fc.nat(5).map((index) => ({ kind: 'endFeed' as const, index })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'handler' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'fail' as const }) },
  { weight: 1, arbitrary: fc.constantFrom('unlistenA', 'listenA', 'userListensH', 'userUnlistensH').map((change) => ({ kind: 'book' as const, change })) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('late' as const), channels: fc.option(fc.subarray(['a', 'b', 'h'], { minLength: 1 }), { nil: undefined }), feed: fc.boolean() }) },
)

/** Runs the steps; with `feeds` false, the feed steps do nothing. Returns what each user iterator read, and what handlers heard. */
async function run(steps: Step[], feeds: boolean): Promise<string[][]> {
  let delivery!: Delivery
  const events = new EventHub<ListenerEvents>(() => {}, () => delivery.settled())
  delivery = new Delivery(events, { highWaterMark: 1_000_000, stallTimeout: false })
  const listened = new Set(['a', 'b', 'h'])
  delivery.listened = listened
  const hidden = new Set(['h'])
  delivery.hidden = hidden
  delivery.attach(() => {})
  const users: Subscription[] = []
  const feedSubs: Subscription[] = []
  const heard: string[] = []
  let failed: Error | undefined
  let n = 0
  let t = 0
  const make = (channels: string[] | undefined, feed: boolean) =>
    new Subscription({ channels: channels && new Set(channels), hidden, feed, onDrain: (s) => delivery.drained(s) })
  for (const s of steps) {
    switch (s.kind) {
      case 'deliver':
        if (!failed) delivery.deliver({ type: 'NotificationResponse', processId: 1, channel: s.channel, payload: `${s.channel}${n++}` })
        break
      case 'gap':
        if (!failed) delivery.gap({ type: 'Gap', from: new Date(t++), to: new Date(t++), cause: undefined })
        break
      case 'user':
        if (!failed) {
          const u = make(s.channels, false)
          delivery.subscribe(u)
          users.push(u)
        }
        break
      case 'feed':
        if (feeds && !failed) {
          const f = make([s.channel], true)
          delivery.subscribe(f)
          feedSubs.push(f)
        }
        break
      case 'endUser':
        users[s.index]?.end()
        break
      case 'endFeed':
        if (feeds) feedSubs[s.index]?.end()
        break
      case 'handler':
        if (!failed && heard.length === 0 && !events.handlers('notification').length) {
          events.on('notification', (x) => void heard.push(x.payload))
          events.on('gap', () => void heard.push('Gap'))
          delivery.handlerAdded()
        }
        break
      case 'fail':
        if (!failed) {
          failed = new Error('gave up')
          delivery.fail(failed)
        }
        break
      case 'book':
        // As the channel book and the listener do (unlisten() and a feed's channel the user listens on too).
        if (failed) break
        if (s.change === 'unlistenA') listened.delete('a')
        if (s.change === 'listenA') listened.add('a')
        if (s.change === 'userListensH') hidden.delete('h')
        if (s.change === 'userUnlistensH') hidden.add('h')
        if (s.change === 'unlistenA' || s.change === 'userUnlistensH') delivery.unlistened()
        break
      case 'late':
        if (failed && (feeds || !s.feed)) {
          const sub = make(s.channels, s.feed)
          delivery.failLate(sub, failed)
          if (!s.feed) users.push(sub)
        }
        break
    }
  }
  const read: string[][] = []
  for (const u of users) {
    const items: string[] = []
    for (;;) {
      if (!u.ended && u.length === 0) break // nothing more queued (a next() now would wait)
      let r: IteratorResult<ListenerItem>
      try {
        r = await u.next()
      } catch {
        items.push('error')
        break
      }
      if (r.done) break
      items.push(r.value.type === 'Gap' ? 'Gap' : r.value.payload)
    }
    read.push(items)
  }
  read.push(heard)
  return read
}

describe("a feed's iterator changes nothing of what the user's consumers get", () => {
  test('the same steps with and without feeds: every user iterator reads the same', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 40 }), async (steps) => {
        expect(await run(steps, true)).toEqual(await run(steps, false))
      }),
      { numRuns: 20000 },
    )
  })
})
