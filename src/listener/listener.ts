/**
 * The listener: one dedicated connection that LISTENs, and keeps listening. When the
 * connection is lost it reconnects with backoff, LISTENs again on every channel in one round
 * trip, and only then reports the gap, so that whoever re-reads state after the gap does so
 * while subscribed (PostgreSQL's LISTEN docs: subscribe, commit, read the state, then process
 * notifications). Imports the protocol layer's connect() and never reaches below it.
 */
import { ConnectionLostError } from '../protocol/errors.ts'
import type { QueryResult } from '../protocol/exchange/query.ts'
import { connect, type ConnectOptions } from '../protocol/io/connect.ts'
import type { Connection } from '../protocol/io/connection.ts'
import { resolveSettings } from '../protocol/options/index.ts'
import { Backoff } from './backoff.ts'
import type { TableName } from './changes/index.ts'
import { Delivery } from './delivery.ts'
import { ListenerError } from './errors.ts'
import { EventHub } from './events.ts'
import { ddlChanges, tableChanges, type Change, type ChangesOptions, type DdlChange, type DdlChangesOptions, type Feed } from './feeds.ts'
import type { ListenerEvents, ListenerOptions, ListenerStats, NotificationsOptions } from './listener-types.ts'
import { Liveness } from './liveness.ts'
import { Notifier } from './notifier.ts'
import { poolerSelfTest, type SelfTest } from './self-test.ts'
import { checkChannel, foldIdentifier, notifySql, quoteIdentifier } from './sql.ts'
import { Subscription, type Gap, type ListenerItem } from './subscription.ts'

export type { ListenerEvents, ListenerOptions, ListenerStats, NotificationsOptions } from './listener-types.ts'

/** Connects, and resolves once the listener is ready. Register handlers first with `new Listener()` and start(). */
export async function createListener(options: ListenerOptions = {}): Promise<Listener> {
  const listener = new Listener(options)
  await listener.start()
  return listener
}

export class Listener {
  readonly #options: ListenerOptions
  readonly #events: EventHub<ListenerEvents>
  readonly #delivery: Delivery
  readonly #notifier: Notifier
  readonly #backoff: Backoff | undefined
  readonly #liveness: Liveness
  readonly #channels = new Set<string>()
  #reconnects = 0
  #connection: Connection | undefined
  #ready: Promise<Connection>
  #settle: { resolve(c: Connection): void; reject(e: Error): void } | undefined
  #closed = false
  #stopWaiting = new AbortController()
  #selfTest: SelfTest | undefined
  #poolerChecked = false

  constructor(options: ListenerOptions = {}) {
    this.#options = options
    this.#events = new EventHub<ListenerEvents>(
      (error, event) => this.#reportError(error, String(event)),
      () => this.#delivery.drained(),
    )
    this.#delivery = new Delivery(this.#events, options)
    this.#notifier = new Notifier(() => connect({ ...this.#connectOptions(), targetSessionAttrs: this.#targetSessionAttrs() }))
    this.#backoff = options.reconnect === false ? undefined : new Backoff(options.reconnect)
    this.#liveness = new Liveness(options.heartbeat, {
      connection: () => (this.#delivery.paused ? undefined : this.#connection), // a paused socket cannot answer
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
    const connection = await this.#open()
    if (this.#closed) {
      // close() was called while we connected: this connection must not outlive it.
      await connection.close()
      throw new ListenerError('the listener was closed while it connected')
    }
    this.#online(connection)
  }

  /** Where the listening connection goes (host or socket folder, hostaddr, port), while connected. */
  get endpoint(): Connection['endpoint'] | undefined {
    return this.#connection?.endpoint
  }

  /** The server's parameters as the listening connection last heard them (server_version, ...). */
  get parameters(): ReadonlyMap<string, string> {
    return this.#connection?.parameters ?? new Map()
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
    const { notifications, maxBacklog, pauses } = this.#delivery.stats
    return { connected: this.#connection !== undefined, reconnects: this.#reconnects, notifications, backlog: this.#delivery.backlog(), maxBacklog, paused: this.#delivery.paused, pauses }
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
   * commands, which then neither wait behind a backlog nor delay a heartbeat.
   */
  query(sql: string): Promise<QueryResult[]> {
    return this.#notifier.run((connection) => connection.query(sql))
  }

  /**
   * A table's changes, decoded: installs the JSON row trigger (or, with `feed: 'tcn'`, the
   * tcn extension's) unless `install: false`, LISTENs on its channel, and yields RowChange
   * (or TcnChange) events, PayloadError for what cannot be decoded, and Gap markers. Setup
   * errors (no primary key, no privilege) come from `ready` and the first next().
   */
  changes(table: TableName, options: ChangesOptions = {}): Feed<Change> {
    return tableChanges(this, (install) => this.#notifier.run(install), table, options)
  }

  /**
   * Schema changes in the database, decoded: installs the DDL event trigger (needs a
   * superuser; SuperuserRequiredError otherwise) unless `install: false`, and yields
   * DdlChange events, PayloadError, and Gap markers.
   */
  ddlChanges(options: DdlChangesOptions = {}): Feed<DdlChange> {
    return ddlChanges(this, (install) => this.#notifier.run(install), options)
  }

  /** The notifier's process ID, once it is open: notifications sent by notify() carry it. */
  get notifierProcessId(): Promise<number | undefined> {
    return this.#notifier.processId
  }

  /**
   * Notifications (and, unless `gaps: false`, Gap markers) for `for await`. Each iterator gets
   * every notification; a slow one makes the listener stop reading from the socket.
   */
  notifications(options: NotificationsOptions = {}): AsyncIterableIterator<ListenerItem> {
    const channels = options.channels ? new Set([...options.channels].map(checkChannel)) : undefined
    const subscription = new Subscription(channels, options.gaps ?? true, (s) => this.#delivery.drained(s))
    if (this.#closed || options.signal?.aborted) subscription.end()
    else {
      this.#delivery.subscribe(subscription)
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
    this.#delivery.end()
    const connection = this.#connection
    this.#connection = undefined
    this.#delivery.detach()
    await Promise.all([connection?.close(), this.#notifier.close()])
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  /** A new connection, listening on every channel (one round trip), or an error. */
  async #open(): Promise<Connection> {
    let opened: Connection | undefined
    const connection = await connect({
      ...this.#connectOptions(),
      // LISTEN is refused during recovery: never settle on a hot standby (libpq's "primary").
      targetSessionAttrs: this.#targetSessionAttrs(),
      keepAlive: this.#options.keepAlive ?? 10_000,
      onNotification: (notification) => {
        const test = this.#selfTest
        if (test && notification.channel === test.channel) test.heard(notification)
        else this.#delivery.deliver(notification)
      },
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

  /** The connection options, without the listener's own. */
  #connectOptions(): ConnectOptions {
    const { reconnect: _r, heartbeat: _h, highWaterMark: _hw, lowWaterMark: _lw, poolerCheck: _p, ...connectOptions } = this.#options
    return connectOptions
  }

  #targetSessionAttrs(): ListenerOptions['targetSessionAttrs'] {
    const resolved = resolveSettings(this.#options, { env: this.#options.env ?? process.env, osUser: 'unknown' })
    return resolved.targetSessionAttrs === 'any' ? 'primary' : resolved.targetSessionAttrs
  }

  #online(connection: Connection): void {
    this.#connection = connection
    this.#delivery.attach((paused) => (paused ? connection.pause() : connection.resume()))
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
    this.#delivery.detach()
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
        this.#reconnects++
        const gap: Gap = { type: 'Gap', from, to: new Date(), cause }
        this.#delivery.gap(gap)
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
      this.#delivery.beginQuery()
      try {
        return await operation(connection)
      } catch (error) {
        if (!(error instanceof ConnectionLostError) || this.#closed) throw error
        this.#lost(connection, error) // if the close has not been reported yet, now it is
        if (!retry) throw error
      } finally {
        this.#delivery.endQuery()
      }
    }
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
