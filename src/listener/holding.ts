/**
 * What no consumer took, from the moment it is held until a consumer comes for it: the queue
 * (held.ts) is made when first needed; an iterator takes its channels' part; the first
 * 'notification' handler takes all of it, and the 'gap' handlers are told the held Gaps whose
 * event did not reach them. Delivery (delivery.ts) decides what is held and when the socket
 * pauses; this decides who gets it, and in what order. Imports held.ts and types only.
 */
import type { EventHub } from './events.ts'
import { Held, type Audience } from './held.ts'
import type { ListenerEvents } from './listener-types.ts'
import type { Gap, ListenerItem, Subscription } from './subscription.ts'

/**
 * What Holding needs of Delivery: its state, read at each call (functions, since Delivery's
 * listened and hidden are replaced by the listener after it is made), and two calls back.
 */
export interface HoldingContext {
  readonly events: EventHub<ListenerEvents>
  /** The list of 'notification' handlers, live: it changes as handlers are added and removed. */
  readonly handlers: readonly unknown[]
  readonly now: () => number
  subscriptions(): readonly Subscription[]
  /** The channels listened on (Delivery.listened), the change feeds' own included. */
  listened(): ReadonlySet<string>
  /** The change feeds' own channels: no 'notification' handler takes them, nothing on them is held. */
  hidden(): ReadonlySet<string>
  /** A release begins: the new handler's stall clock starts, as handlerAdded() would start it. */
  releasing(): void
  /** What was held went to a consumer: the backlog changed. */
  moved(): void
}

export class Holding {
  readonly #context: HoldingContext
  #held: Held | undefined
  /** Set while a 'gap' event is under way (gap()): who heard a Gap released then is known only once it is over. */
  #gapEvent = false
  /** Held Gaps released during a 'gap' event, to tell once it is over. */
  #owed: { gap: Gap; audience: Audience }[] = []
  /** Set by end() (close()): what a release leaves is dropped, not held again; after the listener gave up it is kept, for the iterators made then. */
  #ended = false

  constructor(context: HoldingContext) {
    this.#context = context
  }

  /** The queue, while anything is held or it is cut off (Held.cut: it stays, to note what it drops for the cut's Gap). */
  get queue(): Held | undefined {
    return this.#held
  }

  /** The queue, made when first needed. */
  hold(): Held {
    return (this.#held ??= new Held(this.#context.now))
  }

  /** What was held on its channels, with the Gaps that concern them, to a new iterator (a feed's takes none). */
  adopt(subscription: Subscription): void {
    const held = this.#held
    if (!held || subscription.feed) return
    for (const item of held.take((channel) => subscription.takes(channel))) {
      if (item.type === 'Gap') subscription.offerGap(item)
      else subscription.offer(item)
    }
    if (held.empty) this.#held = undefined
  }

  /**
   * unlisten() or unlistenAll(): what was held on channels no longer listened on will never be
   * consumed (after a new listen(), its first consumer is owed what comes after that), so it
   * is dropped, with those channels' part of the held Gaps. Returns whether anything was held.
   */
  unlistened(): boolean {
    const held = this.#held
    if (!held) return false
    const { listened, hidden } = this.#context
    held.take((channel) => !listened().has(channel) || hidden().has(channel))
    if (held.empty) this.#held = undefined
    return true
  }

  /**
   * What is held, to the 'notification' handlers there are. Called by Delivery: from
   * handlerAdded(), and first thing in deliver(), gap(), subscribe(), failLate() and
   * unlistened() (a notification, a Gap, an iterator, one made after the listener gave up too,
   * an UNLISTEN coming before it ran), so that a handler hears what was held before what came
   * after it. None (removed before it ran): it stays held.
   */
  release(): void {
    const held = this.#held
    const { handlers, events } = this.#context
    if (!held || handlers.length === 0) return
    this.#context.releasing()
    this.#held = undefined
    const items = held.take(() => true)
    for (const [at, item] of items.entries()) {
      // The last 'notification' handler went (one that hears once, say): the rest waits for the
      // next consumer, as what came a moment later would.
      if (handlers.length === 0) {
        if (!this.#ended) this.#holdAgain(items.slice(at), held)
        break
      }
      if (item.type !== 'Gap') events.emit('notification', item)
      else if (this.#gapEvent) this.#owed.push({ gap: item, audience: held.audience.get(item)! })
      else this.#tell(item, held.audience.get(item)!)
    }
    this.#context.moved()
  }

  /**
   * A Gap, among what is held, for the first consumer of each of `unconsumed` and of each
   * channel something is held on; then the 'gap' event, to the 'gap' handlers. What is held notes
   * whom it comes to (its audience), so that a 'notification' handler added later takes the Gap
   * to the others only (#tell). A Gap released during the event (a 'gap' handler added a
   * 'notification' handler and made an iterator) is told once it is over.
   */
  gap(gap: Gap, unconsumed: readonly string[]): void {
    const { events } = this.#context
    // Its audience: the registrations there are, and the number of the emit that comes next.
    if (unconsumed.length > 0 || this.#held) this.hold().offerGap(gap, unconsumed, { registrations: events.handlers('gap').slice(), event: events.emits + 1 })
    // Never nested: gap() comes from a connection made, after an await, never from a handler.
    this.#gapEvent = true
    events.emit('gap', gap)
    this.#gapEvent = false
    for (const { gap, audience } of this.#owed.splice(0)) this.#tell(gap, audience)
  }

  /** close(): what was held, and what was owed, is dropped. */
  end(): void {
    this.#ended = true
    this.#held = undefined
    this.#owed = []
  }

  /**
   * Tells a held Gap to the 'gap' handlers whose function its event did not reach: those added
   * since, and those an earlier handler removed before the event came to them. Its audience
   * says whom it came to; a registration the event reached was called by it or by a later emit
   * (a removed one never is again). A function heard it if any of its registrations did: one
   * added again is not told twice. Only once the event is over: while it is under way, a
   * registration it has yet to reach may still be removed before it does (#gapEvent).
   */
  #tell(gap: Gap, { registrations, event }: Audience): void {
    const { events } = this.#context
    const heard = new Set<unknown>()
    for (const registration of registrations) if (registration.called >= event) heard.add(registration.handler)
    events.emit('gap', gap, events.handlers('gap').filter((registration) => !heard.has(registration.handler)))
  }

  /**
   * Holds again what a 'notification' handler was being given when the last of them went: a
   * notification on a channel still listened on, and a Gap for those of its channels still
   * listened on, with its audience; then an iterator made meanwhile takes its part.
   */
  #holdAgain(items: readonly ListenerItem[], was: Held): void {
    const listened = this.#context.listened()
    const hidden = this.#context.hidden()
    for (const item of items) {
      if (item.type !== 'Gap') {
        if (listened.has(item.channel)) this.hold().offer(item)
        continue
      }
      // The channels it concerned, not those no consumer takes now: one listened on since is
      // owed only what comes after; one whose iterator came during the release takes it below.
      const channels = [...was.takenFor.get(item)!].filter((channel) => listened.has(channel) && !hidden.has(channel))
      if (channels.length > 0) this.hold().offerGap(item, channels, was.audience.get(item))
    }
    // An iterator made by a handler during the release is the next consumer of its channels.
    for (const subscription of this.#context.subscriptions()) this.adopt(subscription)
  }
}
