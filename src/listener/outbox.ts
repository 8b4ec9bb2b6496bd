/**
 * Exactly once on top of at most once. NOTIFY alone loses what is sent while the listener is
 * disconnected; what loses nothing is an outbox: a table the writers insert into, in the same
 * transaction as their change, with an increasing cursor (an id), and a NOTIFY that only says
 * "look". The reader keeps the last cursor it handled, and reads what comes after it: once at
 * start, again on each wake-up (a burst of them makes one read), and again after each Gap,
 * because a Gap says wake-ups may have been lost. Each event is yielded once, in cursor order.
 * Pure but for its timers: the listener is reached through OutboxSource (feed-support.ts gives it;
 * src/outbox.ts, pglisten/outbox, asks it for one). Its options: ./outbox-options.ts.
 */
import { type Backoff, sleep } from './backoff.ts'
import { ListenerError } from './errors.ts'
import { checkOutboxOptions, defaultCompare, readTimeoutOf, retryBackoff, type OutboxOptions } from './outbox-options.ts'
import type { ListenerItem } from './subscription.ts'


/** What the outbox needs of the listener. */
export interface OutboxSource {
  /** LISTEN on the channel (resolves once the server has answered), as a change feed does. */
  listen(channel: string): Promise<void>
  /** The outbox ended: UNLISTEN the channel unless someone else listens on it. */
  release(channel: string): void
  /** The wake-ups: notifications on the channel, and every Gap; ends when the listener closes. */
  wakeUps(channel: string, signal: AbortSignal): AsyncIterable<ListenerItem>
  /** A failed read, retried: for the listener's 'error' handlers. */
  reportError(error: Error): void
  /** The listener was closed, and not because it gave up. */
  closed?(): boolean
}

/** An outbox's reader; its options are checked at construction (a bad one throws there). */
export class Outbox<E, C> implements AsyncIterableIterator<E> {
  readonly #options: OutboxOptions<E, C>
  readonly #source: OutboxSource
  readonly #compare: (a: C, b: C) => number
  readonly #backoff: Backoff
  readonly #readTimeout: number
  /** Aborted when the iteration ends: stops the wake-ups, a read, a retry's wait. */
  readonly #stop = new AbortController()
  /** Resolves when the iteration ends: the start waits for load() only until then. */
  #resolveStopped!: () => void
  readonly #stopped = new Promise<void>((resolve) => (this.#resolveStopped = resolve))
  /** The cursor of the last event yielded (or loaded). */
  #cursor: C | undefined
  /** Yielded and not yet saved: saved when the next event is asked for. */
  #unsaved = false
  #batch: E[] = []
  /** A wake-up or Gap came since the last read began: read again. */
  #dirty = true
  /** The last read found something new: read again, there may be more. */
  #more = false
  /** Resolves a next() that waits for a wake-up. */
  #wake: (() => void) | undefined
  /** Aborts the wait after a failed read: a Gap during the read or the wait (the connection is back), or the end, cuts it short. */
  #retryWait: AbortController | undefined
  #started: Promise<void> | undefined
  #listening = false
  #ended = false
  #failure: Error | undefined
  /** next() calls run one after another. */
  #queue: Promise<unknown> = Promise.resolve()
  /** next() calls made and not yet settled. */
  #asked = 0
  /** The error that ended the iteration was thrown: later next() calls are done. */
  #thrown = false

  constructor(source: OutboxSource, options: OutboxOptions<E, C>) {
    checkOutboxOptions(options)
    this.#source = source
    this.#options = options
    this.#compare = options.compare ?? defaultCompare
    this.#backoff = retryBackoff(options)
    this.#readTimeout = readTimeoutOf(options)
    const signal = options.signal
    if (signal?.aborted) this.#end()
    else if (signal) {
      // Taken off again by hand when the iteration ends: a signal of another realm (a polyfill,
      // jsdom) may not honour addEventListener's own `signal` option, and would keep it.
      const onAbort = () => this.#end()
      signal.addEventListener('abort', onAbort, { once: true })
      this.#stop.signal.addEventListener('abort', () => signal.removeEventListener('abort', onAbort), { once: true })
    }
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  next(): Promise<IteratorResult<E>> {
    this.#asked++
    const result = this.#queue.then(() => this.#next())
    this.#queue = result.then(
      () => void this.#asked--,
      () => void this.#asked--,
    )
    return result
  }

  /**
   * Ends the iteration; the event being handled is not saved, not even by a next() called after.
   * One a next() called before has asked for is: that call saves it, then ends.
   */
  async return(): Promise<IteratorResult<E>> {
    if (this.#asked === 0) this.#unsaved = false
    this.#end()
    return { done: true, value: undefined }
  }

  /**
   * Any error thrown here (save, cursor, compare, load, LISTEN, a read out of compare's order)
   * ends the iteration with it: it is thrown once, and the next() calls after it are done.
   * Thrown after close() too: a save that failed then left its event unsaved, to come again, and
   * the caller must hear of it.
   */
  async #next(): Promise<IteratorResult<E>> {
    if (this.#thrown) return { done: true, value: undefined }
    try {
      return await this.#take()
    } catch (error) {
      const failure = asError(error)
      this.#fail(failure)
      this.#thrown = true
      throw failure
    }
  }

  async #take(): Promise<IteratorResult<E>> {
    if (this.#unsaved) {
      this.#unsaved = false
      await this.#options.save?.(this.#cursor as C)
    }
    // Ended before it started (an aborted signal, return()): it must not LISTEN, nor load().
    if (this.#ended && !this.#started) return { done: true, value: undefined }
    this.#started ??= this.#start()
    await this.#started
    for (;;) {
      if (this.#failure) throw this.#failure
      if (this.#ended) return { done: true, value: undefined }
      const event = this.#batch.shift()
      if (event !== undefined) {
        this.#cursor = this.#options.cursor(event)
        this.#unsaved = true
        return { done: false, value: event }
      }
      if (this.#dirty || this.#more) await this.#read()
      else await new Promise<void>((resolve) => (this.#wake = resolve))
    }
  }

  /** Wake-ups first, then LISTEN, then the saved cursor: nothing committed after the first read is missed. */
  async #start(): Promise<void> {
    void this.#watch()
    try {
      await this.#source.listen(this.#options.channel)
      this.#listening = true
      if (this.#ended) this.#source.release(this.#options.channel) // ended while the LISTEN was answered
      // Raced with the end (once: the start runs once): a load() that never answers, its
      // connection gone silent, must not hold the next() that an aborted signal or return() ends.
      const loaded = await Promise.race([this.#options.load?.(), this.#stopped])
      if (!this.#ended) this.#cursor = loaded as C | undefined
    } catch (error) {
      // Refused because close() was called (not because the listener gave up): the LISTEN, or a
      // load() on the listener's connection. The iteration ends without it, as close() ends every
      // iterator: nothing was yielded, so nothing is left unsaved (a save after close() is thrown).
      if (!this.#source.closed?.()) throw error
      this.#end()
    }
  }

  /** Reads the wake-ups as they come (never holding the listener's socket), marking a read due. */
  async #watch(): Promise<void> {
    try {
      for await (const item of this.#source.wakeUps(this.#options.channel, this.#stop.signal)) {
        this.#dirty = true
        if (item.type === 'Gap') this.#retryWait?.abort() // the connection is back: retry now
        this.#wake?.()
      }
      this.#end() // the listener closed
    } catch (error) {
      this.#fail(asError(error)) // the listener gave up
    }
  }

  async #read(): Promise<void> {
    this.#dirty = false
    // Armed as the read starts, not once it has failed: a Gap that comes while the read is
    // failing (its connection lost with the listening one, say) cuts the wait as one after does.
    const retryWait = (this.#retryWait = new AbortController())
    let events: readonly E[]
    try {
      events = await this.#bounded((signal) => this.#options.read(this.#cursor, signal))
    } catch (error) {
      if (this.#ended) return
      this.#source.reportError(asError(error))
      this.#dirty = true // retried after the wait, sooner if a Gap comes
      await sleep(this.#backoff.next(), retryWait.signal) // still counted: the next failure waits longer
      return
    } finally {
      this.#retryWait = undefined
    }
    this.#backoff.reset()
    const yielded = this.#cursor // reads happen only once the batch is used up
    let last = yielded
    let found = false
    for (const event of events) {
      const cursor = this.#options.cursor(event)
      const order = last === undefined ? 1 : this.#compare(cursor, last)
      if (!(order > 0)) {
        // New, yet before one this read already gave: read's order is not compare's (a numeric
        // id read as text, a collation), and skipping it would lose it, and what follows it, in silence.
        // One this read gave already (overlapping pages joined) is a duplicate: nothing is lost.
        if (order < 0 && found && (yielded === undefined || this.#compare(cursor, yielded) > 0) && !this.#batch.some((e) => this.#compare(cursor, this.#options.cursor(e)) === 0)) throw new TypeError(`the outbox read returned cursor ${String(cursor)} after ${String(last)}, though compare() orders it before: read must return events in compare()'s order (give a compare() that matches the read's ORDER BY)`)
        continue // not after the last: already yielded
      }
      this.#batch.push(event)
      last = cursor
      found = true
    }
    this.#more = found // only what is new asks for another read: a read that repeats itself ends here
  }

  /** Runs one read under a signal that aborts after readTimeout or at the end; gives up on it then, whatever it does. */
  #bounded<T>(read: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(new ListenerError(`the outbox read took longer than ${this.#readTimeout} ms; it is tried again`)), this.#readTimeout)
    const stop = () => controller.abort(new ListenerError('the outbox ended'))
    this.#stop.signal.addEventListener('abort', stop, { once: true })
    const abandoned = new Promise<never>((_, reject) => controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true }))
    // As an async call, whatever read() does: a throw, or a value that is no promise, is an outcome of the race.
    const reading = (async () => read(controller.signal))()
    reading.catch(() => undefined) // an abandoned read may still fail: nobody listens any more
    return Promise.race([reading, abandoned]).finally(() => {
      clearTimeout(timer)
      this.#stop.signal.removeEventListener('abort', stop)
    })
  }

  #end(): void {
    if (this.#ended) return
    this.#ended = true
    this.#stop.abort()
    this.#resolveStopped()
    this.#retryWait?.abort()
    this.#wake?.()
    if (this.#listening) this.#source.release(this.#options.channel)
  }

  #fail(error: Error): void {
    this.#failure ??= error
    this.#end()
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new ListenerError(String(error))
}
