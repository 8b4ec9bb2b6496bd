/**
 * The listener: one dedicated connection that LISTENs, and keeps listening, and what an
 * application calls on it. Keeping the connection (reconnects, the Gap) is
 * listening-connection.ts's; what change feeds and the outbox borrow is feed-support.ts's,
 * which they bring (parts.ts); the states and moves are the table in lifecycle.ts. Imports
 * the protocol layer's connect() and never reaches below it.
 */
import { ConnectionLostError } from '../protocol/errors.ts'
import type { QueryResult } from '../protocol/exchange/query.ts'
import { connect } from '../protocol/io/connect.ts'
import type { Connection } from '../protocol/io/connection.ts'
import { bounded } from './attempt.ts'
import { ChannelBook } from './channels.ts'
import { attemptPlan, checkListenerOptions, checkObject, checkSignal, kind } from './connect-options.ts'
import { Delivery } from './delivery.ts'
import { closedError, ListenerError } from './errors.ts'
import { EventHub } from './events.ts'
import type { FeedHost, FeedSupport } from './feed-support.ts'
import { Lifecycle } from './lifecycle.ts'
import type { ListenerEvents, ListenerOptions, ListenerStats, NotificationsOptions } from './listener-types.ts'
import { ListeningConnection } from './listening-connection.ts'
import { Notifier } from './notifier.ts'
import { listenerParts, type ListenerParts } from './parts.ts'
import { SelfTests, selfTestTimeout } from './self-test.ts'
import { checkChannel, foldIdentifier, notifySql, quoteIdentifier } from './sql.ts'
import { Subscription, type ListenerItem } from './subscription.ts'

export type { ListenerEvents, ListenerOptions, ListenerStats, NotificationsOptions } from './listener-types.ts'

/** Connects, and resolves once the listener is ready. Register handlers first with `new Listener()` and start(). */
export async function createListener(options: ListenerOptions = {}): Promise<Listener> {
  const listener = new Listener(options)
  await listener.start()
  return listener
}

/** listen()'s and unlisten()'s option, checked: 'no' would fold as true does. */
function unquoted(options: { unquoted?: boolean }): boolean {
  checkObject(options)
  const { unquoted = false } = options
  if (typeof unquoted !== 'boolean') throw new TypeError(`unquoted must be a boolean, not ${kind(unquoted)}`)
  return unquoted
}

/** Every event's name, so that a misspelt one is refused: its handler would never be called. */
const eventNames: Record<keyof ListenerEvents, true> = { notification: true, connected: true, disconnected: true, reconnecting: true, reconnected: true, gap: true, error: true, notice: true }

export class Listener {
  readonly #options: ListenerOptions
  readonly #lifecycle = new Lifecycle()
  readonly #events: EventHub<ListenerEvents>
  readonly #delivery: Delivery
  readonly #notifier: Notifier
  readonly #selfTests = new SelfTests()
  /** Who listens on what: the user, feeds, or both (channels.ts). */
  readonly #book = new ChannelBook()
  /** The listening connection, kept across losses. */
  readonly #link: ListeningConnection
  /** What feeds and outboxes share, once the first of them asks (they bring it: parts.ts). */
  #feeds: FeedSupport | undefined
  #starting: Promise<void> | undefined
  #closing: Promise<void> | undefined
  /** One pooler self-test for all the first listen() calls made together. */
  #poolerCheck: Promise<void> | undefined
  /** Settles once the last LISTEN or UNLISTEN called is on its way to the server (#inOrder). */
  #sending: Promise<void> = Promise.resolve()

  constructor(options: ListenerOptions = {}) {
    checkListenerOptions(options) // before anything reads them: a getter that throws, throws here
    this.#options = options
    this.#events = new EventHub<ListenerEvents>(
      (error, event) => this.#reportError(error, String(event)),
      () => this.#delivery.settled(),
    )
    this.#delivery = new Delivery(this.#events, options)
    this.#delivery.hidden = this.#book.hidden
    this.#delivery.listened = this.#book.listened
    this.#notifier = new Notifier(async ({ signal }) => {
      const plan = await attemptPlan(options)
      return bounded(signal, plan.timeout, (bound) => connect({ ...plan.connect, signal: bound }))
    })
    if (options.poolerCheck) selfTestTimeout(options.poolerCheck.timeout) // a bad one throws here, at the call
    const selfTests = this.#selfTests
    this.#link = new ListeningConnection({
      options,
      lifecycle: this.#lifecycle,
      delivery: this.#delivery,
      events: this.#events,
      channels: () => this.#book.listened,
      intercept: (notification) => selfTests.size !== 0 && selfTests.take(notification),
      reportError: (error, source) => this.#reportError(error, source),
      gaveUp: () => void this.close(),
    })
  }

  /** Connects for the first time; rejects if that fails (reconnecting starts only after a success). */
  start(): Promise<void> {
    if (this.#starting) return this.#starting // called twice at once: one connection, one answer
    if (this.#lifecycle.state !== 'idle') {
      return Promise.reject(new ListenerError(this.#closed() ? 'the listener is closed' : 'the listener has already started'))
    }
    this.#lifecycle.to('start')
    this.#starting = this.#link.connectFirst().finally(() => (this.#starting = undefined))
    return this.#starting
  }

  /** Where the listening connection goes (host or socket folder, hostaddr, port), while connected. */
  get endpoint(): Connection['endpoint'] | undefined {
    return this.#link.current?.endpoint
  }

  /** The server's parameters as the listening connection last heard them (server_version, ...). */
  get parameters(): ReadonlyMap<string, string> {
    return this.#link.current?.parameters ?? new Map()
  }

  /** The channels listen() listened on, as the server knows them; not the change feeds' own. */
  get channels(): ReadonlySet<string> {
    return this.#book.user
  }

  /** The backend's process ID: notifications from it have processId equal to this. */
  get processId(): number | undefined {
    return this.#link.current?.processId
  }

  get stats(): ListenerStats {
    const delivery = this.#delivery
    return { state: this.#lifecycle.state, connected: this.#lifecycle.connected, reconnects: this.#link.reconnects, ...delivery.stats, backlog: delivery.backlog(), paused: delivery.paused }
  }

  on<K extends keyof ListenerEvents>(event: K, handler: (value: ListenerEvents[K]) => unknown): () => void {
    if (!Object.hasOwn(eventNames, event)) throw new TypeError(`no event is named ${typeof event === 'string' ? `"${event}"` : String(event)}: the events are ${Object.keys(eventNames).join(', ')}`)
    const off = this.#events.on(event, handler)
    // The first consumer takes what was held, as soon as on() has returned, as a Readable's
    // 'data' handler gets what was buffered on the next tick: a handler that hears once
    // (`const off = on(..., () => off())`) must have its `off` before it is called.
    if (event === 'notification') {
      this.#delivery.handlerComing()
      queueMicrotask(() => this.#delivery.handlerAdded())
    }
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
    const name = checkChannel(unquoted(options) ? foldIdentifier(channel) : channel)
    await this.#listen(name, this.#book.addUser(name)) // a feed's channel too: visible from now on
  }

  /** LISTEN, after the pooler self-test; `undo` forgets the channel's new use if it fails. */
  async #listen(name: string, undo: () => void): Promise<void> {
    try {
      // The self-test first: before any LISTEN of ours, nothing can queue ahead of its NOTIFY.
      await this.#inOrder(`LISTEN ${quoteIdentifier(name)}`, this.#options.poolerCheck !== false)
    } catch (error) {
      undo()
      // What was held on it is nobody's now, as after unlisten(); after the end, the first
      // iterator made then still gets it.
      if (!this.#closed()) this.#delivery.unlistened()
      throw error
    }
  }

  /**
   * Sends a LISTEN or UNLISTEN once every one called before it is on its way (`selfTest`: after
   * the pooler self-test), so they reach the server in the order they were called, as the book
   * records them: listen(c) and unlisten(c), called together, leave the server not listening
   * on c. Each waits for the one before it to be sent, not answered (they share round trips),
   * except behind the first listen(), whose LISTEN waits for the self-test's answer.
   */
  #inOrder(sql: string, selfTest: boolean): Promise<void> {
    const check = selfTest ? this.#checkPooler() : undefined // shared by the listen() calls made together
    check?.catch(() => undefined) // its failure is this call's, once its turn comes
    const turn = this.#sending.then(() => check)
    const sent = turn.then(() => this.#link.run((connection) => connection.query(sql)))
    this.#sending = turn.then(() => undefined, () => undefined) // after `sent` has called run()
    return sent.then(() => undefined)
  }

  /** A feed ended: UNLISTEN its channel unless another feed or the user still listens on it. */
  #releaseFeed(name: string): void {
    if (!this.#book.removeFeed(name) || this.#closed()) return
    this.#inOrder(`UNLISTEN ${quoteIdentifier(name)}`, false)
      .catch(() => undefined) // closed meanwhile: nothing to undo
      .finally(() => this.#book.forget(name))
  }

  /** The first listen() calls share one self-test; a failed one is tried again by the next listen(). */
  #checkPooler(): Promise<void> {
    const timeout = selfTestTimeout(this.#options.poolerCheck ? this.#options.poolerCheck.timeout : undefined)
    // In turn too: an UNLISTEN * called before it must not undo its LISTEN.
    this.#poolerCheck ??= this.#sending.then(() => this.#link.run((connection) => this.#selfTests.run(connection, timeout))).then(
      () => undefined,
      (error: unknown) => {
        this.#poolerCheck = undefined
        throw error
      },
    )
    return this.#poolerCheck
  }

  /**
   * UNLISTENs `channel`; what was held on it for a consumer not yet come is dropped at once.
   * Once the listener is closed or gave up, it rejects and changes nothing: what was held stays
   * for the first iterator made then.
   */
  async unlisten(channel: string, options: { unquoted?: boolean } = {}): Promise<void> {
    const name = checkChannel(unquoted(options) ? foldIdentifier(channel) : channel)
    this.#refuseOnceClosed()
    // A feed's channel stays listened on (hidden from now on): UNLISTEN would make the feed deaf.
    const unlisten = this.#book.removeUser(name)
    this.#delivery.unlistened()
    if (unlisten) await this.#inOrder(`UNLISTEN ${quoteIdentifier(name)}`, false)
  }

  /** UNLISTEN every channel listen() listened on; the feeds' stay (in the same round trip, so they miss nothing). */
  async unlistenAll(): Promise<void> {
    this.#refuseOnceClosed()
    const feeds = this.#book.clearUser()
    this.#delivery.unlistened()
    const sql = ['UNLISTEN *', ...feeds.map((name) => `LISTEN ${quoteIdentifier(name)}`)].join('; ')
    await this.#inOrder(sql, false)
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
    const [result] = await this.query('SELECT pg_catalog.pg_notification_queue_usage()')
    return Number(result!.rows[0]![0])
  }

  /**
   * Runs SQL on the notifier connection, never the listening one: for your own short
   * commands, which then neither wait behind a backlog nor delay a heartbeat. If `signal`
   * aborts first, the notifier connection is dropped (the next call opens another): that is
   * how a query on a connection that went silent is given up.
   */
  async query(sql: string, options: { signal?: AbortSignal } = {}): Promise<QueryResult[]> {
    checkObject(options)
    const { signal } = options
    checkSignal(signal)
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
    }, signal)
  }

  /** What change feeds (pglisten/changes) and the outbox (pglisten/outbox) build on: not API. */
  [listenerParts](): ListenerParts {
    const host: FeedHost = {
      options: this.#options,
      notifications: (options) => this.#subscribe(options, true), // takes nothing held for the user's consumers
      // A feed's or an outbox's channel: hidden from other consumers (never held for them),
      // unless the user listens on it too; UNLISTENed when the last of them ends, untouched by
      // unlistenAll().
      listen: (channel) => this.#listen(channel, this.#book.addFeed(channel)),
      release: (channel) => this.#releaseFeed(channel),
      closing: () => this.#closing !== undefined || this.#closed(),
      closed: () => this.#closing !== undefined && !this.#link.failure,
      stopped: this.#link.stopped,
      reportError: (error, source) => this.#reportError(error, source),
    }
    return { host, support: (make) => (this.#feeds ??= make(host)) }
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
    return this.#subscribe(options, false)
  }

  /** An iterator: the user's, or (`feed`) a change feed's or an outbox's, which takes nothing held. */
  #subscribe(options: NotificationsOptions, feed: boolean): Subscription {
    // Every option checked before the subscription exists: one refused half-way would be left
    // among the consumers, holding backpressure with nobody to read it.
    checkObject(options)
    const { signal, gaps } = options
    checkSignal(signal)
    if (gaps !== undefined && typeof gaps !== 'boolean') throw new TypeError(`gaps must be a boolean, not ${kind(gaps)}`)
    // A string is iterable too, as its characters: 'orders' would be the channels o, r, d, e, s;
    // and false or 0 would have meant every channel.
    const given: unknown = options.channels
    if (given != null && (typeof given !== 'object' || !(Symbol.iterator in given))) throw new TypeError(`channels must be an iterable of channel names, such as an array, not ${typeof given}`)
    const channels = options.channels ? new Set([...options.channels].map(checkChannel)) : undefined
    const abort = () => subscription.end()
    const subscription = new Subscription({
      channels,
      hidden: this.#book.hidden,
      gaps: gaps ?? true,
      onDrain: (s) => this.#delivery.drained(s),
      onEnd: () => signal?.removeEventListener('abort', abort),
      feed,
    })
    const failure = this.#link.failure
    if (failure) this.#delivery.failLate(subscription, failure)
    else if (this.#closed() || signal?.aborted) subscription.end()
    else {
      this.#delivery.subscribe(subscription)
      signal?.addEventListener('abort', abort, { once: true })
    }
    return subscription
  }

  /** Stops everything: iterators end, waiting calls reject, connection attempts stop, both connections close, timers go. */
  close(): Promise<void> {
    this.#closing ??= this.#shutDown()
    return this.#closing
  }

  async #shutDown(): Promise<void> {
    if (this.#lifecycle.state !== 'closed') this.#lifecycle.to('close')
    // Nothing more reaches handlers, not even those of an event under way (close() called from
    // one of several): 'error' handlers still hear what closing meets.
    this.#events.clear('error')
    const connection = this.#link.shutDown()
    this.#delivery.detach() // before ending the iterators, whose ending would resume the socket
    if (!this.#link.failure) this.#delivery.end() // after giving up, they end with the error instead
    const removals = this.#feeds?.removeAll() // each on a connection of its own: started first
    await Promise.all([connection?.close(), this.#notifier.close(), this.#starting?.catch(() => undefined), removals])
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  /** A method, not a field read, so the type checker does not assume it unchanged across awaits. */
  #closed(): boolean {
    return this.#lifecycle.state === 'closed'
  }

  /** Throws what a call made now would fail with, once the listener is closed or gave up. */
  #refuseOnceClosed(): void {
    if (this.#closed()) throw this.#link.failure ?? closedError()
  }

  /** Background errors go to 'error' handlers; one of those failing is dropped, not looped. */
  #reportError(error: unknown, source: string): void {
    if (source === 'error') return
    this.#events.emit('error', error instanceof Error ? error : new ListenerError(`${source}: ${String(error)}`))
  }
}
