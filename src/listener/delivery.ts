/**
 * Delivery and backpressure: every notification to every consumer (iterators and handlers),
 * and the decision to stop reading the socket when a consumer falls highWaterMark behind, and
 * to read again at lowWaterMark. Three rules keep the promise "nothing lost without a Gap":
 * - nobody consuming a channel listened on yet (listen(), then a refresh, then the loop) is
 *   not a reason to drop: what no consumer of the user's takes (a change feed on the same
 *   channel is none) is held (held.ts), counted like a consumer's queue, for the next consumer
 *   that takes its channel, with the Gaps of the time it had none (holding.ts hands it on);
 * - a reply being awaited (a LISTEN) lets the socket be read past highWaterMark, since the
 *   reply comes after the backlog, but never past 4 × highWaterMark;
 * - a consumer that reads nothing for stallTimeout while it holds the socket paused is cut off
 *   and told (an 'error' event, a Gap when it reads again), so one abandoned iterator cannot
 *   stall the others forever.
 * Knows nothing of connections beyond "pause or resume reading".
 */
import { ConsumerStalledError } from './errors.ts'
import type { EventHub } from './events.ts'
import type { ListenerEvents } from './listener-types.ts'
import { Holding } from './holding.ts'
import type { Gap, Notification, Subscription } from './subscription.ts'
import { checkTimerDelay } from '../protocol/timer.ts'

export interface Watermarks {
  /** Pause the socket when a consumer is this many notifications behind; default 1024. */
  highWaterMark?: number
  /** Read again when every consumer is at most this many behind; default highWaterMark / 4. */
  lowWaterMark?: number
  /**
   * A consumer that holds the socket paused and reads nothing for this many ms is cut off
   * (ConsumerStalledError to 'error' handlers; the iterator gets a Gap when it reads again).
   * Default 30,000; false: wait for it forever.
   */
  stallTimeout?: number | false
}

export class Delivery {
  readonly #events: EventHub<ListenerEvents>
  readonly highWaterMark: number
  readonly lowWaterMark: number
  /** The hard bound, even while a reply is awaited. */
  readonly maxBacklog: number
  readonly #stallTimeout: number | false
  readonly #now: () => number
  /** An array, replaced rather than changed: the hot path walks it with no iterator object. */
  #subscriptions: readonly Subscription[] = []
  /** What no consumer took, for the next consumer that takes its channel (holding.ts). */
  readonly #holding: Holding
  /** The live list of 'notification' handlers, held so delivery can skip an empty one cheaply. */
  readonly #handlers: unknown[]
  #handlersProgress: number
  /** Backpressure wants the socket paused; #inFlight > 0 overrides it, so a reply can be read. */
  #paused = false
  /** At maxBacklog: paused even with a reply awaited. */
  #full = false
  #socketPaused = false
  #inFlight = 0
  #setReading: ((paused: boolean) => void) | undefined
  #stallTimer: ReturnType<typeof setTimeout> | undefined
  /** Set by end() and fail(): no consumer is cut off any more (no stall 'error' after the end). */
  #finished = false
  /** When backpressure last began to hold the socket: a consumer is idle no longer than that. */
  #pausedSince = 0
  /**
   * Everything committed before this was delivered: the send time of the last request
   * answered on the current connection (see Gap.from). Set by the listener.
   */
  confirmedAt = new Date()
  /**
   * The change feeds' own channels (set by the listener; a live set): only their feeds take
   * them, never a 'notification' handler, and with no feed left they are not held but dropped.
   */
  hidden: ReadonlySet<string> = new Set()
  /**
   * The channels listened on, as the listener's book has them at each call (set by the listener;
   * a live set): a LISTEN not yet answered is in it, an UNLISTEN not yet answered is not.
   */
  listened: ReadonlySet<string> = new Set()
  readonly stats = { notifications: 0, maxBacklog: 0, pauses: 0, stalls: 0 }

  constructor(events: EventHub<ListenerEvents>, options: Watermarks, now: () => number = Date.now) {
    this.#events = events
    this.#handlers = events.handlers('notification')
    this.#now = now
    this.#handlersProgress = now()
    this.#holding = new Holding({
      events,
      handlers: this.#handlers,
      now,
      subscriptions: () => this.#subscriptions,
      listened: () => this.listened,
      hidden: () => this.hidden,
      releasing: () => this.#handlerCame(),
      moved: () => this.#moved(),
    })
    this.highWaterMark = options.highWaterMark ?? 1024
    this.lowWaterMark = options.lowWaterMark ?? Math.floor(this.highWaterMark / 4)
    this.maxBacklog = 4 * this.highWaterMark
    this.#stallTimeout = options.stallTimeout ?? 30_000
    if (!Number.isInteger(this.highWaterMark) || !Number.isInteger(this.lowWaterMark) || this.lowWaterMark < 0 || this.lowWaterMark >= this.highWaterMark) {
      throw new RangeError(`watermarks need integers 0 <= lowWaterMark < highWaterMark, not ${this.lowWaterMark} and ${this.highWaterMark}`)
    }
    if (this.#stallTimeout !== false) {
      if (!(this.#stallTimeout > 0)) throw new RangeError(`stallTimeout must be positive or false, not ${this.#stallTimeout}`)
      checkTimerDelay('stallTimeout', this.#stallTimeout)
    }
  }

  /** True while backpressure wants the socket paused (a heartbeat could not be answered). */
  get paused(): boolean {
    return this.#socketPaused
  }

  /** A new connection reads from the start, unless consumers are still behind. */
  attach(setReading: (paused: boolean) => void): void {
    this.#setReading = setReading
    this.#socketPaused = false
    this.#update()
  }

  detach(): void {
    this.#setReading = undefined
  }

  /** A new iterator: it takes, from what no consumer took, what is on its channels (a feed's takes none). */
  subscribe(subscription: Subscription): void {
    this.#holding.release()
    this.#subscriptions = [...this.#subscriptions, subscription]
    if (!this.#holding.queue || subscription.feed) return
    this.#holding.adopt(subscription)
    this.#moved()
  }

  /**
   * unlisten() or unlistenAll(): what was held on channels no longer listened on will never be
   * consumed (after a new listen(), its first consumer is owed what comes after that), so it
   * is dropped, with those channels' part of the held Gaps, and holds the socket no longer.
   */
  unlistened(): void {
    this.#holding.release()
    if (this.#holding.unlistened()) this.drained()
  }

  /**
   * A 'notification' handler is being added (called by on() itself: listener.ts): its stall
   * clock starts now, before any notification reaches it, even one delivered before handlerAdded().
   */
  handlerComing(): void {
    this.#handlerCame()
  }

  /**
   * A 'notification' handler was added (called once on() has returned: listener.ts): it takes
   * everything held; the handlers' Gap is the 'gap' event, to the 'gap' handlers that did not
   * hear it when it came.
   */
  handlerAdded(): void {
    this.#handlerCame()
    this.#holding.release()
  }

  /**
   * Handlers with at most lowWaterMark promises pending held nothing back (an async 'gap'
   * handler re-reading state, a 'connected' one warming a cache): their stall clock starts
   * now, not at a pause this handler did not cause. Above it, they were blocking already, and
   * a handler that comes (after one that never settles was removed, say) restarts nothing.
   * Holding.release() calls it too (HoldingContext.releasing): once it has run, the new
   * handler's own promises are pending.
   */
  #handlerCame(): void {
    if (this.#events.pending <= this.lowWaterMark) this.#handlersProgress = this.#now()
  }

  /**
   * What was held went to a new consumer. If it holds the socket's worth now, pause at once:
   * the socket may have been read while the held queue was cut off, and the next notification
   * must not take the new consumer past the bound. If what was held was what paused it, resume.
   */
  #moved(): void {
    const backlog = this.backlog()
    if (backlog > this.stats.maxBacklog) this.stats.maxBacklog = backlog
    if (backlog >= this.highWaterMark) this.#behind(backlog)
    else this.drained()
  }

  /** Called by a subscription after each read and when it ends or is cut off. */
  drained(subscription?: Subscription): void {
    if (subscription?.ended) this.#subscriptions = this.#subscriptions.filter((other) => other !== subscription)
    if (!this.#paused && !this.#full) return
    const backlog = this.backlog()
    if (backlog <= this.lowWaterMark) this.#paused = false
    // Hysteresis as for the high-water mark, so a reply being awaited is not read one message at a time.
    if (backlog <= this.maxBacklog - (this.highWaterMark - this.lowWaterMark)) this.#full = false
    this.#update() // does nothing if neither changed
  }

  /** A handler's promise settled: the handlers are making progress. */
  settled(): void {
    this.#handlersProgress = this.#now()
    this.drained()
  }

  /** The hot path: one notification, to every consumer. */
  deliver(notification: Notification): void {
    // close() or giving up ended delivery; what the socket had buffered goes nowhere, not to handlers.
    if (this.#finished) return
    if (this.#holding.queue) this.#holding.release()
    this.stats.notifications++
    let backlog = this.#events.pending
    const subscriptions = this.#subscriptions
    const hidden = this.hidden.size !== 0 && this.hidden.has(notification.channel)
    const handlers = this.#handlers.length !== 0 && !hidden
    let taken = handlers || hidden // a feed's channel with no feed left: nobody will ever take it
    for (let i = 0; i < subscriptions.length; i++) {
      const subscription = subscriptions[i]!
      const behind = subscription.offer(notification)
      if (behind >= 0 && !subscription.feed) taken = true // a feed's iterator is no consumer of the user's
      if (behind > backlog) backlog = behind
    }
    // No consumer of the user's takes this channel (yet): hold it for the one that will, unless
    // it was unlistened (the server sent it before the UNLISTEN took effect).
    if (!taken && this.listened.has(notification.channel)) {
      const behind = this.#holding.hold().offer(notification)
      if (behind > backlog) backlog = behind
    }
    if (handlers) {
      this.#events.emit('notification', notification, this.#handlers as never)
      if (this.#events.pending > backlog) backlog = this.#events.pending
    }
    if (backlog > this.stats.maxBacklog) this.stats.maxBacklog = backlog
    if (backlog >= this.highWaterMark) this.#behind(backlog)
  }

  #behind(backlog: number): void {
    const fills = !this.#full && backlog >= this.maxBacklog // reaches the hard bound now
    if (this.#paused && !fills) return // held already, as it should be
    if (!this.#paused) {
      if (!this.#full) this.#pausedSince = this.#now() // it begins to hold the socket now
      this.#paused = true
      this.stats.pauses++
    }
    if (fills) this.#full = true
    this.#update()
    this.#armStallTimer(this.#stallTimeout)
  }

  /**
   * A Gap, to every iterator; and, among what is held, for the first consumer of each channel
   * listened on that no consumer of the user's takes (a notification lost on one would have
   * been held for it), and of each channel something is held on; then the 'gap' event, to the
   * 'gap' handlers (holding.ts).
   */
  gap(gap: Gap): void {
    this.#holding.release()
    const unconsumed = this.#unconsumed()
    for (const subscription of this.#subscriptions) subscription.offerGap(gap)
    this.#holding.gap(gap, unconsumed)
  }

  /** Ends every iterator cleanly (close()); what was held is dropped. */
  end(): void {
    this.#stop()
    this.#holding.end()
    for (const subscription of this.#subscriptions) subscription.end()
  }

  /** Ends every iterator with `error` once its queue is read (the listener gave up). */
  fail(error: Error): void {
    this.#stop()
    for (const subscription of this.#subscriptions) subscription.fail(error)
  }

  /** For an iterator made after the listener gave up: what was held on its channels, then the error. */
  failLate(subscription: Subscription, error: Error): void {
    this.#holding.release() // a handler added just before it takes what was held first, as with subscribe()
    this.#holding.adopt(subscription)
    subscription.fail(error)
  }

  /** A query's reply must be read even while consumers are behind (up to maxBacklog). */
  beginQuery(): void {
    this.#inFlight++
    this.#update()
  }

  endQuery(): void {
    this.#inFlight--
    this.#update()
  }

  /** The furthest any consumer is behind (held notifications count as a consumer). */
  backlog(): number {
    let backlog = this.#events.pending
    const held = this.#holding.queue
    if (held && held.behind > backlog) backlog = held.behind
    const subscriptions = this.#subscriptions
    for (let i = 0; i < subscriptions.length; i++) if (subscriptions[i]!.behind > backlog) backlog = subscriptions[i]!.behind
    return backlog
  }

  /**
   * The channels listened on that no consumer of the user's takes (handlers take every channel
   * but the feeds'; a feed's iterator is none): what comes on them is held, and so are the Gaps,
   * for their first consumer.
   */
  #unconsumed(): string[] {
    if (this.#handlers.length !== 0) return []
    return [...this.listened].filter((channel) => !this.hidden.has(channel) && !this.#subscriptions.some((subscription) => !subscription.feed && subscription.takes(channel)))
  }

  #update(): void {
    const pause = (this.#paused && this.#inFlight === 0) || this.#full
    if (pause === this.#socketPaused || !this.#setReading) return
    this.#socketPaused = pause
    this.#setReading(pause)
  }

  #armStallTimer(ms: number | false): void {
    if (ms === false || this.#stallTimer !== undefined || this.#finished) return
    this.#stallTimer = setTimeout(() => {
      this.#stallTimer = undefined
      this.#checkStalls()
    }, ms)
    this.#stallTimer.unref?.() // never keeps the process alive
  }

  #stop(): void {
    this.#finished = true
    this.#socketPaused = false // no socket is held any more
    clearTimeout(this.#stallTimer)
    this.#stallTimer = undefined
  }

  /**
   * Backpressure has held the socket for a while: cut off every consumer that blocks the
   * resume and has read nothing for stallTimeout; look again when the next one would be due.
   */
  #checkStalls(): void {
    const timeout = this.#stallTimeout as number
    if (!this.#paused && !this.#full) return
    const now = this.#now()
    let due = timeout
    const consider = (idleSince: number, behind: number, cut: (behind: number) => void) => {
      if (behind <= this.lowWaterMark) return
      const idle = now - Math.max(idleSince, this.#pausedSince)
      if (idle >= timeout) {
        this.stats.stalls++
        cut(behind)
      } else due = Math.min(due, timeout - idle)
    }
    const from = this.confirmedAt
    const held = this.#holding.queue
    for (const subscription of [...this.#subscriptions, ...(held ? [held] : [])]) {
      consider(subscription.lastRead, subscription.behind, (behind) => {
        const message = subscription === held
          ? `${behind} notifications have waited ${timeout} ms for a consumer of their channel (an iterator, or a 'notification' handler); later ones are dropped until one comes, and it will get a Gap`
          : `${subscription.name} read nothing for ${timeout} ms while ${behind} notifications waited for it; it is cut off and will get a Gap when it reads again`
        const error = new ConsumerStalledError(message, subscription.name, behind) // the held queue's name is 'no consumer'
        subscription.cut(from, error)
        this.#events.emit('error', error)
      })
    }
    consider(this.#handlersProgress, this.#events.pending, (behind) => {
      this.#events.forgetPending()
      this.#events.emit('error', new ConsumerStalledError(`'notification' handlers left ${behind} promises unsettled for ${timeout} ms; they no longer hold the socket paused`, "'notification' handlers", behind))
    })
    this.drained()
    if (this.#paused || this.#full) this.#armStallTimer(Math.max(1, due))
  }
}
