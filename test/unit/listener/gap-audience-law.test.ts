/**
 * A law of who hears a held Gap, checked over random runs in which the 'gap' handlers, during a
 * Gap's own event or while told a held one, add, remove and re-add 'gap' handlers (the same
 * function twice too), add a 'notification' handler with an iterator (which releases what is
 * held at once) or remove them, throw, or close: every 'gap'
 * handler hears each Gap held for a consumer not yet come exactly once, live or told when a
 * 'notification' handler takes it, and is told only once the Gap's event is over. Merged Gaps
 * may tell a part again to a function that left between them and came back (held.ts), never
 * one that heard all of it. Pure: Delivery, EventHub, Subscription, no socket.
 */
import fc from 'fast-check'
import { expect, test, vi } from 'vitest'
import { Delivery } from '../../../src/listener/delivery.ts'
import { EventHub, type Registration } from '../../../src/listener/events.ts'
import type { ListenerEvents } from '../../../src/listener/listener-types.ts'
import { Subscription, type Gap, type Notification } from '../../../src/listener/subscription.ts'

/** A Gap numbered by the test; span() is replaced by one that also lists the numbers a merged Gap spans. */
type Parted = Gap & { part?: number; parts?: number[] }

vi.mock('../../../src/listener/subscription.ts', async (original) => {
  const actual = await original<typeof import('../../../src/listener/subscription.ts')>()
  return { ...actual, span: (earlier: Parted, later: Parted) => ({ ...actual.span(earlier, later), parts: [...partsOf(earlier), ...partsOf(later)] }) }
})

/** The Gaps a held (perhaps merged) Gap spans, by number: not by its window, which may cover one held apart. */
function partsOf(gap: Parted): number[] {
  return gap.parts ?? [gap.part!]
}

const FUNCTIONS = 3
const fn = fc.integer({ min: 0, max: FUNCTIONS - 1 })
/** What a 'gap' handler does when called during a reconnect's gap(), live or told: one action a call, in turn. */
const during = fc.oneof(
  fc.constant({ kind: 'nothing' as const }),
  fc.record({ kind: fc.constantFrom('add' as const, 'remove' as const, 'readd' as const), fn }),
  fc.record({ kind: fc.constant('consume' as const), once: fc.boolean() }),
  fc.constant({ kind: 'unconsume' as const }),
  fc.constant({ kind: 'throw' as const }),
  fc.record({ kind: fc.constant('twice' as const), fn }),
  fc.constant({ kind: 'close' as const }),
)
// Weighted towards Gaps in a row and handlers changing between them: where held Gaps merge.
const step = fc.oneof(
  { arbitrary: fc.constant({ kind: 'deliver' as const }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('gap' as const), actions: fc.array(during, { maxLength: 4 }) }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constantFrom('add' as const, 'remove' as const, 'readd' as const), fn }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('consume' as const), once: fc.boolean() }), weight: 1 },
  { arbitrary: fc.constant({ kind: 'unconsume' as const }), weight: 1 },
  { arbitrary: fc.constant({ kind: 'iterator' as const }), weight: 1 },
  { arbitrary: fc.constant({ kind: 'microtask' as const }), weight: 1 },
)

/** The hub as the listener has it, noting which emits of 'gap' are a Gap's own event and which tell a held one. */
class WatchedHub extends EventHub<ListenerEvents> {
  /** The emits of 'gap' under way: the Gap's number if it is its own event, 'told' if it tells a held one. */
  readonly stack: (number | 'told')[] = []
  /** The tells under way, numbered. */
  readonly tells: number[] = []
  #tells = 0
  onTell: (gap: Gap, list: readonly Registration<Gap>[]) => void = () => {}
  /** A tell passes the registrations to call; the Gap's own event passes none (the live list). */
  override emit<K extends keyof ListenerEvents>(event: K, value: ListenerEvents[K], ...list: never[]): void {
    if (event !== 'gap') return super.emit(event, value, ...list)
    const tell = list.length > 0
    if (tell) this.onTell(value as Gap, list[0] as unknown as readonly Registration<Gap>[])
    this.stack.push(tell ? 'told' : (value as Parted).part!)
    if (tell) this.tells.push(++this.#tells)
    try {
      super.emit(event, value, ...list)
    } finally {
      this.stack.pop()
      if (tell) this.tells.pop()
    }
  }
}

test("every 'gap' handler hears each held Gap once, live or told once its event is over, whatever the handlers do during the event", async () => {
  await fc.assert(fc.asyncProperty(fc.array(step, { maxLength: 20 }), async (steps) => {
    const errors: unknown[] = []
    const events = new WatchedHub((e) => void errors.push(e))
    const delivery = new Delivery(events, { stallTimeout: false })
    delivery.listened = new Set(['a']) // iterators take 'b' only: they release, and take nothing
    /** For each Gap (by number): the functions its own event called, and those told it. */
    const live = new Map<number, Set<number>>()
    const told = new Map<number, Set<number>>()
    const held = new Set<number>()
    /** The Gaps some tell covered: a 'notification' handler took them. */
    const released = new Set<number>()
    /** What each 'notification' handler was given, in order. */
    const given: number[][] = []
    let gaps = 0
    let sent = 0
    let actions: (typeof during extends fc.Arbitrary<infer T> ? T : never)[] = []
    const offs: ((() => void) | undefined)[] = []
    let closed = false
    /** The tell (numbered by WatchedHub) that told each function each Gap. */
    const tellOf = new Map<string, number>()
    const notificationOffs: (() => void)[] = []
    const functions: ((gap: Gap) => void)[] = []
    const registered = (i: number) => events.handlers('gap').some((r) => r.handler === functions[i])
    const add = (i: number) => {
      if (!registered(i)) offs[i] = events.on('gap', functions[i]!)
    }
    const remove = (i: number) => {
      offs[i]?.()
      offs[i] = undefined
    }
    const consume = (once: boolean) => {
      const mine: number[] = []
      given.push(mine)
      const off = events.on('notification', (n: Notification) => {
        mine.push(Number(n.payload))
        if (once) off()
      })
      notificationOffs.push(off)
      queueMicrotask(() => delivery.handlerAdded()) // as Listener.on() does
    }
    const iterator = () => delivery.subscribe(new Subscription({ channels: new Set(['b']), onDrain: (s) => delivery.drained(s) }))
    const act = (a: { kind: string; fn?: number; once?: boolean }) => {
      if (closed) return
      if (a.kind === 'add') add(a.fn!)
      else if (a.kind === 'remove') remove(a.fn!)
      else if (a.kind === 'readd') (remove(a.fn!), add(a.fn!))
      else if (a.kind === 'twice') events.on('gap', functions[a.fn!]!) // the same function registered again, for good
      else if (a.kind === 'consume') (consume(a.once!), iterator())
      else if (a.kind === 'unconsume') for (const off of notificationOffs.splice(0)) off()
      else if (a.kind === 'throw') throw new Error('thrown by a handler')
      else if (a.kind === 'close') {
        // As close() does: no handler hears anything more, and what was held is dropped.
        closed = true
        events.clear('error')
        delivery.end()
      }
    }
    const parts = (gap: Gap) => partsOf(gap)
    for (let i = 0; i < FUNCTIONS; i++) {
      functions.push((gap: Gap) => {
        const context = events.stack.at(-1)!
        if (context === 'told') {
          for (const n of parts(gap)) {
            const to = told.get(n)!
            const tell = events.tells.at(-1)!
            // Twice in one tell is two registrations of the same function, which hear each emit.
            expect(to.has(i) && tellOf.get(`${i}:${n}`) !== tell, `function ${i} told Gap ${n} twice`).toBe(false)
            tellOf.set(`${i}:${n}`, tell)
            to.add(i)
          }
        } else live.get(context)!.add(i)
        const a = actions.shift()
        if (a) act(a)
      })
    }
    events.onTell = (gap, list) => {
      const covered = parts(gap)
      for (const n of covered) released.add(n)
      // Only once the event of each part is over: until then, who heard it is not known.
      for (const n of covered) expect(events.stack, `Gap ${n} told during its own event`).not.toContain(n)
      const to = new Set(list.map((r) => functions.indexOf(r.handler as never)))
      for (let i = 0; i < FUNCTIONS; i++) {
        if (!registered(i)) continue
        const owed = covered.some((n) => !live.get(n)!.has(i) && !told.get(n)!.has(i))
        const heardAll = covered.every((n) => live.get(n)!.has(i) || told.get(n)!.has(i))
        if (owed) expect(to.has(i), `function ${i} not told Gaps ${covered} (heard live: ${covered.map((n) => [...live.get(n)!])})`).toBe(true)
        if (heardAll) expect(to.has(i), `function ${i} told Gaps ${covered} it heard`).toBe(false)
      }
    }
    for (const s of steps) {
      if (s.kind === 'deliver') delivery.deliver({ type: 'NotificationResponse', processId: 1, channel: 'a', payload: String(++sent) })
      else if (s.kind === 'gap') {
        const n = ++gaps
        live.set(n, new Set())
        told.set(n, new Set())
        actions.push(...s.actions)
        // Held if no 'notification' handler takes 'a' once what was held went to those there are.
        delivery.handlerAdded()
        if (events.handlers('notification').length === 0) held.add(n)
        delivery.gap({ type: 'Gap', from: new Date(10 * n), to: new Date(10 * n + 5), cause: undefined, part: n } as Parted)
      } else if (s.kind === 'iterator') iterator()
      else if (s.kind === 'microtask') await Promise.resolve()
      else act(s)
    }
    // A 'notification' handler that stays: it takes everything held, and every held Gap is told.
    actions = []
    consume(false)
    delivery.handlerAdded()
    await Promise.resolve()
    if (!closed) for (const n of held) expect(released.has(n), `Gap ${n} still held, or taken with no tell`).toBe(true)
    for (const mine of given) expect(mine, 'a handler given notifications out of order').toEqual([...mine].sort((x, y) => x - y))
    expect(errors.filter((e) => (e as Error).message !== 'thrown by a handler')).toEqual([])
  }), { numRuns: 3000 })
})
