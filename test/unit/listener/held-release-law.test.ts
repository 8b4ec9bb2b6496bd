/**
 * A law of what is held, checked over random runs in which the 'notification' handlers that
 * take it do what user code does while it is released to them one by one: remove themselves
 * (after one call, or a few), add another handler, make an iterator. Every notification held
 * for want of a consumer goes once to the next consumer of its channel (one emit to the
 * handlers, or one iterator), each consumer gets what it gets in order, and nothing stays held
 * on a channel that a consumer takes. Pure: Delivery, EventHub, Subscription, no socket.
 */
import fc from 'fast-check'
import { expect, test } from 'vitest'
import { Subscription, type ListenerItem, type Notification } from '../../../src/listener/subscription.ts'
import { deliverySetup } from '../../support/delivery.ts'

const channel = fc.constantFrom('a', 'b')
const call = fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined })
const step = fc.oneof(
  fc.record({ kind: fc.constant('deliver' as const), channel, count: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('gap' as const) }),
  fc.record({ kind: fc.constant('iterator' as const), channel: fc.option(channel, { nil: undefined }) }),
  // A handler that removes itself at its `leavesAt`th call, and at others makes an iterator or adds a handler.
  fc.record({ kind: fc.constant('handler' as const), leavesAt: call, makesAt: call, makesOn: fc.option(channel, { nil: undefined }), addsAt: call }),
)

test('a held notification goes once to the next consumer of its channel, in order, whatever its handlers do meanwhile', async () => {
  await fc.assert(fc.asyncProperty(fc.array(step, { maxLength: 30 }), async (steps) => {
    const { delivery, events } = deliverySetup({ stallTimeout: false, errors: 'throw', settled: false })
    const iterators: Subscription[] = []
    /** What each consumer was given, by number: handlers `h<n>`, iterators by their index. */
    const given = new Map<string, number[]>()
    const give = (consumer: string, n: Notification) => given.set(consumer, [...(given.get(consumer) ?? []), Number(n.payload)])
    /** Each notification's emits to the handlers (one emit reaches every handler then registered). */
    const emits = new Map<number, number>()
    let emitting = -1
    let handlers = 0
    const held = new Set<number>()
    let sent = 0
    const iterator = (on: string | undefined) => {
      const made = new Subscription({ channels: on ? new Set([on]) : undefined, onDrain: (s) => delivery.drained(s) })
      delivery.subscribe(made)
      iterators.push(made)
    }
    const handler = (spec: { leavesAt?: number; makesAt?: number; makesOn?: string; addsAt?: number }) => {
      const name = `h${handlers++}`
      let calls = 0
      const off: () => void = events.on('notification', (n) => {
        calls++
        give(name, n)
        if (emitting !== Number(n.payload)) emits.set(Number(n.payload), (emits.get(Number(n.payload)) ?? 0) + 1)
        emitting = Number(n.payload)
        if (calls === spec.makesAt) iterator(spec.makesOn)
        if (calls === spec.addsAt) handler({})
        if (calls === spec.leavesAt) off()
      })
      delivery.handlerAdded()
      emitting = -1
    }
    for (const s of steps) {
      if (s.kind === 'deliver') {
        for (let i = 0; i < s.count; i++) {
          const n = sent++
          const taken = events.has('notification') || iterators.some((it) => it.takes(s.channel))
          if (!taken) held.add(n)
          delivery.deliver({ type: 'NotificationResponse', processId: 1, channel: s.channel, payload: String(n) })
          emitting = -1
        }
      } else if (s.kind === 'gap') delivery.gap({ type: 'Gap', from: new Date(0), to: new Date(1), cause: undefined })
      else if (s.kind === 'iterator') iterator(s.channel)
      else handler(s)
    }
    // What each iterator was given, read out of its queue.
    for (const [at, it] of iterators.entries()) {
      while (it.length > 0) {
        const item = (await it.next()).value as ListenerItem
        if (item.type !== 'Gap') give(`i${at}`, item)
      }
    }
    // Still held: taken by an iterator on every channel, made last.
    const rest = new Subscription({})
    delivery.subscribe(rest)
    const left: Notification[] = []
    while (rest.length > 0) {
      const item = (await rest.next()).value as ListenerItem
      if (item.type !== 'Gap') left.push(item)
    }
    for (const numbers of given.values()) expect(numbers).toEqual([...numbers].sort((x, y) => x - y).filter((n, i, all) => all.indexOf(n) === i))
    for (const n of held) {
      const byIterators = [...given.entries()].filter(([consumer, numbers]) => consumer.startsWith('i') && numbers.includes(n)).length
      const byHandlers = emits.get(n) ?? 0
      const stillHeld = left.filter((x) => Number(x.payload) === n).length
      expect(byIterators + byHandlers + stillHeld).toBe(1)
    }
    // Nothing waits on a channel that a consumer takes.
    for (const n of left) {
      expect(events.has('notification')).toBe(false)
      expect(iterators.some((it) => it.takes(n.channel))).toBe(false)
    }
  }), { numRuns: 3000 })
})
