/**
 * One iterator of pglisten/lite's listener (lite.ts): its queue, bounded by dropping rather than
 * by pausing the socket, and the AsyncIterator protocol over it (overlapping next() calls each
 * get their own item). Imports the listener's errors and the Gap's merge only.
 */
import { ListenerError } from './errors.ts'
import { span, type Gap, type Notification } from './subscription.ts'

/** What a lite iterator yields: a notification, or a Gap where some may be missing. */
export type LiteItem = Notification | Gap

/**
 * One iterator's queue: at most `highWaterMark` notifications, then a Gap that stretches over
 * what is dropped until the consumer reads again. Gaps in a row merge into one.
 */
export class Feed implements AsyncIterableIterator<LiteItem> {
  readonly #queue: LiteItem[] = []
  readonly #takers: { resolve(result: IteratorResult<LiteItem>): void; reject(error: Error): void }[] = []
  /** Ended: done, or the error to throw once the queue is read. */
  #end: { error?: Error } | undefined

  readonly #highWaterMark: number
  /** The feed ended (return() or end()): no consumer any more. */
  readonly #onEnd: () => void

  constructor(highWaterMark: number, onEnd: () => void) {
    this.#highWaterMark = highWaterMark
    this.#onEnd = onEnd
  }

  push(item: LiteItem): void {
    if (this.#end) return
    const taker = this.#takers.shift()
    if (taker) return taker.resolve({ value: item, done: false })
    const queue = this.#queue
    const last = queue.at(-1)
    if (item.type !== 'Gap' && queue.length >= this.#highWaterMark) {
      // Dropped: the Gap at the end stretches over it, from when dropping began (so the queue
      // holds highWaterMark + 1 items at most, and a flood costs no error object per notification).
      const now = new Date()
      if (last?.type === 'Gap') queue[queue.length - 1] = { ...last, to: now }
      else queue.push({ type: 'Gap', from: now, to: now, cause: new ListenerError(`an iterator fell ${this.#highWaterMark} notifications behind`) })
    } else if (item.type === 'Gap' && last?.type === 'Gap') queue[queue.length - 1] = span(last, item)
    else queue.push(item)
  }

  /** Gave up: what is queued is read, then `error` is thrown once (at once, to a next() that waits). */
  end(error: Error): void {
    if (this.#end) return
    const takers = this.#takers.splice(0)
    this.#end = takers.length > 0 ? {} : { error }
    for (const taker of takers) taker.reject(error)
    this.#onEnd()
  }

  next(): Promise<IteratorResult<LiteItem>> {
    if (this.#queue.length > 0) return Promise.resolve({ value: this.#queue.shift()!, done: false })
    const end = this.#end
    if (end?.error) {
      const error = end.error
      end.error = undefined // thrown once; then done
      return Promise.reject(error)
    }
    if (end) return Promise.resolve({ value: undefined, done: true })
    return new Promise((resolve, reject) => this.#takers.push({ resolve, reject }))
  }

  return(): Promise<IteratorResult<LiteItem>> {
    this.#end = {}
    this.#queue.length = 0
    for (const taker of this.#takers.splice(0)) taker.resolve({ value: undefined, done: true })
    this.#onEnd()
    return Promise.resolve({ value: undefined, done: true })
  }

  [Symbol.asyncIterator](): this {
    return this
  }
}
