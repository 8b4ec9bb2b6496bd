/**
 * One consumer's view of the listener: a queue of notifications (and gap markers) read with
 * `for await`. The queue's length is what backpressure watches: the listener stops reading the
 * socket when a queue reaches the high-water mark. Pure.
 */
import type { NotificationResponse } from '../protocol/backend/messages.ts'

/** Notifications may have been lost between `from` and `to`: re-read the state they describe. */
export interface Gap {
  readonly type: 'Gap'
  /** When the connection was lost. */
  readonly from: Date
  /** When the new connection was listening again on every channel. */
  readonly to: Date
  /** Why the connection was lost. */
  readonly cause: Error | undefined
}

export type Notification = NotificationResponse
export type ListenerItem = Notification | Gap

export class Subscription implements AsyncIterableIterator<ListenerItem> {
  /** Items waiting; `#head` is the next to read (shifting an array is O(n)). */
  #items: ListenerItem[] = []
  #head = 0
  #waiter: ((result: IteratorResult<ListenerItem>) => void) | undefined
  #ended = false

  constructor(
    private readonly channels: ReadonlySet<string> | undefined,
    private readonly gaps: boolean,
    /** Told after every read and at the end, so the listener can resume reading the socket. */
    private readonly onDrain: (subscription: Subscription) => void,
  ) {}

  get length(): number {
    return this.#items.length - this.#head
  }

  get ended(): boolean {
    return this.#ended
  }

  /** Offers a notification; returns the queue's new length. */
  offer(notification: Notification): number {
    if (this.#ended || (this.channels !== undefined && !this.channels.has(notification.channel))) return this.length
    return this.#push(notification)
  }

  offerGap(gap: Gap): void {
    if (!this.#ended && this.gaps) this.#push(gap)
  }

  #push(item: ListenerItem): number {
    const waiter = this.#waiter
    if (waiter) {
      this.#waiter = undefined
      waiter({ value: item, done: false })
      return 0
    }
    this.#items.push(item)
    return this.length
  }

  next(): Promise<IteratorResult<ListenerItem>> {
    if (this.#head < this.#items.length) {
      const value = this.#items[this.#head]!
      this.#items[this.#head++] = undefined as unknown as ListenerItem
      // Compact once half the array is read, so memory follows the backlog, not the history.
      if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
        this.#items = this.#items.slice(this.#head)
        this.#head = 0
      }
      this.onDrain(this)
      return Promise.resolve({ value, done: false })
    }
    if (this.#ended) return Promise.resolve({ value: undefined, done: true })
    return new Promise((resolve) => (this.#waiter = resolve))
  }

  /** Ends the iteration: what is queued is dropped, a waiting next() finishes. */
  return(): Promise<IteratorResult<ListenerItem>> {
    this.end()
    return Promise.resolve({ value: undefined, done: true })
  }

  end(): void {
    if (this.#ended) return
    this.#ended = true
    this.#items = []
    this.#head = 0
    const waiter = this.#waiter
    this.#waiter = undefined
    waiter?.({ value: undefined, done: true })
    this.onDrain(this)
  }

  [Symbol.asyncIterator](): this {
    return this
  }
}
