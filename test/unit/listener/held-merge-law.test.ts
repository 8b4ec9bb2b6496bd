/**
 * What is held merges a new Gap into any Gap held after the last notification that the same
 * 'gap' handlers heard, not only into the last item: a property over random sequences of
 * notifications, Gaps (heard by different lists of 'gap' handlers), cuts and takes (iterators on
 * some channels, and at the end a 'notification' handler taking everything), checked against a
 * reference that never merges. Each Gap offered, and each cut's Gap, is a part; span() is
 * replaced by one that also lists the parts a merged Gap spans, so every law is checked part by
 * part: nothing the reference hands on is missing (in the same place between notifications),
 * nothing is handed on twice to one consumer, every window covers its parts', and a merged Gap
 * records the 'gap' handlers that heard each of its parts (a handler hears each part once: live,
 * or from what is held, never both).
 */
import fc from 'fast-check'
import { expect, test, vi } from 'vitest'
import type { Gap, ListenerItem, Notification } from '../../../src/listener/subscription.ts'

type Parted = Gap & { key?: string; parts?: string[] }

vi.mock('../../../src/listener/subscription.ts', async (original) => {
  const actual = await original<typeof import('../../../src/listener/subscription.ts')>()
  return { ...actual, span: (earlier: Parted, later: Parted) => ({ ...actual.span(earlier, later), parts: [...partsOf(earlier), ...partsOf(later)] }) }
})

const { Held } = await import('../../../src/listener/held.ts')

/** The parts a Gap spans: its own key, or the cut's (its cause and end name it: the clock moves on every step). */
function partsOf(gap: Parted): string[] {
  return gap.parts ?? [gap.key ?? `cut ${(gap.cause as Error).message} ${+gap.to}`]
}

const CHANNELS = ['a', 'b', 'c']
/** Two 'gap' registrations, as events.ts makes them. */
const h = { handler: () => {}, called: 0 }
const k = { handler: () => {}, called: 0 }
const HEARD: (readonly (typeof h)[])[] = [[], [h], [k], [h, k], [k, h]]

type Step =
  | { op: 'offer'; channel: string }
  | { op: 'gap'; channels: string[]; heard: number }
  | { op: 'cut' }
  | { op: 'take'; channels: string[] }

const channels = fc.subarray(CHANNELS)
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constant('offer' as const), channel: fc.constantFrom(...CHANNELS) }),
  fc.record({ op: fc.constant('gap' as const), channels, heard: fc.nat(HEARD.length - 1) }),
  fc.record({ op: fc.constant('cut' as const) }),
  fc.record({ op: fc.constant('take' as const), channels }),
)

interface RefGap {
  readonly type: 'Gap'
  readonly key: string
  readonly heard: readonly unknown[]
  readonly channels: Set<string>
}

/** Held as it would be if no two Gaps were ever merged: each part where it came, for whom it concerns. */
class Reference {
  items: (Notification | RefGap)[] = []
  notifications = 0
  cut: { cause: Error; dropped: Set<string> } | undefined
  constructor(readonly windows: Map<string, { from: number; to: number }>, readonly now: () => number) {}
  offer(notification: Notification): void {
    if (this.cut) return void this.cut.dropped.add(notification.channel)
    this.items.push(notification)
    this.notifications++
  }
  offerGap(key: string, channels: Iterable<string>, heard: readonly unknown[]): void {
    const concerned = new Set(channels)
    for (const item of this.items) if (item.type !== 'Gap') concerned.add(item.channel)
    this.items.push({ type: 'Gap', key, heard, channels: concerned })
  }
  take(takes: (channel: string) => boolean, from: number): (Notification | RefGap)[] {
    const cut = this.cut
    if (cut && cut.dropped.size > 0) {
      const key = `cut ${cut.cause.message} ${this.now()}`
      this.windows.set(key, { from, to: this.now() })
      this.offerGap(key, cut.dropped, [])
    }
    const taken: (Notification | RefGap)[] = []
    const kept: (Notification | RefGap)[] = []
    for (const item of this.items) {
      if (item.type !== 'Gap') {
        if (takes(item.channel)) {
          taken.push(item)
          this.notifications--
        } else kept.push(item)
        continue
      }
      let concerned = false
      for (const channel of [...item.channels]) {
        if (!takes(channel)) continue
        concerned = true
        item.channels.delete(channel)
      }
      if (concerned) taken.push(item)
      if (item.channels.size > 0) kept.push(item)
    }
    this.items = kept
    this.cut = cut && this.notifications > 0 ? { ...cut, dropped: new Set() } : undefined
    return taken
  }
}

/** Splits what was taken at its notifications: the parts of the Gaps between each two. */
function segments<T>(items: (Notification | T)[], parts: (gap: T) => string[]): { notifications: Notification[]; between: string[][] } {
  const notifications: Notification[] = []
  const between: string[][] = [[]]
  for (const item of items) {
    if ((item as Notification).type === 'NotificationResponse') {
      notifications.push(item as Notification)
      between.push([])
    } else between.at(-1)!.push(...parts(item as T))
  }
  return { notifications, between }
}

test('merged Gaps lose nothing, say nothing twice, cover their parts, and keep who heard them', () => {
  fc.assert(
    fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
      let clock = 1000
      const windows = new Map<string, { from: number; to: number }>()
      const heardOf = new Map<string, readonly unknown[]>()
      const held = new Held(() => clock)
      const reference = new Reference(windows, () => clock)
      let cutFrom = 0
      let cuts = 0
      let gaps = 0
      let payloads = 0

      const check = (real: ListenerItem[], expected: (Notification | RefGap)[], handler: boolean) => {
        const got = segments(real, (gap: Gap) => partsOf(gap as Parted))
        const owed = segments(expected, (gap: RefGap) => [gap.key])
        expect(got.notifications).toEqual(owed.notifications)
        const all = got.between.flat()
        expect(new Set(all).size).toBe(all.length) // no part twice to one consumer
        for (const [at, parts] of owed.between.entries()) for (const part of parts) expect(got.between[at]).toContain(part)
        for (const item of real) {
          if (item.type !== 'Gap') continue
          for (const part of partsOf(item as Parted)) {
            const window = windows.get(part)!
            expect(+item.from).toBeLessThanOrEqual(window.from)
            expect(+item.to).toBeGreaterThanOrEqual(window.to)
            // Each part was heard, as it came, by exactly the handlers the merged Gap says.
            if (handler) expect(held.audience.get(item)!.registrations).toEqual(heardOf.get(part) ?? [])
          }
        }
      }

      for (const s of steps) {
        clock += 10
        if (s.op === 'offer') {
          const notification: Notification = { type: 'NotificationResponse', processId: 1, channel: s.channel, payload: String(payloads++) }
          held.offer(notification)
          reference.offer(notification)
        } else if (s.op === 'gap') {
          const key = `gap ${gaps++}`
          const heard = HEARD[s.heard]!
          const gap: Parted = { type: 'Gap', from: new Date(clock - 5), to: new Date(clock), cause: new Error(key), key }
          windows.set(key, { from: clock - 5, to: clock })
          heardOf.set(key, heard)
          held.offerGap(gap, s.channels, { registrations: heard, event: gaps })
          reference.offerGap(key, s.channels, heard)
        } else if (s.op === 'cut') {
          if (!reference.cut) cutFrom = clock - 7
          const cause = new Error(`cut ${cuts++}`)
          held.cut(new Date(clock - 7), cause)
          reference.cut ??= { cause, dropped: new Set() }
        } else {
          const takes = (channel: string) => s.channels.includes(channel)
          check(held.take(takes), reference.take(takes, cutFrom), false)
        }
      }
      clock += 10
      // At last a 'notification' handler: it takes everything; each 'gap' handler hears what it did not.
      check(held.take(() => true), reference.take(() => true, cutFrom), true)
      expect(held.empty).toBe(true)
    }),
    { numRuns: 2000 },
  )
})
