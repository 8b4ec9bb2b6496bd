/**
 * The listener: one dedicated connection that LISTENs, and keeps listening. When the
 * connection is lost it reconnects with backoff, LISTENs again on every channel in one round
 * trip, and only then reports the gap, so that whoever re-reads state after the gap does so
 * while subscribed (PostgreSQL's LISTEN docs: subscribe, commit, read the state, then process
 * notifications). Its states and moves are the table in lifecycle.ts. Imports the protocol
 * layer's connect() and never reaches below it.
 */
import { ConnectionLostError } from '../protocol/errors.ts'
import type { QueryResult } from '../protocol/exchange/query.ts'
import { connect } from '../protocol/io/connect.ts'
import type { Connection } from '../protocol/io/connection.ts'
import { bounded, openListening, type Attempt } from './attempt.ts'
import { Backoff, sleep } from './backoff.ts'
import { ChannelBook } from './channels.ts'
import { attemptTimeout, connectionOptions, listeningOptions } from './connect-options.ts'
import { Delivery } from './delivery.ts'
import { ListenerError } from './errors.ts'
import { EventHub } from './events.ts'
import type { FeedSource } from './feeds.ts'
import { Lifecycle } from './lifecycle.ts'
import type { ListenerEvents, ListenerOptions, ListenerStats, NotificationsOptions } from './listener-types.ts'
import { Liveness } from './liveness.ts'
import { Notifier } from './notifier.ts'
import type { OutboxSource } from './outbox.ts'
import { listenerParts, type ListenerParts } from './parts.ts'
import { SelfTests, selfTestTimeout } from './self-test.ts'
import { checkChannel, foldIdentifier, notifySql, quoteIdentifier } from './sql.ts'
import { Subscription, type Gap, type ListenerItem } from './subscription.ts'

export type { ListenerEvents, ListenerOptions, ListenerStats, NotificationsOptions } from './listener-types.ts'

/** Connects, and resolves once the listener is ready. Register handlers first with `new Listener()` and start(). */
export async function createListener(options: ListenerOptions = {}): Promise<Listener> {
  const listener = new Listener(options)
  await listener.start()
  return listener
}

/** How long close() waits for feeds' triggers to be removed (removeOnClose), in ms. */
export const removalTimeout = 5_000

export class Listener {
  readonly #options: ListenerOptions
  readonly #lifecycle = new Lifecycle()
  readonly #events: EventHub<ListenerEvents>
  readonly #delivery: Delivery
  readonly #notifier: Notifier
  readonly #backoff: Backoff | undefined
  readonly #liveness: Liveness
  readonly #selfTests = new SelfTests()
  /** Who listens on what: the user, feeds, or both (channels.ts). */
  readonly #book = new ChannelBook()
  /** What feeds asked close() to do: remove their triggers (removeOnClose). */
  readonly #cleanups = new Set<() => Promise<void>>()
  /** Aborted when close() has waited removalTimeout for those removals. */
  readonly #removals = new AbortController()
  #reconnects = 0
  #connection: Connection | undefined
  #ready: Promise<Connection>
  #settle: { resolve(c: Connection): void; reject(e: Error): void } | undefined
  #starting: Promise<void> | undefined
  #closing: Promise<void> | undefined
  /** Why the listener gave up: iterators end with it, later calls reject with it. */
  #failure: ListenerError | undefined
  /** Aborted by close(): the backoff sleep and any connection attempt stop at once. */
  readonly #stop = new AbortController()
  /** One pooler self-test for all the first listen() calls made together. */
  #poolerCheck: Promise<void> | undefined

  constructor(options: ListenerOptions = {}) {
    this.#options = options
    this.#events = new EventHub<ListenerEvents>(
      (error, event) => this.#reportError(error, String(event)),
      () => this.#delivery.settled(),
    )
    this.#delivery = new Delivery(this.#events, options)
    this.#delivery.hidden = this.#book.hidden
    this.#notifier = new Notifier(({ signal, onClose }) => bounded(signal, attemptTimeout(options), (bound) => connect({ ...connectionOptions(options), signal: bound, onClose })))
    this.#backoff = options.reconnect === false ? undefined : new Backoff(options.reconnect)
    if (options.poolerCheck) selfTestTimeout(options.poolerCheck.timeout) // a bad one throws here, at the call
    this.#liveness = new Liveness(options.heartbeat, {
      connection: () => this.#connection,
      reading: () => !this.#delivery.paused,
      answered: (connection, sentAt) => this.#confirm(connection, sentAt),
      dead: (connection, error) => {
        connection.abort(error)
        this.#lost(connection, error)
      },
    })
    this.#ready = this.#pending()
  }

  /** Connects for the first time; rejects if that fails (reconnecting starts only after a success). */
  start(): Promise<void> {
    if (this.#starting) return this.#starting // called twice at once: one connection, one answer
    if (this.#lifecycle.state !== 'idle') {
      return Promise.reject(new ListenerError(this.#closed() ? 'the listener is closed' : 'the listener has already started'))
    }
    this.#lifecycle.to('start')
    this.#starting = this.#connectFirst().finally(() => (this.#starting = undefined))
    return this.#starting
  }

  async #connectFirst(): Promise<void> {
    let attempt: Attempt
    try {
      attempt = await this.#attempt(undefined) // libpq's connect_timeout alone bounds the first
    } catch (error) {
      if (this.#closed()) throw new ListenerError('the listener was closed while it connected', { cause: error })
      this.#lifecycle.to('failed')
      throw error
    }
    if (this.#closed()) {
      await attempt.connection.close() // close() came while we connected: nothing may outlive it
      throw new ListenerError('the listener was closed while it connected')
    }
    this.#online(attempt, undefined)
  }

  /** Where the listening connection goes (host or socket folder, hostaddr, port), while connected. */
  get endpoint(): Connection['endpoint'] | undefined {
    return this.#connection?.endpoint
  }

  /** The server's parameters as the listening connection last heard them (server_version, ...). */
  get parameters(): ReadonlyMap<string, string> {
    return this.#connection?.parameters ?? new Map()
  }

  /** The channels listen() listened on, as the server knows them; not the change feeds' own. */
  get channels(): ReadonlySet<string> {
    return this.#book.user
  }

  /** The backend's process ID: notifications from it have processId equal to this. */
  get processId(): number | undefined {
    return this.#connection?.processId
  }

  get stats(): ListenerStats {
    const { notifications, maxBacklog, pauses, stalls } = this.#delivery.stats
    const state = this.#lifecycle.state
    return { state, connected: this.#lifecycle.connected, reconnects: this.#reconnects, notifications, backlog: this.#delivery.backlog(), maxBacklog, paused: this.#delivery.paused, pauses, stalls }
  }

  on<K extends keyof ListenerEvents>(event: K, handler: (value: ListenerEvents[K]) => unknown): () => void {
    const off = this.#events.on(event, handler)
    if (event === 'notification') this.#delivery.handlerAdded() // the first consumer takes what was held
    return off
  }

  /**
   * LISTENs on `channel` and resolves once the server has acknowledged it. The name is used
   * exactly (quoted); with `{ unquoted: true }` it is folded as an unquoted NOTIFY folds it.
   * From then on nothing is dropped for lack of a consumer: until an iterator or a handler
   * takes them, notifications are held (and count for backpressure). The answer comes after
   * every notification already queued for the connection: called while backlogged, it reads
   * through the backlog, up to 4 × highWaterMark.
   */
  async listen(channel: string, options: { unquoted?: boolean } = {}): Promise<void> {
    const name = checkChannel(options.unquoted ? foldIdentifier(channel) : channel)
    await this.#listen(name, this.#book.addUser(name)) // a feed's channel too: visible from now on
  }

  /** LISTEN, after the pooler self-test; `undo` forgets the channel's new use if it fails. */
  async #listen(name: string, undo: () => void): Promise<void> {
    try {
      // The self-test first: before any LISTEN of ours, nothing can queue ahead of its NOTIFY.
      if (this.#options.poolerCheck !== false) await this.#checkPooler() // settled at once after the first
      await this.#run((connection) => connection.query(`LISTEN ${quoteIdentifier(name)}`))
    } catch (error) {
      undo()
      throw error
    }
  }

  /** A feed ended: UNLISTEN its channel unless another feed or the user still listens on it. */
  #releaseFeed(name: string): void {
    if (!this.#book.removeFeed(name) || this.#closed()) return
    this.#run((connection) => connection.query(`UNLISTEN ${quoteIdentifier(name)}`))
      .catch(() => undefined) // closed meanwhile: nothing to undo
      .finally(() => this.#book.forget(name))
  }

  /** The first listen() calls share one self-test; a failed one is tried again by the next listen(). */
  #checkPooler(): Promise<void> {
    const timeout = selfTestTimeout(this.#options.poolerCheck ? this.#options.poolerCheck.timeout : undefined)
    this.#poolerCheck ??= this.#run((connection) => this.#selfTests.run(connection, timeout)).then(
      () => undefined,
      (error: unknown) => {
        this.#poolerCheck = undefined
        throw error
      },
    )
    return this.#poolerCheck
  }

  async unlisten(channel: string, options: { unquoted?: boolean } = {}): Promise<void> {
    const name = checkChannel(options.unquoted ? foldIdentifier(channel) : channel)
    // A feed's channel stays listened on (hidden from now on): UNLISTEN would make the feed deaf.
    if (this.#book.removeUser(name)) await this.#run((connection) => connection.query(`UNLISTEN ${quoteIdentifier(name)}`))
  }

  /** UNLISTEN every channel listen() listened on; the feeds' stay (in the same round trip, so they miss nothing). */
  async unlistenAll(): Promise<void> {
    const feeds = this.#book.clearUser()
    const sql = ['UNLISTEN *', ...feeds.map((name) => `LISTEN ${quoteIdentifier(name)}`)].join('; ')
    await this.#run((connection) => connection.query(sql))
  }

  /**
   * Sends a notification with pg_notify(channel, payload), both as literals quoted for the
   * server's standard_conforming_strings, after checking the server's limits.
   *
   * It runs on a second connection (the notifier), opened when first needed: an answer on the
   * listening connection comes only after every notification already queued for it, so under
   * a flood a NOTIFY there would wait for, and pull into memory, the whole backlog. Not retried
   * if the connection is lost meanwhile: it may or may not have been sent.
   */
  async notify(channel: string, payload = ''): Promise<void> {
    checkChannel(channel)
    await this.#notifier.run((connection) => connection.query(notifySql(channel, payload, connection.parameters)))
  }

  /**
   * pg_notification_queue_usage(): how full the server's notification queue is, 0 to 1. On
   * the notifier connection, so it answers even while the listener is backlogged.
   */
  async queueUsage(): Promise<number> {
    const [result] = await this.query('SELECT pg_notification_queue_usage()')
    return Number(result!.rows[0]![0])
  }

  /**
   * Runs SQL on the notifier connection, never the listening one: for your own short
   * commands, which then neither wait behind a backlog nor delay a heartbeat. If `signal`
   * aborts first, the notifier connection is dropped (the next call opens another): that is
   * how a query on a connection that went silent is given up.
   */
  query(sql: string, options: { signal?: AbortSignal } = {}): Promise<QueryResult[]> {
    const { signal } = options
    return this.#notifier.run(async (connection) => {
      if (!signal) return connection.query(sql)
      const stop = () => connection.abort(new ConnectionLostError('the query was aborted; its connection is dropped', { cause: signal.reason }))
      signal.addEventListener('abort', stop, { once: true })
      try {
        if (signal.aborted) stop()
        return await connection.query(sql)
      } finally {
        signal.removeEventListener('abort', stop)
      }
    })
  }

  /** What change feeds (pglisten/changes) and the outbox (pglisten/outbox) build on: not API. */
  [listenerParts](): ListenerParts {
    return { feedSource: () => this.#feedSource(), outboxSource: () => this.#outboxSource() }
  }

  /** What a change feed needs of the listener: its own iterator, LISTEN, connections for its SQL, and a say in close(). */
  #feedSource(): FeedSource {
    return {
      notifications: (options) => this.notifications(options),
      listen: (channel) => this.#listen(channel, this.#book.addFeed(channel)),
      release: (channel) => this.#releaseFeed(channel),
      install: (work) => {
        if (this.#closing || this.#closed()) return Promise.reject(new ListenerError('the listener is closed'))
        return this.#ownConnection(this.#stop.signal, work)
      },
      remove: (work) => this.#ownConnection(this.#removals.signal, work),
      onClose: (cleanup) => {
        if (this.#closing || this.#closed()) return false
        const reported = () =>
          cleanup().catch((error: unknown) => {
            this.#events.emit('error', new ListenerError(`a change feed's trigger may still be installed: ${String((error as Error)?.message ?? error)}`, { cause: error }))
          })
        this.#cleanups.add(reported)
        return () => this.#cleanups.delete(reported)
      },
    }
  }

  /**
   * Runs `work` (an install or a removal: a transaction of its own) on a connection of its own,
   * never the notifier's, where notify() and query() would land inside its transaction. The
   * connection is bounded as a reconnect attempt is, and aborted when `signal` is.
   */
  async #ownConnection<T>(signal: AbortSignal, work: (connection: Connection) => Promise<T>): Promise<T> {
    const connection = await bounded(signal, attemptTimeout(this.#options), (bound) => connect({ ...connectionOptions(this.#options), signal: bound }))
    const stop = () => connection.abort(new ConnectionLostError('the listener closed', { cause: signal.reason }))
    signal.addEventListener('abort', stop, { once: true })
    try {
      if (signal.aborted) stop()
      return await work(connection)
    } finally {
      signal.removeEventListener('abort', stop)
      await connection.close()
    }
  }

  /** The notifier's process ID, once it is open: notifications sent by notify() carry it. */
  get notifierProcessId(): Promise<number | undefined> {
    return this.#notifier.processId
  }

  /**
   * Notifications (and, unless `gaps: false`, Gap markers) for `for await`. Each iterator gets
   * every notification; a slow one makes the listener stop reading from the socket. The first
   * consumer also gets what arrived since listen() while nobody consumed. If the listener gives
   * up reconnecting, the iterator throws its ListenerError once its queue is read.
   */
  notifications(options: NotificationsOptions = {}): AsyncIterableIterator<ListenerItem> {
    const channels = options.channels ? new Set([...options.channels].map(checkChannel)) : undefined
    const signal = options.signal
    const abort = () => subscription.end()
    const subscription = new Subscription({
      channels,
      hidden: this.#book.hidden,
      gaps: options.gaps ?? true,
      onDrain: (s) => this.#delivery.drained(s),
      onEnd: () => signal?.removeEventListener('abort', abort),
    })
    if (this.#failure) this.#delivery.failLate(subscription, this.#failure)
    else if (this.#closed() || signal?.aborted) subscription.end()
    else {
      this.#delivery.subscribe(subscription)
      signal?.addEventListener('abort', abort, { once: true })
    }
    return subscription
  }

  /** What an outbox (pglisten/outbox) needs of the listener: LISTEN as a feed's, its wake-ups, and the 'error' handlers. */
  #outboxSource(): OutboxSource {
    return {
      // Its channel is counted as a feed's is: hidden from other consumers (never held for
      // them), UNLISTENed when the last outbox or feed on it ends, untouched by unlistenAll().
      listen: (channel) => this.#listen(channel, this.#book.addFeed(channel)),
      release: (channel) => this.#releaseFeed(channel),
      wakeUps: (channel, signal) => this.notifications({ channels: [channel], signal }),
      reportError: (error) => this.#reportError(error, 'outbox read'),
    }
  }

  /** Stops everything: iterators end, waiting calls reject, connection attempts stop, both connections close, timers go. */
  close(): Promise<void> {
    this.#closing ??= this.#shutDown()
    return this.#closing
  }

  async #shutDown(): Promise<void> {
    if (this.#lifecycle.state !== 'closed') this.#lifecycle.to('close')
    this.#liveness.stop()
    this.#stop.abort(new ListenerError('the listener is closed'))
    this.#settle?.reject(this.#failure ?? new ListenerError('the listener is closed'))
    const connection = this.#connection
    this.#connection = undefined
    this.#delivery.detach() // before ending the iterators, whose ending would resume the socket
    if (!this.#failure) this.#delivery.end() // after giving up, they end with the error instead
    // Feeds' removals, each on a connection of its own, get removalTimeout; then they are cut.
    const removals = Promise.all([...this.#cleanups].map((cleanup) => cleanup()))
    const deadline = setTimeout(() => this.#removals.abort(new ListenerError(`close() waited ${removalTimeout} ms for the removals`)), removalTimeout)
    deadline.unref?.()
    await Promise.all([connection?.close(), this.#notifier.close(), this.#starting?.catch(() => undefined), removals.finally(() => clearTimeout(deadline))])
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  /** One attempt at a listening connection, on every channel, bounded by `timeout` ms if given. */
  #attempt(timeout: number | undefined): Promise<Attempt> {
    const selfTests = this.#selfTests
    return openListening({
      connect: {
        ...listeningOptions(this.#options),
        onNotice: (notice) => this.#events.emit('notice', notice),
        onHandlerError: (error) => this.#reportError(error, 'notification'),
      },
      channels: this.#book.listened,
      signal: this.#stop.signal,
      ...(timeout !== undefined ? { timeout } : {}),
      intercept: (notification) => selfTests.size !== 0 && selfTests.take(notification),
      stageLimit: this.#delivery.maxBacklog,
      onClose: (connection, error) => this.#lost(connection, error),
    })
  }

  /**
   * The attempt succeeded: the Gap (if any) first, to iterators and as events, then what the
   * new connection heard while it LISTENed (as much as stays under maxBacklog), then live delivery. A handler may close() the
   * listener on any of those events: then nothing more happens here.
   */
  #online(attempt: Attempt, gap: Gap | undefined): void {
    const { connection } = attempt
    this.#connection = connection
    this.#lifecycle.to('connected')
    this.#delivery.confirmedAt = attempt.confirmedAt
    if (gap) this.#delivery.gap(gap)
    this.#delivery.attach((paused) => {
      // The state first: resume() delivers what was buffered at once, which may pause again.
      if (connection === this.#connection) {
        this.#lifecycle.to(paused ? 'paused' : 'resumed')
        if (!paused) this.#liveness.resumed()
      }
      if (paused) connection.pause()
      else connection.resume()
    })
    this.#settle?.resolve(connection)
    this.#settle = undefined
    this.#ready = Promise.resolve(connection)
    this.#liveness.start()
    this.#events.emit('connected', { processId: connection.processId })
    if (gap) {
      this.#events.emit('reconnected', gap)
      this.#events.emit('gap', gap)
    }
    if (connection !== this.#connection) return // closed (or lost) by a handler
    // Only as many as the queues have room for under their bound: the rest is inside the Gap.
    const room = this.#delivery.maxBacklog - this.#delivery.backlog()
    for (const notification of attempt.staged.slice(0, Math.max(0, room))) this.#delivery.deliver(notification)
    attempt.online((notification) => this.#delivery.deliver(notification))
    // It may have closed while we finished opening it (its close was not ours to hear yet).
    if (connection.isClosed) this.#lost(connection, new ConnectionLostError('the connection was lost as it opened'))
  }

  /** The connection is gone: report it, and reconnect unless we closed it or were told not to. */
  #lost(connection: Connection, error: Error | undefined): void {
    if (connection !== this.#connection || this.#closed()) return
    this.#connection = undefined
    this.#delivery.detach()
    this.#liveness.stop()
    this.#lifecycle.to('lost')
    this.#ready = this.#pending()
    const from = this.#delivery.confirmedAt
    this.#events.emit('disconnected', { error, at: new Date() })
    void this.#reconnect(from, error)
  }

  async #reconnect(from: Date, cause: Error | undefined): Promise<void> {
    const backoff = this.#backoff
    let last = cause
    for (;;) {
      if (this.#closed()) return
      if (!backoff || backoff.exhausted) {
        const why = backoff ? `gave up after ${backoff.failures} attempts to reconnect` : 'the connection was lost and reconnect is off'
        return this.#giveUp(new ListenerError(why, { cause: last })) // the last failure: the loss itself, or the last attempt's
      }
      const delay = backoff.next()
      this.#events.emit('reconnecting', { attempt: backoff.failures, maxAttempts: backoff.maxAttempts, delay, error: last })
      if (!(await sleep(delay, this.#stop.signal))) return // false: closed meanwhile (by a handler, too)
      this.#lifecycle.to('attempt')
      try {
        const attempt = await this.#attempt(attemptTimeout(this.#options))
        if (this.#closed()) return void (await attempt.connection.close())
        backoff.reset()
        this.#reconnects++
        return this.#online(attempt, { type: 'Gap', from, to: new Date(), cause })
      } catch (error) {
        if (this.#closed()) return
        this.#lifecycle.to('failed')
        last = error instanceof Error ? error : new ListenerError(String(error))
        this.#reportError(error, 'reconnect')
      }
    }
  }

  /** No more attempts: every waiting call and iterator ends with `error`, and so does every later one. */
  #giveUp(error: ListenerError): void {
    this.#failure = error
    this.#lifecycle.to('gaveUp')
    this.#delivery.fail(error)
    this.#events.emit('error', error)
    void this.close()
  }

  /**
   * Runs `operation` on the live connection, waiting for one if we are reconnecting. A
   * connection lost meanwhile means: wait for the next one and run it again (every operation
   * run here, LISTEN, UNLISTEN and the self-test, may be repeated). An answered request confirms everything committed before it
   * was sent (see Gap.from).
   */
  async #run<T>(operation: (connection: Connection) => Promise<T>): Promise<T> {
    for (;;) {
      if (this.#closed()) throw this.#failure ?? new ListenerError('the listener is closed')
      const connection = await this.#ready
      this.#delivery.beginQuery()
      const sentAt = new Date()
      try {
        const result = await operation(connection)
        this.#confirm(connection, sentAt)
        return result
      } catch (error) {
        if (!(error instanceof ConnectionLostError)) throw error
        if (this.#closed()) throw this.#failure ?? new ListenerError('the listener is closed', { cause: error })
        this.#lost(connection, error) // if the close has not been reported yet, now it is
      } finally {
        this.#delivery.endQuery()
      }
    }
  }

  #confirm(connection: Connection, sentAt: Date): void {
    if (connection === this.#connection && sentAt > this.#delivery.confirmedAt) this.#delivery.confirmedAt = sentAt
  }

  /** A method, not a field read, so the type checker does not assume it unchanged across awaits. */
  #closed(): boolean {
    return this.#lifecycle.state === 'closed'
  }

  #pending(): Promise<Connection> {
    const promise = new Promise<Connection>((resolve, reject) => (this.#settle = { resolve, reject }))
    promise.catch(() => undefined) // waiting calls see the rejection; nobody else must
    return promise
  }

  /** Background errors go to 'error' handlers; one of those failing is dropped, not looped. */
  #reportError(error: unknown, source: string): void {
    if (source === 'error') return
    this.#events.emit('error', error instanceof Error ? error : new ListenerError(`${source}: ${String(error)}`))
  }
}
