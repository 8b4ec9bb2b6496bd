/**
 * A durable change stream: logical replication from a slot, with pgoutput, handed on as an
 * async iterator whose items are acknowledged explicitly or by asking for the next one. Only
 * what was acknowledged is reported flushed, so after any disconnect the stream resumes from
 * the slot and nothing is lost; what was delivered but not acknowledged comes again.
 * Here the copy loop and the reconnects; each connection's start-up is start.ts's. I/O at the
 * edge: imports the protocol's Connection, the pure ledger, queue and change decoder, start.ts.
 */
import type { ConnectOptions } from '../protocol/io/connect.ts'
import type { Connection } from '../protocol/io/connection.ts'
import { BodyReader } from '../protocol/bytes/reader.ts'
import { ByteWriter } from '../protocol/bytes/writer.ts'
import { ConnectionLostError } from '../protocol/errors.ts'
import { setLongTimeout } from '../protocol/timer.ts'
import type { Lsn } from '../protocol/replication/lsn.ts'
import { decodeReplicationMessage, pgTimeFromMs, writeStandbyStatusUpdate } from '../protocol/replication/stream-messages.ts'
import { Backoff, sleep } from '../listener/backoff.ts'
import { ChangeDecoder, type ReplicationChange } from './changes.ts'
import { ReplicationError } from './errors.ts'
import { AckLedger } from './ledger.ts'
import { settle, type ReplicationOptions, type Settings } from './options.ts'
import { ReadAhead } from './read-ahead.ts'
import { retryable, streamOnce, type CopyLoop } from './start.ts'
import { CopyLiveness, silenceAllowed, statusInterval } from './liveness.ts'
import { heartbeatPrefix, report, SlotWatch, watchConnection } from './watch.ts'

export type { ReplicationOptions }

/**
 * How long a connection that began streaming at `since` was up (performance.now() times): until
 * now, or until it was last heard from (`heardUntil`) if it was taken for gone. Bounded by both,
 * so no error in the silence's measure can make it negative or longer than it was.
 */
function upTime(since: number, heardUntil: number | undefined): number {
  const now = performance.now()
  return Math.max(0, Math.min(now, heardUntil ?? now) - since)
}

export class ReplicationStream implements AsyncIterable<ReplicationChange> {
  readonly #settings: Settings
  readonly #ledger: AckLedger
  readonly #backoff: Backoff
  readonly #stop = new AbortController()
  readonly #onReconnect: ReplicationOptions['onReconnect']
  readonly #done: Promise<void>
  /** Each change this stream handed out, with its place in the ledger: ack() takes only those. */
  readonly #sequenceOf = new WeakMap<ReplicationChange, number>()
  /** Decoded, not yet handed to the application. */
  readonly #queue = new ReadAhead<ReplicationChange>()
  /** The one next() waiting for an item; next() calls are served one after the other. */
  #wake: (() => void) | undefined
  #nextInLine: Promise<unknown> = Promise.resolve()
  #failure: Error | undefined
  #connection: Connection | undefined
  #paused = false
  /** The status timer of the copy under way. */
  #liveness: CopyLiveness | undefined
  /** START_REPLICATION has succeeded at least once: from now on a lost connection is retried. */
  #started = false
  /** When the copy under way began streaming (performance.now()); undefined between connections. */
  #upSince: number | undefined
  /**
   * When the copy under way was last heard from (performance.now()), once CopyLiveness has taken
   * its server for gone; undefined otherwise. It was up only until then, for the backoff.
   */
  #heardUntil: number | undefined
  /** A reconnect's START_REPLICATION succeeded and the slot is being looked at again: the server is told nothing yet. */
  #confirming = false
  /** The item last handed out by the iterator: acknowledged when the next is asked for. */
  #inHand: ReplicationChange | undefined
  #iterating = false
  #ready!: { resolve(start: Lsn): void; reject(error: Error): void }
  #unwatchSignal: (() => void) | undefined
  readonly #watch: SlotWatch | undefined
  /** Resolves with the LSN streaming started from, once the first START_REPLICATION succeeded. */
  readonly ready: Promise<Lsn>

  constructor(options: ReplicationOptions, connect: (options: ConnectOptions) => Promise<Connection>) {
    this.#settings = settle(options, connect)
    this.#ledger = new AckLedger(this.#settings.start)
    this.#backoff = new Backoff(options.reconnect)
    this.#onReconnect = options.onReconnect
    const s = this.#settings
    this.#watch = s.watch && new SlotWatch(s.slot, s.watch, (signal) => s.connect({ ...watchConnection(s.connection), signal }))
    this.ready = new Promise((resolve, reject) => (this.#ready = { resolve, reject }))
    this.ready.catch(() => undefined) // also reported through the iterator
    const signal = options.signal
    if (signal?.aborted) this.#stop.abort(signal.reason)
    else if (signal) {
      const onAbort = () => void this.close()
      signal.addEventListener('abort', onAbort, { once: true })
      this.#unwatchSignal = () => signal.removeEventListener('abort', onAbort)
    }
    this.#done = this.#run()
  }

  /** What the server has been told it may forget: the slot's confirmed_flush_lsn, once reported. */
  get flushedLsn(): Lsn {
    return this.#ledger.flushed
  }

  /**
   * The application is done with `change` and every change handed out before it. The slot
   * moves only by whole transactions: to a commit once it is acknowledged.
   */
  ack(change: ReplicationChange): void {
    const seq = this.#sequenceOf.get(change)
    if (seq === undefined) throw new TypeError('ack() takes a change this stream handed out')
    if (this.#inHand === change) this.#inHand = undefined
    // After close() nothing more can be reported, so flushedLsn stays what the server was told.
    if (!this.#stop.signal.aborted) this.#ledger.ack(seq)
  }

  [Symbol.asyncIterator](): AsyncIterator<ReplicationChange> {
    if (this.#iterating) throw new TypeError('a replication stream has one consumer: iterate it once')
    this.#iterating = true
    return {
      // Asking for the next acknowledges what was handed out before this call, not what an
      // earlier call still pending will hand out. Calls that overlap are answered in the order
      // they were made, each with its own item.
      next: () => {
        const handedOut = this.#inHand
        if (handedOut !== undefined) this.ack(handedOut)
        const result = this.#nextInLine.then(() => this.#next())
        this.#nextInLine = result.catch(() => undefined)
        return result
      },
      // Leaving the loop (break, throw) acknowledges nothing more: the change in hand comes again.
      return: async () => {
        this.#inHand = undefined
        await this.close()
        return { done: true, value: undefined }
      },
    }
  }

  async #next(): Promise<IteratorResult<ReplicationChange>> {
    for (;;) {
      if (this.#stop.signal.aborted && this.#failure === undefined) return { done: true, value: undefined }
      const change = this.#queue.shift()
      if (change !== undefined) {
        if (this.#paused && this.#queue.size <= this.#settings.highWater / 2) this.#resumeReading()
        this.#inHand = change
        return { done: false, value: change }
      }
      if (this.#failure) throw this.#failure
      await new Promise<void>((resolve) => (this.#wake = resolve))
    }
  }

  /**
   * Stops: reports what was acknowledged, ends the copy (so the server has it before the
   * connection goes), closes the connection. Changes read ahead and not handed out are dropped;
   * those not acknowledged come again next time. If it comes while the stream is between
   * connections, what was acknowledged since the last status update may come again too.
   */
  async close(): Promise<void> {
    if (!this.#stop.signal.aborted) {
      this.#stop.abort(new ReplicationError('the replication stream is closed'))
      this.#queue.clear()
      // The server's answer to our CopyDone must be read, whatever the application left unread.
      this.#resumeReading()
      this.#wakeUp()
      const connection = this.#connection
      if (connection?.copying) {
        this.#sendStatus()
        connection.endCopy()
        // A server that does not answer the CopyDone (a link gone silent) is not waited for
        // longer than an attempt may take.
        const { attemptTimeout } = this.#settings
        const cancel = setLongTimeout(() => connection.abort(new ConnectionLostError(`the server did not end the copy within ${attemptTimeout} ms of close()`)), attemptTimeout)
        void this.#done.finally(cancel)
      }
    }
    await this.#done
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  #wakeUp(): void {
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }

  #fail(error: Error): void {
    this.#failure ??= error
    this.#ready.reject(error)
    this.#stop.abort(error)
    this.#wakeUp()
  }

  /** Connects, streams until the connection is lost, and again, until closed or a lasting failure. */
  async #run(): Promise<void> {
    const signal = this.#stop.signal
    try {
      while (!signal.aborted) {
        let lost: Error
        try {
          await streamOnce(this.#settings, signal, { started: this.#started, ledger: this.#ledger, copy: (connection, walSenderTimeout) => this.#copy(connection, walSenderTimeout) })
          if (signal.aborted) break
          lost = new ConnectionLostError('the server ended the replication stream')
        } catch (error) {
          if (signal.aborted) break
          lost = error instanceof Error ? error : new ConnectionLostError(String(error))
          if (!retryable(lost, this.#started, this.#backoff.failures)) return this.#fail(lost)
        }
        if (this.#settings.temporary && this.#started) {
          return this.#fail(new ReplicationError('the connection to a temporary slot was lost; the server dropped the slot with the changes not yet read', { cause: lost }))
        }
        // As the listener's backoff (backoff.ts, lostAfter): only a connection that streamed at
        // least as long as the wait before it starts the backoff over. One lost sooner (a
        // watchdog that ends every new walsender, a wal_sender_timeout it cannot meet) counts
        // as a failed attempt, toward maxAttempts, instead of a reconnect every minDelay for ever.
        // One taken for gone after receiveTimeout of silence was up only until it was last heard
        // from, as the listener's found dead by its heartbeat: a path that lets each walsender
        // start streaming, then carries nothing, is so a failed attempt each time, not a backoff
        // started over every receiveTimeout (about 70 s by default) for ever.
        const silent = this.#heardUntil !== undefined
        const upFor = this.#upSince === undefined ? undefined : upTime(this.#upSince, this.#heardUntil)
        this.#upSince = this.#heardUntil = undefined
        if (upFor !== undefined) this.#backoff.lostAfter(upFor)
        // What was handed on and not acknowledged comes again from the slot.
        this.#ledger.restart()
        this.#queue.clear()
        this.#inHand = undefined
        this.#paused = false
        if (this.#backoff.exhausted) {
          const tooSoon = upFor === undefined ? '' : `; the last one streamed, and ${silent ? 'went silent' : 'was lost'} after ${Math.round(upFor)} ms`
          return this.#fail(new ReplicationError(`gave up reconnecting after ${this.#backoff.failed}${tooSoon}`, { cause: lost }))
        }
        const delay = this.#backoff.next()
        // Numbered as the listener's 'reconnecting' event: since the backoff last started over.
        report(this.#onReconnect, { attempt: this.#backoff.failures, error: lost, resumeFrom: this.#ledger.flushed })
        if (!(await sleep(delay, signal))) break
      }
    } finally {
      this.#unwatchSignal?.()
      await this.#watch?.close()
      this.#queue.clear()
      this.#ready.reject(this.#failure ?? new ReplicationError('the replication stream was closed before it started'))
      this.#wakeUp()
    }
  }

  /**
   * The copy loop of one connection (start.ts starts it): reads XLogData and keepalives, hands
   * the changes on, and keeps the server told what was acknowledged.
   */
  #copy(connection: Connection, walSenderTimeout: number): CopyLoop {
    const s = this.#settings
    const stop = this.#stop.signal
    this.#connection = connection
    const interval = statusInterval(walSenderTimeout, s.statusInterval)
    const liveness = (this.#liveness = new CopyLiveness(interval, silenceAllowed(walSenderTimeout, interval, s.receiveTimeout), {
      sendStatus: (replyRequested) => this.#sendStatus(replyRequested),
      paused: () => this.#paused,
      gone: (error, silentFor) => {
        // Its silence measured by performance.now(), as its start (a step of the wall clock, by
        // which CopyLiveness judges, must not make a connection that streamed an hour one up
        // for 0 ms): it was last heard from now less the silence. A verdict that comes after
        // its copy ended (its timer's last turn) marks no later connection.
        if (this.#liveness === liveness) this.#heardUntil = performance.now() - silentFor
        connection.abort(error)
      },
    }))
    const decoder = new ChangeDecoder(s.parse, (taken) => this.#push(taken.change, taken.completes, taken.open))
    const reader = new BodyReader()
    return {
      data: (data) => {
        liveness.heard()
        // After close(), what the server still sends before its CopyDone changes nothing: the
        // ledger stays what the server was last told.
        if (stop.aborted) return
        const message = decodeReplicationMessage(data, reader)
        if (message.type === 'PrimaryKeepalive') {
          this.#ledger.idleAt(message.walEnd)
          if (message.replyRequested) this.#sendStatus()
          return
        }
        this.#ledger.saw(message.walEnd)
        decoder.take(message.body, message.walStart)
      },
      holdStatus: () => {
        this.#confirming = true
      },
      streaming: (start) => {
        this.#confirming = false
        if (stop.aborted) {
          this.#sendStatus()
          connection.endCopy()
          return
        }
        this.#started = true
        this.#upSince = performance.now()
        this.#ready.resolve(start)
        liveness.start()
      },
      end: () => {
        this.#confirming = false
        liveness.stop()
        this.#liveness = undefined
        this.#connection = undefined
      },
    }
  }

  #push(change: ReplicationChange, completes: Lsn | undefined, open: boolean): void {
    // After close(), the server may still send what it had on its way before our CopyDone.
    if (this.#stop.signal.aborted) return
    if (change.kind === 'message' && !change.transactional && change.prefix === heartbeatPrefix) {
      // A heartbeat is for the slot, not the application: like a keepalive, it moves the slot
      // only when nothing is owed.
      if (completes !== undefined) this.#ledger.resumeAt(completes)
      return
    }
    this.#sequenceOf.set(change, this.#ledger.deliver(completes === undefined ? { open } : { completes, open }))
    this.#queue.push(change)
    if (!this.#paused && this.#queue.size >= this.#settings.highWater) {
      this.#paused = true
      this.#connection?.pause()
    }
    this.#wakeUp()
  }

  #resumeReading(): void {
    if (!this.#paused) return
    this.#paused = false
    this.#liveness?.heard() // the silence while paused was ours
    this.#connection?.resume()
  }

  /** A standby status update: written up to what was received, flushed and applied up to what was acknowledged. */
  #sendStatus(replyRequested = false): void {
    const connection = this.#connection
    if (!connection?.copying || this.#confirming) return
    const ledger = this.#ledger
    const flushed = ledger.flushed
    const bytes = writeStandbyStatusUpdate(new ByteWriter(40), { written: ledger.written, flushed, applied: flushed, clientTime: pgTimeFromMs(Date.now()), replyRequested }).toBytes()
    connection.sendCopy(bytes)
  }
}

