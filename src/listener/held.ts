/**
 * What no consumer took, for the first consumer of each channel: the notifications on channels
 * nobody consumes yet, in order, and the Gaps that concern those channels. A Gap here concerns
 * the channels listened on that had no consumer when it came (a notification on one of them
 * lost in it would have been held), or, for a cut, the channels whose notifications it
 * dropped; it goes to each consumer that takes one of them, and stays for the others, however
 * many consumers of other channels come first. Only notifications count for backpressure. Pure.
 */
import { span, type Gap, type ListenerItem, type Notification } from './subscription.ts'

/**
 * Whom a Gap's 'gap' event came to: the registrations there were as it began, and the emit's
 * number (events.ts), by which holding.ts tells, once the event is over, which it reached.
 * A Gap no event told (a cut's) came to nobody.
 */
export interface Audience {
  readonly registrations: readonly { readonly handler: unknown; readonly called: number }[]
  readonly event: number
}

const nobody: Audience = { registrations: [], event: 0 }

/** A Gap, with the channels whose first consumer has yet to get it. */
interface HeldGap {
  readonly type: 'Gap'
  gap: Gap
  readonly channels: Set<string>
}

export class Held {
  readonly name = 'no consumer'
  /** In the order they came: what `take` hands on. */
  #items: (Notification | HeldGap)[] = []
  #notifications = 0
  /** Set while cut off: since when, why, and the channels whose notifications were dropped. */
  #cut: { from: Date; cause: Error; dropped: Set<string> } | undefined
  readonly #now: () => number
  /** Whom each Gap's 'gap' event came to (a 'notification' handler takes it for the others). */
  readonly audience = new WeakMap<Gap, Audience>()
  /** The channels `take` handed each Gap on for: what it holds again of a release cut short (holding.ts). */
  readonly takenFor = new WeakMap<Gap, ReadonlySet<string>>()
  /** When it was made: the stall check measures its wait from the pause, or from this. */
  readonly lastRead: number

  constructor(now: () => number) {
    this.#now = now
    this.lastRead = now()
  }

  /** What it holds against backpressure: its notifications (not its Gaps), or nothing once cut off. */
  get behind(): number {
    return this.#cut ? 0 : this.#notifications
  }

  /** Nothing held, no Gap owed, not cut off: it can go. */
  get empty(): boolean {
    return this.#items.length === 0 && !this.#cut
  }

  /** Holds a notification; returns the backlog it makes, 0 while cut off (dropped: the cut's Gap covers it). */
  offer(notification: Notification): number {
    if (this.#cut) {
      this.#cut.dropped.add(notification.channel)
      return 0
    }
    this.#items.push(notification)
    return ++this.#notifications
  }

  /**
   * Keeps a Gap for the first consumers of `channels` and of the channels it holds notifications
   * on (whatever the caller counts as listened: what is held was heard before the loss, so its
   * consumer must hear of the loss), merged with one held after the last notification whose
   * event came to the same registrations: one Gap spanning both, for the channels of either,
   * says no less. It keeps the later event's audience: a registration that event reached was
   * reached by both; a function that left between the two and came back is told both parts, the
   * first again (more, never less). Not only the last one: a cut's Gap (heard by nobody) and
   * a reconnect's (heard by the 'gap' handlers) alternate when an iterator on another channel
   * comes between reconnects (take() notes the cut's Gap so far), and a record of each, per
   * reconnect, would grow for the listener's whole life. With no notification between them,
   * their order is nobody's concern: an iterator gets Gaps in a row as one, a handler each that
   * it did not hear.
   */
  offerGap(gap: Gap, channels: Iterable<string>, audience = nobody): void {
    const concerned = new Set(channels)
    for (const item of this.#items) if (item.type !== 'Gap') concerned.add(item.channel)
    const same = this.#trailingGap(audience.registrations)
    if (same) {
      gap = same.gap = span(same.gap, gap)
      for (const channel of concerned) same.channels.add(channel)
    } else this.#items.push({ type: 'Gap', gap, channels: concerned })
    this.audience.set(gap, audience)
  }

  /** The Gap held after the last notification whose event came to the same `registrations`, if any. */
  #trailingGap(registrations: readonly unknown[]): HeldGap | undefined {
    for (let at = this.#items.length - 1; at >= 0; at--) {
      const item = this.#items[at]!
      if (item.type !== 'Gap') return undefined
      const came = this.audience.get(item.gap)!.registrations
      if (registrations.length === came.length && registrations.every((registration, i) => registration === came[i])) return item
    }
    return undefined
  }

  /** Stops holding: later notifications are dropped, and the channels they were on noted for the Gap. */
  cut(from: Date, cause: Error): void {
    this.#cut ??= { from, cause, dropped: new Set() }
  }

  /**
   * Removes and returns, in order, the notifications on channels `takes` takes and the Gaps that
   * concern one of them (those channels then have their Gap). A cut's Gap, up to now, concerns
   * the channels it dropped notifications of, and is handed on the same way; the cut ends once
   * nothing is held (else what is still held would hold the socket again at once, for another
   * stallTimeout, each time any consumer came), and goes on with its dropped channels noted anew.
   */
  take(takes: (channel: string) => boolean): ListenerItem[] {
    const cut = this.#cut
    if (cut && cut.dropped.size > 0) this.offerGap({ type: 'Gap', from: cut.from, to: new Date(this.#now()), cause: cut.cause }, cut.dropped)
    const taken: ListenerItem[] = []
    const kept: (Notification | HeldGap)[] = []
    for (const item of this.#items) {
      if (item.type !== 'Gap') {
        if (!takes(item.channel)) kept.push(item)
        else {
          taken.push(item)
          this.#notifications--
        }
        continue
      }
      const concerned = new Set<string>()
      for (const channel of item.channels) if (takes(channel)) concerned.add(channel)
      for (const channel of concerned) item.channels.delete(channel)
      if (concerned.size > 0) {
        taken.push(item.gap)
        this.takenFor.set(item.gap, concerned)
      }
      if (item.channels.size > 0) kept.push(item)
    }
    this.#items = kept
    this.#cut = cut && this.#notifications > 0 ? { ...cut, dropped: new Set() } : undefined
    return taken
  }
}
