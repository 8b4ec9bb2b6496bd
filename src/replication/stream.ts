/**
 * A durable change stream: logical replication from a slot, with pgoutput, handed on as an
 * async iterator whose items are acknowledged explicitly or by asking for the next one. Only
 * what was acknowledged is reported flushed, so after any disconnect the stream resumes from
 * the slot and nothing is lost; what was delivered but not acknowledged comes again.
 * I/O at the edge: imports the protocol's Connection, the pure ledger, queue and change decoder.
 */
import type { ConnectOptions } from '../protocol/io/connect.ts'
import type { Connection } from '../protocol/io/connection.ts'
import { AttemptSignal } from '../protocol/io/attempt-signal.ts'
import { BodyReader } from '../protocol/bytes/reader.ts'
import { ByteWriter } from '../protocol/bytes/writer.ts'
import { ConnectionLostError, DatabaseError } from '../protocol/errors.ts'
import { setLongTimeout } from '../protocol/timer.ts'
import { startReplication, type PgoutputOptions } from '../protocol/replication/commands.ts'
import { parseLsn, type Lsn } from '../protocol/replication/lsn.ts'
import { decodeReplicationMessage, pgTimeFromMs, writeStandbyStatusUpdate } from '../protocol/replication/stream-messages.ts'
import { Backoff, sleep } from '../listener/backoff.ts'
import { listeningKeepAlive } from '../listener/connect-options.ts'
import { ChangeDecoder, type ReplicationChange } from './changes.ts'
import { ReplicationError } from './errors.ts'
import { AckLedger } from './ledger.ts'
import { settle, type ReplicationOptions, type Settings } from './options.ts'
import { ReadAhead } from './read-ahead.ts'
import { checkSlot, makeSlot } from './slot-check.ts'
import { confirmResume, movedPast } from './resume-check.ts'
import { CopyLiveness, silenceAllowed, statusInterval } from './liveness.ts'
import { heartbeatPrefix, report, SlotWatch, watchConnection } from './watch.ts'

export type { ReplicationOptions }

/**
 * Before the stream has ever started, a failure is the caller's to see at once (a wrong
 * password, no such slot), as libpq's first connection is, with one exception: a slot still
 * in use (55006) is most often this program's own previous walsender, not yet aware that its
 * client was killed, and is tried this many times.
 */
const busySlotAttempts = 5

/** The longest message the protocol can frame (its length is an Int32): the replication connection's default maxMessageLength. */
const largestMessage = 2 ** 31 - 1

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
    let attempt = 0
    try {
      while (!signal.aborted) {
        let lost: Error
        try {
          await this.#streamOnce()
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
        // What was handed on and not acknowledged comes again from the slot.
        this.#ledger.restart()
        this.#queue.clear()
        this.#inHand = undefined
        this.#paused = false
        if (this.#backoff.exhausted) return this.#fail(new ReplicationError(`gave up reconnecting after ${this.#backoff.failures} attempts`, { cause: lost }))
        const delay = this.#backoff.next()
        attempt++
        report(this.#onReconnect, { attempt, error: lost, resumeFrom: this.#ledger.flushed })
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
   * One connection: connect, check (or make) the slot, start streaming, and read until the
   * copy ends. Connecting and checking the slot is one attempt, and START_REPLICATION up to
   * the server's CopyBothResponse (on a reconnect, up to the second look at the slot that
   * follows it) another, each bounded by attemptTimeout; making a slot is
   * not (it waits for every transaction running at the time to end). close() ends any of them
   * at once.
   */
  async #streamOnce(): Promise<void> {
    const s = this.#settings
    const stop = this.#stop.signal
    let attempt = new AttemptSignal(stop, s.attemptTimeout)
    const lost = (bound: AttemptSignal) => () => new ConnectionLostError(bound.timedOut ? `the attempt did not finish within ${s.attemptTimeout} ms` : 'the replication stream is closed', { cause: bound.signal.reason })
    let connection: Connection | undefined
    let unguard = (): void => undefined
    /** This connection is done with: a look at the slot answering late starts nothing. */
    let over = false
    /** Ends a look at the slot still under way when this connection is done with (close(), a failure). */
    const looking = new AbortController()
    try {
      // TCP keepalive on, as for a listening connection: a server gone without a word is noticed.
      // No message refused for its length unless the user sets one: a change is as large as its
      // values, and one refused would stop the stream at it on every restart. (A text value
      // longer than the runtime's strings, about 512 MiB in V8, still cannot be handed on.)
      const maxMessageLength = s.connection.maxMessageLength ?? largestMessage
      connection = await s.connect({ ...s.connection, keepAlive: s.connection.keepAlive ?? listeningKeepAlive, maxMessageLength, replication: 'database', signal: attempt.signal })
      this.#connection = connection
      unguard = abortOn(attempt.signal, connection, lost(attempt))
      const serverVersion = parseInt(connection.parameters.get('server_version') ?? '0', 10)
      if (serverVersion > 0 && serverVersion < 14) throw new ReplicationError(`logical replication through pglisten needs PostgreSQL 14 or later; this server is ${serverVersion}`)
      const protocolVersion = s.protocolVersion ?? (serverVersion >= 16 ? 4 : serverVersion === 15 ? 3 : 2)
      const slot = await checkSlot(connection, s.slot, s.publications)
      // Once started, the slot is where this stream last reported it, or behind: further on,
      // someone else moved it (another consumer, pg_replication_slot_advance) or dropped and
      // made it again, and what lay between was never handed out here. Looked at again once
      // START_REPLICATION holds the slot (resume-check.ts), for a move made in between.
      if (this.#started && slot.confirmed !== undefined && slot.confirmed > this.#ledger.flushed) throw movedPast(s.slot, this.#ledger.flushed, slot.confirmed)
      unguard()
      attempt.dispose()
      let confirmed = slot.confirmed
      if (s.temporary || confirmed === undefined) {
        unguard = abortOn(stop, connection, () => new ConnectionLostError('the replication stream is closed', { cause: stop.reason }))
        confirmed = await makeSlot(connection, s, { firstStart: !this.#started, serverVersionNum: serverVersion * 10000 })
        unguard()
      }
      // The slot has everything before its confirmed position confirmed already: reporting less
      // would be wrong (and before PostgreSQL 17 could even move the slot back).
      this.#ledger.resumeAt(confirmed)
      const interval = statusInterval(slot.walSenderTimeout, s.statusInterval)
      const open = connection
      const liveness = (this.#liveness = new CopyLiveness(interval, silenceAllowed(slot.walSenderTimeout, interval, s.receiveTimeout), {
        sendStatus: (replyRequested) => this.#sendStatus(replyRequested),
        paused: () => this.#paused,
        gone: (error) => open.abort(error),
      }))
      const options: PgoutputOptions = {
        protocolVersion,
        publications: s.publications,
        messages: s.messages,
        twoPhase: s.twoPhase,
        streaming: s.streaming && protocolVersion >= 2 ? 'on' : 'off',
      }
      const decoder = new ChangeDecoder(s.parse, (taken) => this.#push(taken.change, taken.completes, taken.open))
      const reader = new BodyReader()
      const start = this.#ledger.flushed
      let heard = false
      attempt = new AttemptSignal(stop, s.attemptTimeout)
      unguard = abortOn(attempt.signal, connection, lost(attempt))
      const streaming = () => {
        unguard() // streaming: the attempt is over, and close() ends the copy cleanly from here
        attempt.dispose()
        this.#confirming = false
        if (stop.aborted) {
          this.#sendStatus()
          connection!.endCopy()
          return
        }
        this.#started = true
        this.#ready.resolve(start)
        liveness.start()
      }
      const copy = connection.copyBoth(startReplication(s.slot, start, options), (data) => {
        liveness.heard()
        if (!heard) {
          // The server streams to us: only now is this a connection worth resetting the backoff for.
          heard = true
          this.#backoff.reset()
        }
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
      }, () => {
        // A first start takes the slot where it is (the later of it and `start` wins). A
        // reconnect first looks at the slot again, now that the walsender holds it
        // (resume-check.ts), and until that answers reads nothing (so hands out no change and
        // answers no keepalive) and sends no status update: one would set confirmed_flush_lsn,
        // forward past the move or (before PostgreSQL 17) back to `start`, and hide the move.
        // The look is part of this attempt: bounded by attemptTimeout, ended by close().
        if (!this.#started) return streaming()
        this.#confirming = true
        open.pause()
        // Only a slot seen moved ends the stream. A look that cannot be made or proves nothing (no
        // connection free under max_connections or a role's limit, a pooler's process ID, a
        // password asked again and refused, no answer within half the attempt's time) leaves the
        // stream guarded by the first look alone, rather than keep it from resuming for good.
        // Not on attempt.signal: the clean-up below disposes of that, after which it never aborts.
        const look = new AttemptSignal(looking.signal, s.attemptTimeout / 2)
        confirmResume((signal) => s.connect({ ...watchConnection(s.connection), signal }), look.signal, { slot: s.slot, walsender: open.processId, acknowledged: start })
          .catch((error: unknown) => {
            if (error instanceof ReplicationError) throw error
          })
          .then(() => {
            if (over || attempt.signal.aborted) return // close() or the attempt's time ended it: its copy is failing
            streaming()
            open.resume()
          })
          .catch((error: unknown) => open.abort(error as ReplicationError))
          .finally(() => look.dispose())
      })
      await copy
    } catch (error) {
      if (attempt.timedOut && !(error instanceof DatabaseError)) throw lost(attempt)()
      throw error
    } finally {
      over = true
      looking.abort()
      this.#confirming = false
      unguard()
      attempt.dispose()
      this.#liveness?.stop()
      this.#liveness = undefined
      this.#connection = undefined
      await connection?.close().catch(() => undefined)
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

/**
 * Lost connections and the server's own restarts are worth another attempt once the stream
 * has started; a slot in use (55006) may be our own previous walsender, not yet gone. Anything
 * else (no such slot or publication, no permission, a protocol violation) would fail the same
 * way again.
 */
function retryable(error: Error, started: boolean, failures: number): boolean {
  if (error instanceof DatabaseError && error.code === '55006') return started || failures < busySlotAttempts - 1
  if (!started) return false
  if (error instanceof ConnectionLostError) return true
  if (error instanceof DatabaseError) return ['57P01', '57P02', '57P03', '53300'].includes(error.code ?? '')
  return false
}

/**
 * While a step runs, `signal` aborting ends `connection` (its query rejects at once, with
 * `why()`); returns the function that stops watching.
 */
function abortOn(signal: AbortSignal, connection: Connection, why: () => Error): () => void {
  const abort = () => connection.abort(why())
  if (signal.aborted) {
    abort()
    return () => undefined
  }
  signal.addEventListener('abort', abort, { once: true })
  return () => signal.removeEventListener('abort', abort)
}
