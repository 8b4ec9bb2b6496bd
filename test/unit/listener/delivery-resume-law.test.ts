/**
 * A law of backpressure, checked over random runs of everything that moves it: the socket is
 * never left paused while every consumer is at most lowWaterMark behind (nothing would resume
 * it then but the stall timer, stallTimeout later, with no error to say why), and no queue
 * passes the hard bound. The runs mix iterators read, ended and abandoned; async handlers
 * added, removed and settled in any order; replies awaited; reconnects with their Gaps;
 * channels unlistened; and time passing for the stall checker.
 */
import { afterEach, beforeEach, expect, test, vi } from 'vitest'
import fc from 'fast-check'
import { Delivery } from '../../../src/listener/delivery.ts'
import { EventHub } from '../../../src/listener/events.ts'
import type { ListenerEvents } from '../../../src/listener/listener-types.ts'
import { Subscription, type Notification } from '../../../src/listener/subscription.ts'

const note = (payload: string, channel: string): Notification => ({ type: 'NotificationResponse', processId: 1, channel, payload })
const channel = fc.constantFrom('a', 'b', 'c')

const step = fc.oneof(
  fc.record({ kind: fc.constant('deliver' as const), channel, count: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ kind: fc.constant('read' as const), which: fc.nat(), count: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ kind: fc.constant('return' as const), which: fc.nat() }),
  fc.record({ kind: fc.constant('iterator' as const), channel: fc.option(fc.constantFrom('a', 'b'), { nil: undefined }) }),
  fc.record({ kind: fc.constant('handler' as const), async: fc.boolean() }),
  fc.record({ kind: fc.constant('removeHandler' as const), which: fc.nat() }),
  fc.record({ kind: fc.constant('settle' as const), which: fc.nat(), all: fc.boolean() }),
  fc.record({ kind: fc.constant('beginQuery' as const) }),
  fc.record({ kind: fc.constant('endQuery' as const) }),
  fc.record({ kind: fc.constant('reconnect' as const) }),
  fc.record({ kind: fc.constant('unlisten' as const), channel }),
  fc.record({ kind: fc.constant('listen' as const), channel }),
  fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 1, max: 1500 }) }),
)

beforeEach(() => vi.useFakeTimers())
afterEach(() => vi.useRealTimers())

test('the socket is never left paused with every consumer at most lowWaterMark behind, nor any queue past 4 × highWaterMark', async () => {
  await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.array(step, { maxLength: 60 }), async (highWaterMark, steps) => {
    const lowWaterMark = Math.floor(highWaterMark / 4)
    let delivery!: Delivery
    const events = new EventHub<ListenerEvents>(() => {}, () => delivery.settled())
    events.on('error', () => {}) // ConsumerStalledError
    delivery = new Delivery(events, { highWaterMark, lowWaterMark, stallTimeout: 1000 })
    const listened = new Set(['a', 'b', 'c'])
    delivery.listened = listened
    /** What the current connection was last told; a reconnect's new one starts reading. */
    let paused = false
    let connections = 0
    const attach = () => {
      const connection = ++connections
      paused = false
      delivery.attach((pause) => {
        if (connection === connections) paused = pause
      })
    }
    attach()
    const iterators: Subscription[] = []
    const removals: (() => void)[] = []
    const unsettled: (() => void)[] = []
    let queries = 0
    let sent = 0
    const pick = <T>(list: T[], which: number) => list[which % Math.max(1, list.length)]
    for (const s of steps) {
      switch (s.kind) {
        case 'deliver': // a paused socket hands on nothing more
          for (let i = 0; i < s.count && !paused; i++) delivery.deliver(note(String(sent++), s.channel))
          break
        case 'read': {
          const iterator = pick(iterators, s.which)
          for (let i = 0; iterator && i < s.count && iterator.length > 0; i++) void iterator.next()
          break
        }
        case 'return':
          void pick(iterators, s.which)?.return()
          break
        case 'iterator': {
          const iterator = new Subscription({ channels: s.channel ? new Set([s.channel]) : undefined, onDrain: (x) => delivery.drained(x) })
          delivery.subscribe(iterator)
          iterators.push(iterator)
          break
        }
        case 'handler':
          removals.push(events.on('notification', () => (s.async ? new Promise<void>((resolve) => unsettled.push(resolve)) : undefined)))
          delivery.handlerAdded()
          break
        case 'removeHandler':
          removals.splice(s.which % Math.max(1, removals.length), 1)[0]?.()
          break
        case 'settle':
          if (s.all) unsettled.splice(0).forEach((resolve) => resolve())
          else unsettled.splice(s.which % Math.max(1, unsettled.length), 1)[0]?.()
          break
        case 'beginQuery':
          queries++
          delivery.beginQuery()
          break
        case 'endQuery':
          if (queries === 0) break
          queries--
          delivery.endQuery()
          break
        case 'reconnect':
          delivery.detach()
          delivery.gap({ type: 'Gap', from: new Date(), to: new Date(), cause: undefined })
          attach()
          break
        case 'unlisten':
          listened.delete(s.channel)
          delivery.unlistened()
          break
        case 'listen':
          listened.add(s.channel)
          break
        case 'wait':
          await vi.advanceTimersByTimeAsync(s.ms)
          break
      }
      await vi.advanceTimersByTimeAsync(0) // settled promises are heard
      const backlog = delivery.backlog()
      expect(paused).toBe(delivery.paused)
      if (paused && queries === 0) expect(backlog).toBeGreaterThan(lowWaterMark)
      // The last read came below 4 × highWaterMark, and adds one item to a queue, or a promise
      // per 'notification' handler (three handlers: three promises), plus a Gap, which does not
      // pause by itself.
      expect(backlog).toBeLessThanOrEqual(4 * highWaterMark + Math.max(1, removals.length))
    }
  }), { numRuns: 2000 })
})
