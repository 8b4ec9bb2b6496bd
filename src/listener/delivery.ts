/**
 * Delivery and backpressure: every notification to every consumer (iterators and handlers),
 * and the decision to stop reading the socket when a consumer falls highWaterMark behind, and
 * to read again at lowWaterMark. A query in flight overrides the pause, since its answer must
 * be read. Knows nothing of connections beyond "pause or resume reading".
 */
import type { EventHub } from './events.ts'
import type { ListenerEvents } from './listener.ts'
import { Subscription, type Gap, type Notification } from './subscription.ts'

export interface Watermarks {
  highWaterMark?: number
  lowWaterMark?: number
}

export class Delivery {
  readonly #events: EventHub<ListenerEvents>
  readonly #highWaterMark: number
  readonly #lowWaterMark: number
  /** An array, replaced rather than changed: the hot path walks it with no iterator object. */
  #subscriptions: readonly Subscription[] = []
  /** The live list of 'notification' handlers, held so delivery can skip an empty one cheaply. */
  readonly #handlers: unknown[]
  /** Backpressure wants the socket paused; #inFlight > 0 overrides it, so a reply can be read. */
  #paused = false
  #socketPaused = false
  #inFlight = 0
  #setReading: ((paused: boolean) => void) | undefined
  readonly stats = { notifications: 0, maxBacklog: 0, pauses: 0 }

  constructor(events: EventHub<ListenerEvents>, options: Watermarks) {
    this.#events = events
    this.#handlers = events.handlers('notification')
    this.#highWaterMark = options.highWaterMark ?? 1024
    this.#lowWaterMark = options.lowWaterMark ?? Math.floor(this.#highWaterMark / 4)
    if (!(this.#highWaterMark >= 1) || !(this.#lowWaterMark >= 0) || this.#lowWaterMark >= this.#highWaterMark) {
      throw new RangeError(`watermarks need 0 <= lowWaterMark < highWaterMark, not ${this.#lowWaterMark} and ${this.#highWaterMark}`)
    }
  }

  /** True while backpressure holds the socket (a heartbeat could not be answered). */
  get paused(): boolean {
    return this.#paused
  }

  /** A new connection reads from the start; `setReading(true)` pauses it. */
  attach(setReading: (paused: boolean) => void): void {
    this.#setReading = setReading
    this.#socketPaused = false
    this.#update()
  }

  detach(): void {
    this.#setReading = undefined
  }

  subscribe(subscription: Subscription): void {
    this.#subscriptions = [...this.#subscriptions, subscription]
  }

  /** Called by a subscription after each read and when it ends. */
  drained(subscription?: Subscription): void {
    if (subscription?.ended) this.#subscriptions = this.#subscriptions.filter((other) => other !== subscription)
    if (this.#paused && this.backlog() <= this.#lowWaterMark) {
      this.#paused = false
      this.#update()
    }
  }

  /** The hot path: one notification, to every consumer. */
  deliver(notification: Notification): void {
    this.stats.notifications++
    let backlog = this.#events.pending
    const subscriptions = this.#subscriptions
    for (let i = 0; i < subscriptions.length; i++) {
      const length = subscriptions[i]!.offer(notification)
      if (length > backlog) backlog = length
    }
    if (this.#handlers.length !== 0) {
      this.#events.emit('notification', notification, this.#handlers as never)
      if (this.#events.pending > backlog) backlog = this.#events.pending
    }
    if (backlog > this.stats.maxBacklog) this.stats.maxBacklog = backlog
    if (backlog >= this.#highWaterMark && !this.#paused) {
      this.#paused = true
      this.stats.pauses++
      this.#update()
    }
  }

  gap(gap: Gap): void {
    for (const subscription of this.#subscriptions) subscription.offerGap(gap)
  }

  /** Ends every iterator. */
  end(): void {
    for (const subscription of this.#subscriptions) subscription.end()
  }

  /** A query's reply must be read even while consumers are behind. */
  beginQuery(): void {
    this.#inFlight++
    this.#update()
  }

  endQuery(): void {
    this.#inFlight--
    this.#update()
  }

  backlog(): number {
    let backlog = this.#events.pending
    const subscriptions = this.#subscriptions
    for (let i = 0; i < subscriptions.length; i++) if (subscriptions[i]!.length > backlog) backlog = subscriptions[i]!.length
    return backlog
  }

  #update(): void {
    const pause = this.#paused && this.#inFlight === 0
    if (pause === this.#socketPaused || !this.#setReading) return
    this.#socketPaused = pause
    this.#setReading(pause)
  }
}
