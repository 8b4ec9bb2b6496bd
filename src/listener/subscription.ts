/**
 * One consumer's view of the listener: a queue of notifications (and gap markers) read with
 * `for await`. The queue's length is what backpressure watches: the listener stops reading the
 * socket when a queue reaches the high-water mark. A consumer that stops reading for too long
 * is cut off: it no longer holds the socket, and when it reads again it is told, with a Gap,
 * that it missed what came meanwhile. Pure.
 */
import type { NotificationResponse } from '../protocol/backend/messages.ts'

/**
 * Notifications committed between `from` and `to` may have been lost: re-read the state they
 * describe. Everything committed before `from`, or after `to`, was or will be delivered.
 */
export interface Gap {
  readonly type: 'Gap'
  /**
   * A time before which nothing was lost: when the last request answered on the old connection
   * was sent (a heartbeat, a LISTEN, the re-LISTEN that opened it). PostgreSQL sends every
   * notification committed before a request's ReadyForQuery, so all of those were heard.
   * Measured on this machine's clock: allow for the skew between it and the server's.
   */
  readonly from: Date
  /** When the new connection was listening again on every channel (or the consumer read again). */
  readonly to: Date
  /** Why: the connection's loss, or a ConsumerStalledError for a consumer that was cut off. */
  readonly cause: Error | undefined
}

/** One Gap for two in a row: from the earlier start to the later end, with the later one's cause. */
export const span = (earlier: Gap, later: Gap): Gap => ({ ...later, from: earlier.from < later.from ? earlier.from : later.from, to: earlier.to > later.to ? earlier.to : later.to })

export type Notification = NotificationResponse
export type ListenerItem = Notification | Gap

export interface SubscriptionOptions {
  /** Only notifications on these channels; default all. */
  channels?: ReadonlySet<string> | undefined
  /** Without `channels`: all but these (the change feeds' own channels; a live set). */
  hidden?: ReadonlySet<string> | undefined
  /** Include Gap items; default true. */
  gaps?: boolean
  /** Told after every read and at the end, so the listener can resume reading the socket. */
  onDrain?: (subscription: Subscription) => void
  /** Told once, when the subscription ends for any reason (to remove an abort listener). */
  onEnd?: () => void
  /** How the listener names it in a ConsumerStalledError. */
  name?: string
  /** A change feed's or an outbox's: no consumer of the user's, so what is held is not its. */
  feed?: boolean
  /** The clock, in milliseconds; injectable for tests. */
  now?: () => number
}

let made = 0

export class Subscription implements AsyncIterableIterator<ListenerItem> {
  readonly name: string
  readonly feed: boolean
  /** Items waiting; `#head` is the next to read (shifting an array is O(n)). */
  #items: ListenerItem[] = []
  #head = 0
  /**
   * next() calls waiting for an item, oldest first: an async iterator may be asked again before
   * its last answer came (Promise.all of two next(), a feed's overlapping reads), and each call
   * gets its own item, in call order.
   */
  #waiters: { resolve(result: IteratorResult<ListenerItem>): void; reject(error: Error): void }[] = []
  #ended = false
  /** Set by fail(): thrown by next() once the queue is read. */
  #failure: Error | undefined
  /** Set while cut off: the gap to report when the consumer reads again. */
  #cut: { from: Date; cause: Error } | undefined
  #lastRead: number
  readonly #channels: ReadonlySet<string> | undefined
  readonly #hidden: ReadonlySet<string> | undefined
  readonly #gaps: boolean
  readonly #onDrain: (subscription: Subscription) => void
  readonly #onEnd: () => void
  readonly #now: () => number

  constructor(options: SubscriptionOptions = {}) {
    this.#channels = options.channels
    this.#hidden = options.hidden
    this.#gaps = options.gaps ?? true
    this.#onDrain = options.onDrain ?? (() => {})
    this.#onEnd = options.onEnd ?? (() => {})
    this.#now = options.now ?? Date.now
    this.#lastRead = this.#now()
    this.feed = options.feed ?? false
    this.name = options.name ?? `iterator #${++made}${this.#channels ? ` on ${[...this.#channels].map((c) => JSON.stringify(c)).join(', ')}` : ''}`
  }

  /** Items queued and not yet read. */
  get length(): number {
    return this.#items.length - this.#head
  }

  /** Slots the queue's array holds, read ones included: what compaction keeps near the length. */
  get retained(): number {
    return this.#items.length
  }

  /** What this consumer holds against backpressure: its queue, or nothing once cut off. */
  get behind(): number {
    return this.#cut ? 0 : this.length
  }

  /** When it last read an item (or was made, or was let back in after a cut). */
  get lastRead(): number {
    return this.#lastRead
  }

  get ended(): boolean {
    return this.#ended
  }

  get cutOff(): boolean {
    return this.#cut !== undefined
  }

  /**
   * Offers a notification; returns what the consumer is now behind, or -1 if it does not take
   * this channel (or has ended). A consumer cut off takes it in the sense that its Gap covers it.
   */
  offer(notification: Notification): number {
    if (!this.takes(notification.channel)) return -1
    if (this.#cut) return 0
    return this.#push(notification)
  }

  /** Whether it takes notifications on `channel`. */
  takes(channel: string): boolean {
    if (this.#ended) return false
    return this.#channels ? this.#channels.has(channel) : !this.#hidden?.has(channel)
  }

  /**
   * Queues a Gap, merged with the last item queued if that is a Gap too: two Gaps in a row say
   * no more than one spanning both, and a consumer that reads nothing through many reconnects
   * must not collect a Gap for each. A Gap while cut off is already covered by the cut's own
   * (it started earlier and ends later).
   */
  offerGap(gap: Gap): void {
    if (this.#ended || this.#cut || !this.#gaps) return
    const last = this.#items.length > this.#head ? this.#items[this.#items.length - 1]! : undefined
    if (last?.type !== 'Gap') this.#push(gap)
    else this.#items[this.#items.length - 1] = span(last, gap)
  }

  /**
   * Stops taking notifications, so this consumer no longer holds the socket paused. What it
   * had queued stays; once that is read, next() gives a Gap from `from` to that moment, and
   * the consumer takes notifications again.
   */
  cut(from: Date, cause: Error): void {
    if (this.#ended || this.#cut) return
    this.#cut = { from, cause }
    this.#onDrain(this)
  }

  #push(item: ListenerItem): number {
    const waiter = this.#waiters.shift()
    if (waiter) {
      this.#lastRead = this.#now()
      waiter.resolve({ value: item, done: false })
      return 0
    }
    this.#items.push(item)
    return this.#items.length - this.#head
  }

  next(): Promise<IteratorResult<ListenerItem>> {
    this.#lastRead = this.#now()
    if (this.#head < this.#items.length) {
      const value = this.#items[this.#head]!
      this.#items[this.#head++] = undefined as unknown as ListenerItem
      // Compact once half the array is read, so memory follows the backlog, not the history.
      if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
        this.#items = this.#items.slice(this.#head)
        this.#head = 0
      }
      this.#onDrain(this)
      return Promise.resolve({ value, done: false })
    }
    const cut = this.#cut
    if (cut) {
      // Read up: let it back in (unless it has failed), and say what it missed.
      this.#cut = undefined
      if (this.#gaps) return Promise.resolve({ value: { type: 'Gap', from: cut.from, to: new Date(this.#lastRead), cause: cut.cause }, done: false })
    }
    const failure = this.#failure
    if (failure) {
      this.#failure = undefined
      return Promise.reject(failure)
    }
    if (this.#ended) return Promise.resolve({ value: undefined, done: true })
    return new Promise((resolve, reject) => void this.#waiters.push({ resolve, reject }))
  }

  /** Ends the iteration: what is queued is dropped, a waiting next() finishes. */
  return(): Promise<IteratorResult<ListenerItem>> {
    this.end()
    return Promise.resolve({ value: undefined, done: true })
  }

  /** Ends it cleanly (close(), an abort, return()): the queue is dropped. */
  end(): void {
    if (this.#ended) return
    this.#items = []
    this.#head = 0
    this.#cut = undefined
    this.#finish()
  }

  /**
   * Ends it with an error (the listener gave up): what is queued is still read, then next()
   * throws `error` once, then the iteration is done.
   */
  fail(error: Error): void {
    if (this.#ended) return
    this.#failure = error
    this.#finish()
  }

  #finish(): void {
    this.#ended = true
    // The failure goes to the oldest waiting call, once, as next() throws it once; the rest are done.
    for (const waiter of this.#waiters.splice(0)) {
      const failure = this.#failure
      this.#failure = undefined
      if (failure) waiter.reject(failure)
      else waiter.resolve({ value: undefined, done: true })
    }
    this.#onDrain(this)
    this.#onEnd()
  }

  [Symbol.asyncIterator](): this {
    return this
  }
}
