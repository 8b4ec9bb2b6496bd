/**
 * The listening connection, kept: where a reconnect is decided. It opens the connection, runs
 * each request on the live one (waiting through a reconnect), and when the connection is lost
 * reconnects with backoff, LISTENs again on every channel in one round trip, and only then
 * reports the gap, so that whoever re-reads state after the gap does so while subscribed
 * (PostgreSQL's LISTEN docs: subscribe, commit, read the state, then process notifications).
 * Every move is one of lifecycle.ts's. Imports the protocol layer's errors and the listener's parts.
 */
import { ConnectionLostError } from '../protocol/errors.ts'
import type { Connection } from '../protocol/io/connection.ts'
import { openListening, type Attempt } from './attempt.ts'
import { Backoff, sleep } from './backoff.ts'
import { attemptPlan, listeningOptions } from './connect-options.ts'
import type { Delivery } from './delivery.ts'
import { closedError, ListenerError } from './errors.ts'
import type { EventHub } from './events.ts'
import type { Lifecycle } from './lifecycle.ts'
import type { ListenerEvents, ListenerOptions } from './listener-types.ts'
import { Liveness } from './liveness.ts'
import type { Gap, Notification } from './subscription.ts'

/**
 * What the listener shares with its connection's keeper. The lifecycle is one for both: the
 * listener makes its first and last moves (start, close), the keeper every move between.
 */
export interface ListeningParts {
  options: ListenerOptions
  lifecycle: Lifecycle
  delivery: Delivery
  events: EventHub<ListenerEvents>
  /** The channels every new connection LISTENs on. */
  channels(): Iterable<string>
  /** Self-test notifications: consumed if it says so, never delivered. Called unbound. */
  intercept(notification: Notification): boolean
  reportError(error: unknown, source: string): void
  /** It gave up reconnecting, and the iterators have failed: the listener closes, which rejects waiting calls with the failure. */
  gaveUp(): void
}

export class ListeningConnection {
  readonly #parts: ListeningParts
  readonly #options: ListenerOptions
  readonly #lifecycle: Lifecycle
  readonly #delivery: Delivery
  readonly #events: EventHub<ListenerEvents>
  readonly #backoff: Backoff | undefined
  readonly #liveness: Liveness
  /** Aborted by close(): the backoff sleep and any connection attempt stop at once. */
  readonly #stop = new AbortController()
  #connection: Connection | undefined
  #ready: Promise<Connection>
  #settle: { resolve(c: Connection): void; reject(e: Error): void } | undefined
  #reconnects = 0
  /** When the live connection came up (performance.now()): one lost sooner than the wait before it does not reset the backoff. */
  #upSince = 0
  /**
   * When it was last heard from (performance.now()): a request answered (a heartbeat, a
   * LISTEN), or bytes seen by the heartbeat's looks: up to then, at least, it worked.
   */
  #heardAt = 0
  /** Why it gave up: iterators end with it, later calls reject with it. */
  #failure: ListenerError | undefined

  constructor(parts: ListeningParts) {
    const { options } = parts
    this.#parts = parts
    this.#options = options
    this.#lifecycle = parts.lifecycle
    this.#delivery = parts.delivery
    this.#events = parts.events
    this.#backoff = options.reconnect === false ? undefined : new Backoff(options.reconnect)
    this.#liveness = new Liveness(options.heartbeat, {
      connection: () => this.#connection,
      reading: () => !this.#delivery.paused,
      answered: (connection, sentAt) => this.#confirm(connection, sentAt),
      heard: (connection) => {
        if (connection === this.#connection) this.#heardAt = performance.now()
      },
      dead: (connection, error) => {
        connection.abort(error)
        // It went silent an interval and a timeout ago, or more: it was up only until it was
        // last heard from. A path that lets connections be made, then carries nothing, is so a
        // failed attempt each time, not a backoff started over every heartbeat cycle.
        this.#lost(connection, error, this.#heardAt)
      },
    })
    this.#ready = this.#pending()
  }

  /** The live connection, if there is one. */
  get current(): Connection | undefined {
    return this.#connection
  }

  get reconnects(): number {
    return this.#reconnects
  }

  get failure(): ListenerError | undefined {
    return this.#failure
  }

  /** Aborted by shutDown(): what runs on the listener's behalf (a feed's install, too) stops with it. */
  get stopped(): AbortSignal {
    return this.#stop.signal
  }

  /** The first connection; rejects if it fails (reconnecting starts only after a success). */
  async connectFirst(): Promise<void> {
    let attempt: Attempt
    try {
      attempt = await this.#attempt(false) // libpq's connect_timeout alone bounds the first
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

  /**
   * Runs `operation` on the live connection, waiting for one if we are reconnecting. A
   * connection lost meanwhile means: wait for the next one and run it again (every operation
   * run here, LISTEN, UNLISTEN and the self-test, may be repeated). An answered request
   * confirms everything committed before it was sent (see Gap.from).
   */
  async run<T>(operation: (connection: Connection) => Promise<T>): Promise<T> {
    for (;;) {
      if (this.#closed()) throw this.#failure ?? closedError()
      const connection = await this.#ready
      this.#delivery.beginQuery()
      const sentAt = new Date()
      try {
        const result = await operation(connection)
        this.#confirm(connection, sentAt)
        return result
      } catch (error) {
        if (!(error instanceof ConnectionLostError)) throw error
        if (this.#closed()) throw this.#failure ?? closedError({ cause: error })
        this.#lost(connection, error) // if the close has not been reported yet, now it is
      } finally {
        this.#delivery.endQuery()
      }
    }
  }

  /**
   * For close(), once the lifecycle is closed: timers go, attempts and the backoff sleep stop,
   * waiting calls reject. Returns the connection, for close() to close.
   */
  shutDown(): Connection | undefined {
    this.#liveness.stop()
    this.#stop.abort(closedError())
    this.#settle?.reject(this.#failure ?? closedError())
    const connection = this.#connection
    this.#connection = undefined
    return connection
  }

  /**
   * One attempt at a listening connection, on every channel. When `reconnecting`, it is bounded
   * by the plan's timeout; the first attempt, by libpq's connect_timeout alone.
   */
  async #attempt(reconnecting: boolean): Promise<Attempt> {
    const plan = await attemptPlan(this.#options)
    return openListening({
      connect: {
        ...listeningOptions(plan),
        onNotice: (notice) => this.#events.emit('notice', notice),
        onHandlerError: (error) => this.#parts.reportError(error, 'notification'),
      },
      channels: this.#parts.channels(),
      signal: this.#stop.signal,
      ...(reconnecting ? { timeout: plan.timeout } : {}),
      intercept: this.#parts.intercept,
      stageLimit: this.#delivery.maxBacklog,
      onClose: (connection, error) => this.#lost(connection, error),
    })
  }

  /**
   * The attempt succeeded: the Gap (if any) first, as events and to iterators, then what the
   * new connection heard while it LISTENed (as much as stays under maxBacklog), then live
   * delivery. A handler may close() the listener on any of those events: then nothing more
   * happens here.
   */
  #online(attempt: Attempt, gap: Gap | undefined): void {
    const { connection } = attempt
    this.#connection = connection
    this.#upSince = this.#heardAt = performance.now()
    this.#lifecycle.to('connected')
    this.#delivery.confirmedAt = attempt.confirmedAt
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
      // To the iterators, to what is held for a consumer not yet come, then the 'gap' event.
      this.#delivery.gap(gap)
    }
    if (connection !== this.#connection) return // closed (or lost) by a handler
    // Only as many as the queues have room for under their bound: the rest is inside the Gap.
    // Taken out of the attempt's array, not copied: the connection's notification handler,
    // made by the attempt, keeps that array reachable for as long as the connection lives.
    const room = this.#delivery.maxBacklog - this.#delivery.backlog()
    for (const notification of attempt.staged.splice(0).slice(0, Math.max(0, room))) this.#delivery.deliver(notification)
    attempt.online((notification) => this.#delivery.deliver(notification))
    // It may have closed while we finished opening it (its close was not ours to hear yet).
    if (connection.isClosed) this.#lost(connection, new ConnectionLostError('the connection was lost as it opened'))
  }

  /** The connection is gone (it worked until `upUntil`, by default now): report it, and reconnect unless we closed it or were told not to. */
  #lost(connection: Connection, error: Error | undefined, upUntil?: number): void {
    if (connection !== this.#connection || this.#closed()) return
    this.#connection = undefined
    this.#delivery.detach()
    this.#liveness.stop()
    this.#lifecycle.to('lost')
    const upFor = (upUntil ?? performance.now()) - this.#upSince
    this.#backoff?.lostAfter(upFor)
    this.#ready = this.#pending()
    const from = this.#delivery.confirmedAt
    this.#events.emit('disconnected', { error, at: new Date() })
    void this.#reconnect(from, error, upFor, upUntil !== undefined)
  }

  async #reconnect(from: Date, cause: Error | undefined, upFor: number, silent: boolean): Promise<void> {
    const backoff = this.#backoff
    let last = cause
    // Failures counted still, after a connection lost: it was an attempt's, lost too soon. If
    // that exhausts the attempts, the message says so, or "gave up after 3 attempts" would
    // read as if none had connected.
    let tooSoon = backoff && backoff.failures > 0 ? ` (the last one connected, but ${silent ? 'went silent' : 'was lost'} after ${Math.round(upFor)} ms, sooner than the up to ${backoff.settlesAfter} ms waited before it)` : ''
    for (;;) {
      if (this.#closed()) return
      if (!backoff || backoff.exhausted) {
        const why = backoff ? `gave up after ${backoff.failed} to reconnect${tooSoon}` : 'the connection was lost and reconnect is off'
        return this.#giveUp(new ListenerError(why, { cause: last })) // the last failure: the loss itself, or the last attempt's
      }
      const delay = backoff.next()
      this.#events.emit('reconnecting', { attempt: backoff.failures, maxAttempts: backoff.maxAttempts, delay, error: last })
      if (!(await sleep(delay, this.#stop.signal))) return // false: closed meanwhile (by a handler, too)
      this.#lifecycle.to('attempt')
      try {
        const attempt = await this.#attempt(true)
        if (this.#closed()) return void (await attempt.connection.close())
        this.#reconnects++
        return this.#online(attempt, { type: 'Gap', from, to: new Date(), cause })
      } catch (error) {
        if (this.#closed()) return
        this.#lifecycle.to('failed')
        tooSoon = ''
        last = error instanceof Error ? error : new ListenerError(String(error))
        this.#parts.reportError(error, 'reconnect')
      }
    }
  }

  /** No more attempts: every waiting call and iterator ends with `error`, and so does every later one. */
  #giveUp(error: ListenerError): void {
    this.#failure = error
    this.#lifecycle.to('gaveUp')
    this.#delivery.fail(error)
    this.#events.emit('error', error)
    this.#parts.gaveUp()
  }

  #confirm(connection: Connection, sentAt: Date): void {
    if (connection !== this.#connection) return
    this.#heardAt = performance.now()
    if (sentAt > this.#delivery.confirmedAt) this.#delivery.confirmedAt = sentAt
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
}
