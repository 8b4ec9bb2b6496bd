/**
 * The listener: one dedicated connection that LISTENs, and keeps listening. When the
 * connection is lost it reconnects with backoff, LISTENs again on every channel in one round
 * trip, and only then reports the gap, so that whoever re-reads state after the gap does so
 * while subscribed (PostgreSQL's LISTEN docs: subscribe, commit, read the state, then process
 * notifications). Imports the protocol layer's connect() and never reaches below it.
 */
import type { NoticeResponse } from '../protocol/backend/messages.ts'
import { ConnectionLostError } from '../protocol/errors.ts'
import { connect, type ConnectOptions } from '../protocol/io/connect.ts'
import type { Connection } from '../protocol/io/connection.ts'
import { resolveSettings } from '../protocol/options/index.ts'
import { Backoff, type BackoffOptions } from './backoff.ts'
import { ListenerError } from './errors.ts'
import { EventHub } from './events.ts'
import { Liveness, type HeartbeatOptions } from './liveness.ts'
import { checkChannel, checkPayload, foldIdentifier, quoteIdentifier, quoteLiteral } from './sql.ts'
import { Subscription, type Gap, type ListenerItem, type Notification } from './subscription.ts'
import { poolerSelfTest, type SelfTest } from './self-test.ts'
import {
  installDdlTrigger,
  installRowTrigger,
  installTcnTrigger,
  planDdlTrigger,
  rowChangeChannel,
  tcnDefaultChannel,
  type DdlTriggerOptions,
  type TableName,
} from './changes/index.ts'
import { decodeDdlChange, feed, tableFeed, type Change, type ChangesOptions, type DdlChange, type Feed } from './feeds.ts'
import type { QueryResult } from '../protocol/exchange/query.ts'

type OwnHandlers = 'onNotification' | 'onNotice' | 'onParameterStatus' | 'onHandlerError' | 'onClose'

export interface ListenerOptions extends Omit<ConnectOptions, OwnHandlers> {
  /** Reconnect with backoff between these delays (ms), forever by default; false: never. */
  reconnect?: BackoffOptions | false
  /** An idle query every `interval` ms; no answer within `timeout` ms means the link is dead. false: off. */
  heartbeat?: HeartbeatOptions | false
  /** Stop reading the socket when a consumer falls this far behind; default 1,024 notifications. */
  highWaterMark?: number
  /** Resume reading when every consumer is back to this; default a quarter of highWaterMark. */
  lowWaterMark?: number
  /** After the first LISTEN, check that a NOTIFY comes back (a transaction pooler breaks LISTEN). */
  poolerCheck?: { timeout?: number } | false
}

export interface ListenerEvents {
  notification: Notification
  connected: { processId: number | undefined }
  disconnected: { error: Error | undefined; at: Date }
  reconnected: Gap
  error: Error
  notice: NoticeResponse
}

export interface NotificationsOptions {
  /** Ends the iteration when aborted. */
  signal?: AbortSignal
  /** Only these channels (as given to listen()); default all. */
  channels?: Iterable<string>
  /** Include Gap items where notifications may have been lost; default true. */
  gaps?: boolean
}

export interface ListenerStats {
  connected: boolean
  reconnects: number
  notifications: number
  /** The longest queue now, and the longest there has been (backpressure keeps it near highWaterMark). */
  backlog: number
  maxBacklog: number
  paused: boolean
  pauses: number
}

/** Connects, and resolves once the listener is ready. Register handlers first with `new Listener()` and start(). */
export async function createListener(options: ListenerOptions = {}): Promise<Listener> {
  const listener = new Listener(options)
  await listener.start()
  return listener
}

export class Listener {
  readonly #options: ListenerOptions
  readonly #events: EventHub<ListenerEvents>
  readonly #backoff: Backoff | undefined
  readonly #liveness: Liveness
  readonly #channels = new Set<string>()
  readonly #subscriptions = new Set<Subscription>()
  readonly #highWaterMark: number
  readonly #lowWaterMark: number
  readonly #stats = { reconnects: 0, notifications: 0, maxBacklog: 0, pauses: 0 }
  #connection: Connection | undefined
  #ready: Promise<Connection>
  #settle: { resolve(c: Connection): void; reject(e: Error): void } | undefined
  #closed = false
  #stopWaiting = new AbortController()
  /** Backpressure wants the socket paused; #inFlight > 0 overrides it, so a query can finish. */
  #paused = false
  #socketPaused = false
  #inFlight = 0
  #selfTest: SelfTest | undefined
  #poolerChecked = false
  /** A second connection for notify() and queueUsage(), opened when first needed. */
  #notifier: Promise<Connection> | undefined

  constructor(options: ListenerOptions = {}) {
    this.#options = options
    this.#events = new EventHub<ListenerEvents>(
      (error, event) => this.#reportError(error, event),
      () => this.#drained(),
    )
    this.#backoff = options.reconnect === false ? undefined : new Backoff(options.reconnect)
    this.#highWaterMark = options.highWaterMark ?? 1024
    this.#lowWaterMark = options.lowWaterMark ?? Math.floor(this.#highWaterMark / 4)
    if (!(this.#highWaterMark >= 1) || !(this.#lowWaterMark >= 0) || this.#lowWaterMark >= this.#highWaterMark) {
      throw new RangeError(`watermarks need 0 <= lowWaterMark < highWaterMark, not ${this.#lowWaterMark} and ${this.#highWaterMark}`)
    }
    this.#liveness = new Liveness(options.heartbeat, {
      connection: () => (this.#paused ? undefined : this.#connection), // a paused socket cannot answer
      dead: (connection, error) => {
        connection.abort(error)
        this.#lost(connection, error)
      },
    })
    this.#ready = this.#pending()
  }

  /** Connects for the first time; rejects if that fails (reconnecting starts only after a success). */
  async start(): Promise<void> {
    if (this.#connection || this.#closed) throw new ListenerError(this.#closed ? 'the listener is closed' : 'the listener has already started')
    this.#online(await this.#open())
  }

  /** The channels listened on, as the server knows them. */
  get channels(): ReadonlySet<string> {
    return this.#channels
  }

  /** The backend's process ID: notifications from it have processId equal to this. */
  get processId(): number | undefined {
    return this.#connection?.processId
  }

  get stats(): ListenerStats {
    return { connected: this.#connection !== undefined, ...this.#stats, backlog: this.#backlog(), paused: this.#paused }
  }

  on<K extends keyof ListenerEvents>(event: K, handler: (value: ListenerEvents[K]) => unknown): () => void {
    return this.#events.on(event, handler)
  }

  /**
   * LISTENs on `channel` and resolves once the server has acknowledged it. The name is used
   * exactly (quoted); with `{ unquoted: true }` it is folded as an unquoted NOTIFY folds it.
   * The answer comes on the listening connection after every notification already queued for
   * it: called while the listener is backlogged, it reads that backlog first (into the
   * iterators' queues) rather than wait for consumers who may be waiting for it.
   */
  async listen(channel: string, options: { unquoted?: boolean } = {}): Promise<void> {
    const name = checkChannel(options.unquoted ? foldIdentifier(channel) : channel)
    const added = !this.#channels.has(name)
    this.#channels.add(name)
    try {
      await this.#run(async (connection) => {
        await connection.query(`LISTEN ${quoteIdentifier(name)}`)
        if (!this.#poolerChecked && this.#options.poolerCheck !== false) {
          await poolerSelfTest(connection, (test) => (this.#selfTest = test), this.#options.poolerCheck?.timeout)
          this.#poolerChecked = true
        }
      }, true)
    } catch (error) {
      if (added) this.#channels.delete(name)
      throw error
    }
  }

  async unlisten(channel: string, options: { unquoted?: boolean } = {}): Promise<void> {
    const name = checkChannel(options.unquoted ? foldIdentifier(channel) : channel)
    this.#channels.delete(name)
    await this.#run((connection) => connection.query(`UNLISTEN ${quoteIdentifier(name)}`), true)
  }

  async unlistenAll(): Promise<void> {
    this.#channels.clear()
    await this.#run((connection) => connection.query('UNLISTEN *'), true)
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
    await this.#onNotifier((connection) => {
      const parameters = connection.parameters
      checkPayload(payload, parameters.get('server_encoding'))
      const standard = parameters.get('standard_conforming_strings') !== 'off'
      return connection.query(`SELECT pg_notify(${quoteLiteral(channel, standard)}, ${quoteLiteral(payload, standard)})`)
    })
  }

  /**
   * pg_notification_queue_usage(): how full the server's notification queue is, 0 to 1. On
   * the notifier connection, so it answers even while the listener is backlogged.
   */
  async queueUsage(): Promise<number> {
    const [result] = await this.#onNotifier((connection) => connection.query('SELECT pg_notification_queue_usage()'))
    return Number(result!.rows[0]![0])
  }

  /**
   * Runs SQL on the notifier connection, never the listening one: for your own short
   * commands, which then neither wait behind a backlog nor delay a heartbeat.
   */
  query(sql: string): Promise<QueryResult[]> {
    return this.#onNotifier((connection) => connection.query(sql))
  }

  /**
   * A table's changes, decoded: installs the JSON row trigger (or, with `feed: 'tcn'`, the
   * tcn extension's) unless `install: false`, LISTENs on its channel, and yields RowChange
   * (or TcnChange) events, PayloadError for what cannot be decoded, and Gap markers. Setup
   * errors (no primary key, no privilege) come from the first next().
   */
  changes(table: TableName, options: ChangesOptions = {}): Feed<Change> {
    const kind = options.feed ?? 'rows'
    const channel = options.channel ?? (kind === 'rows' ? rowChangeChannel(table) : tcnDefaultChannel)
    const source = this.notifications({ channels: [channel], ...(options.signal ? { signal: options.signal } : {}), gaps: options.gaps ?? true })
    const ready = (async () => {
      if (options.install !== false) {
        await this.#onNotifier((c) => (kind === 'rows' ? installRowTrigger(c, table, { channel }) : installTcnTrigger(c, table, { channel })))
      }
      await this.listen(channel)
    })()
    const { decode, accept } = tableFeed(table, kind)
    return feed(source, ready, decode, accept)
  }

  /**
   * Schema changes in the database, decoded: installs the DDL event trigger (needs a
   * superuser; SuperuserRequiredError otherwise) unless `install: false`, and yields
   * DdlChange events, PayloadError, and Gap markers.
   */
  ddlChanges(options: DdlTriggerOptions & Omit<ChangesOptions, 'feed' | 'channel'> = {}): Feed<DdlChange> {
    const { install, signal, gaps, ...trigger } = options
    const { channel } = planDdlTrigger(trigger)
    const source = this.notifications({ channels: [channel], ...(signal ? { signal } : {}), gaps: gaps ?? true })
    const ready = (async () => {
      if (install !== false) await this.#onNotifier((c) => installDdlTrigger(c, trigger))
      await this.listen(channel)
    })()
    return feed(source, ready, decodeDdlChange)
  }

  /** The notifier's process ID, once it is open: notifications sent by notify() carry it. */
  get notifierProcessId(): Promise<number | undefined> {
    return this.#notifier?.then((c) => c.processId, () => undefined) ?? Promise.resolve(undefined)
  }

  async #onNotifier<T>(operation: (connection: Connection) => Promise<T>): Promise<T> {
    if (this.#closed) throw new ListenerError('the listener is closed')
    const opening = (this.#notifier ??= this.#openNotifier())
    const connection = await opening.catch((error: unknown) => {
      if (this.#notifier === opening) this.#notifier = undefined // the next call tries again
      throw error
    })
    try {
      return await operation(connection)
    } catch (error) {
      if (error instanceof ConnectionLostError && this.#notifier === opening) this.#notifier = undefined
      throw error
    }
  }

  #openNotifier(): Promise<Connection> {
    const { reconnect: _r, heartbeat: _h, highWaterMark: _hw, lowWaterMark: _lw, poolerCheck: _p, ...connectOptions } = this.#options
    return connect({ ...connectOptions, targetSessionAttrs: this.#targetSessionAttrs() })
  }

  /**
   * Notifications (and, unless `gaps: false`, Gap markers) for `for await`. Each iterator gets
   * every notification; a slow one makes the listener stop reading from the socket.
   */
  notifications(options: NotificationsOptions = {}): AsyncIterableIterator<ListenerItem> {
    const channels = options.channels ? new Set([...options.channels].map(checkChannel)) : undefined
    const subscription = new Subscription(channels, options.gaps ?? true, (s) => {
      if (s.ended) this.#subscriptions.delete(s)
      this.#drained()
    })
    if (this.#closed || options.signal?.aborted) subscription.end()
    else {
      this.#subscriptions.add(subscription)
      options.signal?.addEventListener('abort', () => subscription.end(), { once: true })
    }
    return subscription
  }

  /** Stops everything: iterators end, waiting calls reject, the connection closes, timers go. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#liveness.stop()
    this.#stopWaiting.abort()
    this.#settle?.reject(new ListenerError('the listener is closed'))
    for (const subscription of this.#subscriptions) subscription.end()
    const connection = this.#connection
    this.#connection = undefined
    const notifier = this.#notifier
    this.#notifier = undefined
    await Promise.all([connection?.close(), notifier?.then((c) => c.close(), () => undefined)])
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  /** A new connection, listening on every channel (one round trip), or an error. */
  async #open(): Promise<Connection> {
    let opened: Connection | undefined
    const { reconnect: _r, heartbeat: _h, highWaterMark: _hw, lowWaterMark: _lw, poolerCheck: _p, ...connectOptions } = this.#options
    const connection = await connect({
      ...connectOptions,
      // LISTEN is refused during recovery: never settle on a hot standby (libpq's "primary").
      targetSessionAttrs: this.#targetSessionAttrs(),
      keepAlive: connectOptions.keepAlive ?? 10_000,
      onNotification: (notification) => this.#deliver(notification),
      onNotice: (notice) => this.#events.emit('notice', notice),
      onHandlerError: (error) => this.#reportError(error, 'notification'),
      onClose: (error) => {
        if (opened) this.#lost(opened, error)
      },
    })
    opened = connection
    if (this.#channels.size > 0) {
      try {
        await connection.query([...this.#channels].map((c) => `LISTEN ${quoteIdentifier(c)}`).join('; '))
      } catch (error) {
        opened = undefined
        await connection.close()
        throw error
      }
    }
    return connection
  }

  #targetSessionAttrs(): ListenerOptions['targetSessionAttrs'] {
    const resolved = resolveSettings(this.#options, { env: this.#options.env ?? process.env, osUser: 'unknown' })
    return resolved.targetSessionAttrs === 'any' ? 'primary' : resolved.targetSessionAttrs
  }

  #online(connection: Connection): void {
    this.#connection = connection
    this.#socketPaused = false
    this.#updateReading()
    this.#settle?.resolve(connection)
    this.#settle = undefined
    this.#ready = Promise.resolve(connection)
    this.#liveness.start()
    this.#events.emit('connected', { processId: connection.processId })
  }

  /** The connection is gone: report it, and reconnect unless we closed it or were told not to. */
  #lost(connection: Connection, error: Error | undefined): void {
    if (this.#closed || connection !== this.#connection) return
    this.#connection = undefined
    this.#ready = this.#pending()
    const at = new Date()
    this.#events.emit('disconnected', { error, at })
    void this.#reconnect(at, error)
  }

  async #reconnect(from: Date, cause: Error | undefined): Promise<void> {
    const backoff = this.#backoff
    while (!this.#closed) {
      if (!backoff || backoff.exhausted) {
        const why = backoff ? `gave up after ${backoff.failures} attempts to reconnect` : 'the connection was lost and reconnect is off'
        const error = new ListenerError(why, { cause })
        this.#settle?.reject(error)
        this.#events.emit('error', error)
        await this.close()
        return
      }
      if (!(await this.#sleep(backoff.next()))) return
      try {
        const connection = await this.#open()
        if (this.#closed) return void connection.close()
        backoff.reset()
        this.#stats.reconnects++
        const gap: Gap = { type: 'Gap', from, to: new Date(), cause }
        for (const subscription of this.#subscriptions) subscription.offerGap(gap)
        this.#online(connection)
        this.#events.emit('reconnected', gap)
        return
      } catch (error) {
        this.#reportError(error, 'reconnect')
      }
    }
  }

  /** Resolves true after `ms`, or false at once if the listener closes meanwhile. */
  #sleep(ms: number): Promise<boolean> {
    const signal = this.#stopWaiting.signal
    if (signal.aborted) return Promise.resolve(false)
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', stop)
        resolve(true)
      }, ms)
      const stop = () => {
        clearTimeout(timer)
        resolve(false)
      }
      signal.addEventListener('abort', stop, { once: true })
    })
  }

  /**
   * Runs `operation` on the live connection, waiting for one if we are reconnecting. With
   * `retry`, a connection lost meanwhile means: wait for the next one and run it again (LISTEN
   * and UNLISTEN are idempotent).
   */
  async #run<T>(operation: (connection: Connection) => Promise<T>, retry: boolean): Promise<T> {
    for (;;) {
      if (this.#closed) throw new ListenerError('the listener is closed')
      const connection = await this.#ready
      this.#inFlight++
      this.#updateReading()
      try {
        return await operation(connection)
      } catch (error) {
        if (!(error instanceof ConnectionLostError) || this.#closed) throw error
        this.#lost(connection, error) // if the close has not been reported yet, now it is
        if (!retry) throw error
      } finally {
        this.#inFlight--
        this.#updateReading()
      }
    }
  }

  /** The hot path: every notification, to every consumer. */
  #deliver(notification: Notification): void {
    const test = this.#selfTest
    if (test && notification.channel === test.channel) return test.heard(notification)
    this.#stats.notifications++
    let backlog = 0
    for (const subscription of this.#subscriptions) {
      const length = subscription.offer(notification)
      if (length > backlog) backlog = length
    }
    this.#events.emit('notification', notification)
    backlog = Math.max(backlog, this.#events.pending)
    if (backlog > this.#stats.maxBacklog) this.#stats.maxBacklog = backlog
    if (backlog >= this.#highWaterMark && !this.#paused) {
      this.#paused = true
      this.#stats.pauses++
      this.#updateReading()
    }
  }

  /** A consumer read something: resume reading the socket once every queue is low again. */
  #drained(): void {
    if (this.#paused && this.#backlog() <= this.#lowWaterMark) {
      this.#paused = false
      this.#updateReading()
    }
  }

  #backlog(): number {
    let backlog = this.#events.pending
    for (const subscription of this.#subscriptions) if (subscription.length > backlog) backlog = subscription.length
    return backlog
  }

  #updateReading(): void {
    const connection = this.#connection
    if (!connection) return
    const pause = this.#paused && this.#inFlight === 0
    if (pause === this.#socketPaused) return
    this.#socketPaused = pause
    if (pause) connection.pause()
    else connection.resume()
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
