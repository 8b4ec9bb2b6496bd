/**
 * pglisten/lite's listener: LISTEN on one connection (protocol/lite.ts), notifications to
 * handlers and iterators, and after a loss a reconnect that LISTENs again and only then says,
 * with a Gap, that notifications may have been lost. It keeps the full listener's promise,
 * nothing lost without a Gap, by simpler means: a consumer that falls `highWaterMark` behind
 * loses what follows until it reads again, and is told by a Gap, where the full listener stops
 * reading the socket. Imports the lite connection and the listener's small pieces only.
 */
import type { NotificationResponse } from '../protocol/backend/messages.ts'
import { ConnectionLostError, DatabaseError } from '../protocol/errors.ts'
import { connectLite, type LiteConnection, type LiteOpen, type LiteOptions } from '../protocol/lite.ts'
import { quoteIdentifier } from '../protocol/quote.ts'
import { callHandler } from '../protocol/session.ts'
import { sleep, type BackoffOptions } from './backoff.ts'
import { ListenerError, closedError } from './errors.ts'
import { checkChannel } from './sql.ts'
import { Feed, type LiteItem } from './lite-feed.ts'
import { span, type Gap } from './subscription.ts'

export type { LiteItem }

export interface LiteListenerOptions extends LiteOptions {
  /** After a loss: retry with backoff (BackoffOptions' defaults: 250 ms to 30 s, for ever); `false`: give up at once. */
  reconnect?: false | Pick<BackoffOptions, 'minDelay' | 'maxDelay' | 'maxAttempts'>
  /**
   * Each iterator queues at most this many notifications; past it, what comes is dropped until
   * it has room again, and it gets a Gap. So many, heard by a new connection before its
   * re-LISTEN is answered, are held for after its Gap. Default 1024.
   */
  highWaterMark?: number
}

export interface LiteEvents {
  notification: NotificationResponse
  /** Every reconnect's Gap, and one for what arrived while there was no consumer. */
  gap: Gap
  /** A failed reconnect attempt, a handler's throw or rejection, giving up. */
  error: Error
}

type Handler<Event extends keyof LiteEvents> = (value: LiteEvents[Event]) => unknown

/** Connects, and resolves once the listener is ready; the first connection is not retried. */
export function createLiteListener(open: LiteOpen, options: LiteListenerOptions): Promise<LiteListener> {
  return LiteListener.create(open, options)
}

export class LiteListener {
  readonly #open: LiteOpen
  readonly #options: LiteListenerOptions
  readonly #reconnect: Required<Pick<BackoffOptions, 'minDelay' | 'maxDelay' | 'maxAttempts'>> | undefined
  /** Failed attempts since a connection last stayed up as long as the wait before it (the full listener's rule, backoff.ts). */
  #failures = 0
  readonly #highWaterMark: number
  readonly #channels = new Set<string>()
  readonly #handlers: { [Event in keyof LiteEvents]: Set<Handler<Event>> } = { notification: new Set(), gap: new Set(), error: new Set() }
  readonly #reportTo = { onHandlerError: (error: unknown) => this.#report(error) }
  readonly #feeds = new Set<Feed>()
  /** What arrived while there was no consumer, as one Gap for the next consumer to come. */
  #unconsumed: Gap | undefined
  /** When the last consumer went (or the listener began): nothing before it went unconsumed. */
  #consumerlessSince = new Date()
  /** Aborted by close() and by giving up: stops a wait or an attempt under way. */
  readonly #stop = new AbortController()
  /** Why the listener ended (closed, or gave up); calls reject with it. */
  #ended: Error | undefined
  /** It ended by giving up, not by close(): iterators asked for now throw #ended, rather than end. */
  #gaveUp = false
  #connection: LiteConnection | undefined
  /** The current connection LISTENs on every channel: notifications go to consumers, not to #early. */
  #listening = false
  /**
   * A new connection's notifications heard before its re-LISTEN was answered: they follow its
   * Gap. Undefined once more than highWaterMark came: then none of them is delivered.
   */
  #early: NotificationResponse[] | undefined
  /** Calls waiting for a connection that listens on every channel (the next one, if theirs was lost). */
  #waiting: { resolve(): void; reject(error: Error): void }[] = []
  /** When the last request answered on the current connection was sent: the next Gap's `from`. */
  #answeredAt = new Date()
  /** When the current connection began to listen on every channel. */
  #upSince = 0

  /** Makes the first connection (no retry): the only way to a listener, so it connects once. */
  static async create(open: LiteOpen, options: LiteListenerOptions): Promise<LiteListener> {
    const listener = new LiteListener(open, options)
    await listener.#connect()
    return listener
  }

  private constructor(open: LiteOpen, options: LiteListenerOptions) {
    this.#open = open
    this.#options = options
    const { minDelay = 250, maxDelay = 30_000, maxAttempts = Infinity } = options.reconnect || {}
    if (!(0 <= minDelay && minDelay <= maxDelay && maxDelay < 2 ** 31 && maxAttempts >= 1)) {
      throw new RangeError(`reconnect: need 0 <= minDelay <= maxDelay < 2^31 ms, maxAttempts >= 1; not ${minDelay}, ${maxDelay}, ${maxAttempts}`)
    }
    this.#reconnect = options.reconnect === false ? undefined : { minDelay, maxDelay, maxAttempts }
    this.#highWaterMark = options.highWaterMark ?? 1024
    if (!(this.#highWaterMark >= 1)) throw new RangeError(`highWaterMark must be at least 1, not ${this.#highWaterMark}`)
  }

  /** The channels listened on, as the next reconnect will LISTEN on them. */
  get channels(): ReadonlySet<string> {
    return this.#channels
  }

  /**
   * LISTEN, resolved once the server has acknowledged it; after a loss, once the reconnect has
   * LISTENed on every channel. The name is used exactly as given (quoted).
   */
  listen(channel: string): Promise<void> {
    return this.#change(channel, true)
  }

  unlisten(channel: string): Promise<void> {
    return this.#change(channel, false)
  }

  /** Returns the function that removes the handler. */
  on<Event extends keyof LiteEvents>(event: Event, handler: Handler<Event>): () => void {
    const handlers = this.#handlers[event] as Set<Handler<Event>> | undefined
    if (handlers === undefined) throw new TypeError(`no event ${String(event)}`)
    if (typeof handler !== 'function') throw new TypeError('a handler must be a function')
    if (event === 'notification' && !this.#ended) this.#claim()
    const own = (value: LiteEvents[Event]) => handler(value) // each on() a handler of its own
    handlers.add(own)
    return () => {
      if (handlers.delete(own)) this.#consumerLeft()
    }
  }

  /**
   * Every notification, and a Gap wherever some may be missing, in order; the first, if
   * notifications arrived while there was no consumer. Ends at close() or `signal`; throws if
   * the listener gives up.
   */
  notifications({ signal }: { signal?: AbortSignal } = {}): AsyncIterableIterator<LiteItem> {
    const stop = () => void feed.return()
    const feed: Feed = new Feed(this.#highWaterMark, () => {
      signal?.removeEventListener('abort', stop)
      if (this.#feeds.delete(feed)) this.#consumerLeft()
    })
    if (this.#gaveUp) feed.end(this.#ended!)
    else if (this.#ended || signal?.aborted) stop()
    else {
      this.#claim(feed)
      this.#feeds.add(feed)
      signal?.addEventListener('abort', stop)
    }
    return feed
  }

  /** Ends every iterator, rejects waiting calls, stops an attempt under way, closes the connection. */
  async close(): Promise<void> {
    await this.#end(closedError())
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  async #change(channel: string, listen: boolean): Promise<void> {
    checkChannel(channel)
    if (this.#ended) throw this.#ended
    const had = this.#channels.has(channel)
    if (listen) this.#channels.add(channel)
    else this.#channels.delete(channel)
    const connection = this.#connection
    // No connection: the reconnect's LISTEN carries the change (the channel set is the truth).
    if (connection === undefined) return this.#listeningAgain(undefined)
    const sentAt = new Date()
    try {
      await this.#ask(connection, `${listen ? '' : 'UN'}LISTEN ${quoteIdentifier(channel)}`)
      if (connection === this.#connection && sentAt > this.#answeredAt) this.#answeredAt = sentAt
    } catch (error) {
      // The server refused (a hot standby refuses LISTEN): nothing new to listen on. A channel
      // listened on before stays, as the server keeps that LISTEN.
      if (error instanceof DatabaseError) {
        if (listen && !had) this.#channels.delete(channel)
        throw error
      }
      // The connection broke: the next one LISTENs on the set as it is then.
      await this.#listeningAgain(connection)
    }
  }

  /** Resolves once a connection other than `lost` listens on every channel; rejects if the listener ends first. */
  #listeningAgain(lost: LiteConnection | undefined): Promise<void> {
    if (this.#ended) return Promise.reject(this.#ended)
    if (this.#listening && this.#connection !== lost) return Promise.resolve()
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }))
  }

  /**
   * Opens a connection, LISTENs on every channel in one round trip, and only then, after a
   * loss, hands on the Gap (from `lostFrom`), and after it what the connection heard meanwhile.
   */
  async #connect(lost?: { from: Date; cause: Error }): Promise<void> {
    let connection: LiteConnection | undefined
    connection = await connectLite(this.#open, this.#options, {
      onNotification: (message) => this.#heard(connection, message),
      onClose: (error) => this.#lost(connection!, error),
    }, this.#stop.signal)
    if (this.#ended) {
      await connection.close()
      throw this.#ended
    }
    this.#connection = connection
    this.#early = []
    const sentAt = new Date()
    try {
      if (this.#channels.size > 0) await this.#ask(connection, [...this.#channels].map((channel) => `LISTEN ${quoteIdentifier(channel)}`).join(';'))
      if (this.#ended) throw this.#ended
    } catch (error) {
      if (this.#connection === connection) this.#connection = undefined
      await connection.close()
      throw error
    }
    this.#answeredAt = sentAt
    this.#upSince = Date.now()
    this.#listening = true
    if (lost) this.#deliver({ type: 'Gap', from: lost.from, to: new Date(), cause: lost.cause })
    for (const message of this.#early ?? []) this.#deliver(message)
    this.#early = undefined
    for (const waiter of this.#waiting.splice(0)) waiter.resolve()
  }

  /**
   * Runs `sql` on `connection`, taken for dead if it does not answer within connectTimeout (there
   * is no heartbeat here): a stuck backend, or a path that went dead, must not hold a call or
   * the reconnect for ever. It is closed with that reason, and its loss is a reconnect's Gap.
   */
  async #ask(connection: LiteConnection, sql: string): Promise<void> {
    const timeout = this.#options.connectTimeout ?? 10_000
    let late: Error | undefined
    const timer = setTimeout(() => void connection.close((late = new ConnectionLostError(`${sql.slice(0, sql.indexOf(' '))} was not answered within ${timeout} ms`))), timeout)
    try {
      await connection.query(sql)
    } catch (error) {
      throw late ?? error
    } finally {
      clearTimeout(timer)
    }
  }

  /** A notification from `connection`: to consumers once it listens on every channel, else kept for after its Gap. */
  #heard(connection: LiteConnection | undefined, message: NotificationResponse): void {
    if (connection !== this.#connection || this.#ended) return
    if (this.#listening) this.#deliver(message)
    // Heard during the re-LISTEN's round trip, so committed before the Gap's `to`: past
    // highWaterMark, all of them are dropped, and the Gap is what covers them. Dropping only the
    // rest would leave a hole after the ones kept, which a reader could not see.
    else if (this.#early && this.#early.length < this.#highWaterMark) this.#early.push(message)
    else this.#early = undefined
  }

  #lost(connection: LiteConnection, error: Error | undefined): void {
    if (connection !== this.#connection) return // an attempt's own failure, or an old connection
    this.#connection = undefined
    const listening = this.#listening
    this.#listening = false
    // Lost before it listened on every channel: the attempt under way fails, and its loop goes on.
    if (!listening || this.#ended) return
    const cause = error ?? new ListenerError('the connection closed')
    // Only a connection that stayed up as long as the wait before it starts the backoff over.
    if (this.#reconnect && Date.now() - this.#upSince >= this.#ceiling(this.#failures - 1)) this.#failures = 0
    void this.#reconnectLoop({ from: this.#answeredAt, cause })
  }

  /**
   * The wait's ceiling after `failures` failed attempts: minDelay, doubling up to maxDelay. Each
   * wait is drawn from its upper half (equal jitter), as the full listener's (backoff.ts).
   */
  #ceiling(failures: number): number {
    if (failures < 0) return 0
    const { minDelay, maxDelay } = this.#reconnect!
    return Math.min(maxDelay, minDelay * 2 ** Math.min(failures, 52))
  }

  async #reconnectLoop(lost: { from: Date; cause: Error }): Promise<void> {
    let error = lost.cause
    for (;;) {
      if (this.#failures >= (this.#reconnect?.maxAttempts ?? 0)) {
        return this.#end(new ListenerError(`gave up reconnecting after ${this.#failures} attempts: ${error.message}`, { cause: error }), true)
      }
      const ceiling = this.#ceiling(this.#failures++)
      if (!(await sleep(ceiling / 2 + (ceiling / 2) * Math.random(), this.#stop.signal))) return
      try {
        return await this.#connect(lost)
      } catch (failure) {
        if (this.#ended) return
        error = failure instanceof Error ? failure : new ListenerError(String(failure))
        this.#report(error)
      }
    }
  }

  /** To every consumer, and what none takes to #unclaimed; a Gap to 'gap' handlers too. */
  #deliver(item: LiteItem): void {
    // A Gap is told to 'gap' handlers, so 'notification' handlers count as having taken it.
    let taken = item.type === 'Gap' && this.#handlers.notification.size > 0
    if (item.type === 'Gap') this.#emit('gap', item)
    else {
      for (const handler of [...this.#handlers.notification]) {
        taken = true
        callHandler(this.#reportTo, handler, item)
        if (this.#ended) return // close() from a handler: nothing more reaches anyone
      }
    }
    for (const feed of this.#feeds) {
      taken = true
      feed.push(item)
    }
    if (taken) return
    const dropped: Gap = item.type === 'Gap' ? item : { type: 'Gap', from: this.#consumerlessSince, to: new Date(), cause: new ListenerError('notifications arrived while there was no consumer') }
    this.#unconsumed = this.#unconsumed ? span(this.#unconsumed, dropped) : dropped
  }

  #consumerLeft(): void {
    if (this.#handlers.notification.size + this.#feeds.size === 0) this.#consumerlessSince = new Date()
  }

  /**
   * A new consumer gets the Gap for what no consumer took: an iterator as its first item; a
   * 'notification' handler through the 'gap' handlers, a microtask later, so that one added
   * right after on() hears it.
   */
  #claim(feed?: Feed): void {
    const gap = this.#unconsumed
    this.#unconsumed = undefined
    if (gap === undefined) return
    if (feed) feed.push(gap)
    else queueMicrotask(() => this.#ended || this.#emit('gap', gap))
  }

  #emit<Event extends 'gap' | 'error'>(event: Event, value: LiteEvents[Event]): void {
    for (const handler of [...this.#handlers[event]]) callHandler(event === 'error' ? {} : this.#reportTo, handler, value)
  }

  #report(error: unknown): void {
    if (!this.#ended) this.#emit('error', error instanceof Error ? error : new ListenerError(String(error)))
  }

  /** Ends the listener with `error` (a ListenerError): told to 'error' handlers and iterators if it gave up. */
  async #end(error: Error, gaveUp = false): Promise<void> {
    if (this.#ended) return
    if (gaveUp) this.#emit('error', error)
    this.#ended = error
    this.#gaveUp = gaveUp
    this.#stop.abort(error)
    const connection = this.#connection
    this.#connection = undefined
    this.#listening = false
    for (const waiter of this.#waiting.splice(0)) waiter.reject(error)
    for (const feed of this.#feeds) gaveUp ? feed.end(error) : void feed.return()
    for (const handlers of Object.values(this.#handlers)) handlers.clear()
    await connection?.close()
  }
}
