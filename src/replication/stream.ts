/**
 * A durable change stream: logical replication from a slot, with pgoutput, handed on as an
 * async iterator whose items are acknowledged explicitly or by asking for the next one. Only
 * what was acknowledged is reported flushed, so after any disconnect the stream resumes from
 * the slot and nothing is lost; what was delivered but not acknowledged comes again.
 * I/O at the edge: imports the protocol's Connection, the pure ledger and change decoder.
 */
import type { ConnectOptions } from '../protocol/io/connect.ts'
import type { Connection } from '../protocol/io/connection.ts'
import { BodyReader } from '../protocol/bytes/reader.ts'
import { ByteWriter } from '../protocol/bytes/writer.ts'
import { ConnectionLostError, DatabaseError } from '../protocol/errors.ts'
import { checkSlotName, createReplicationSlot, startReplication, type PgoutputOptions } from '../protocol/replication/commands.ts'
import { formatLsn, parseLsn, type Lsn } from '../protocol/replication/lsn.ts'
import { decodeReplicationMessage, pgTimeFromMs, writeStandbyStatusUpdate } from '../protocol/replication/stream-messages.ts'
import { Backoff, sleep, type BackoffOptions } from '../listener/backoff.ts'
import { ChangeDecoder, type ReplicationChange } from './changes.ts'
import { ReplicationError } from './errors.ts'
import { AckLedger } from './ledger.ts'
import { createValueParser, type ValueParser } from './values.ts'

export interface ReplicationOptions {
  /** How to reach the server: a connection string or options, as for connect(). */
  connection?: ConnectOptions | string
  /** The slot to stream from: 1 to 63 lower-case letters, digits and underscores. */
  slot: string
  /** The publications whose changes to stream (CREATE PUBLICATION); at least one. */
  publications: readonly string[]
  /** Create the slot if it does not exist. Default false: a missing slot is an error. */
  create?: boolean
  /**
   * Create a temporary slot for this stream (implies create). The server drops it when the
   * connection ends, with every change not yet read: such a stream cannot resume, and ends
   * with a ReplicationError on any disconnect instead.
   */
  temporary?: boolean
  /** Start here rather than at the slot's confirmed position (the later of the two wins). */
  start?: Lsn | string
  /** Hand on pg_logical_emit_message messages too. Default false. */
  messages?: boolean
  /** pgoutput's protocol version; default the newest this server has (4 from PostgreSQL 16). */
  protocolVersion?: 1 | 2 | 3 | 4
  /**
   * Decode prepared transactions at PREPARE (protocol 3; the slot must be made with two-phase
   * on, as create does with this option). Default false: they come at COMMIT PREPARED.
   */
  twoPhase?: boolean
  /**
   * Let the server stream a transaction that outgrows logical_decoding_work_mem while it is
   * still in progress (protocol 2), instead of spilling it to its disk until the commit. pglisten
   * still hands it on only once committed, so it keeps the streamed changes in memory until
   * then. Default false, which bounds this process's memory whatever the transaction's size.
   */
  streaming?: boolean
  /** How column values become JS values; see values.ts. Default: as node-postgres would. */
  parse?: Parameters<typeof createValueParser>[0]
  /**
   * Milliseconds between standby status updates, which report what was acknowledged and keep
   * the walsender from timing the client out. Default 10,000, and never more than a third of
   * the server's wal_sender_timeout.
   */
  statusInterval?: number
  /** Items read ahead of the application before reading from the socket pauses. Default 1,000. */
  highWater?: number
  /** Reconnect delays after a lost connection. */
  reconnect?: BackoffOptions
  /** Stops the stream, as close() does. */
  signal?: AbortSignal
  /** Told of each reconnect; default none. */
  onReconnect?(info: { attempt: number; error: Error; resumeFrom: Lsn }): void
}

/** The options with defaults decided, and the ways to reach the network given. */
interface Settings {
  connect(options: ConnectOptions): Promise<Connection>
  connection: ConnectOptions
  slot: string
  publications: readonly string[]
  create: boolean
  temporary: boolean
  start: Lsn
  messages: boolean
  protocolVersion: 1 | 2 | 3 | 4 | undefined
  twoPhase: boolean
  streaming: boolean
  parse: ValueParser
  statusInterval: number
  highWater: number
}

/** A change the application has in hand, with its place in the ledger. */
const sequenceOf = new WeakMap<object, number>()

export class ReplicationStream implements AsyncIterable<ReplicationChange> {
  readonly #settings: Settings
  readonly #ledger: AckLedger
  readonly #backoff: Backoff
  readonly #stop = new AbortController()
  readonly #onReconnect: ReplicationOptions['onReconnect']
  readonly #done: Promise<void>

  /** Decoded, not yet handed to the application. */
  #queue: ReplicationChange[] = []
  #head = 0
  #wake: (() => void) | undefined
  #failure: Error | undefined
  #connection: Connection | undefined
  #paused = false
  /** The item last handed out by the iterator: acknowledged when the next is asked for. */
  #inHand: ReplicationChange | undefined
  #iterating = false
  #ready!: { resolve(start: Lsn): void; reject(error: Error): void }
  /** Resolves with the LSN streaming started from, once the first START_REPLICATION succeeded. */
  readonly ready: Promise<Lsn>

  constructor(options: ReplicationOptions, connect: (options: ConnectOptions) => Promise<Connection>) {
    this.#settings = settle(options, connect)
    this.#ledger = new AckLedger(this.#settings.start)
    this.#backoff = new Backoff(options.reconnect)
    this.#onReconnect = options.onReconnect
    this.ready = new Promise((resolve, reject) => (this.#ready = { resolve, reject }))
    this.ready.catch(() => undefined) // also reported through the iterator
    const signal = options.signal
    if (signal) {
      if (signal.aborted) this.#stop.abort(signal.reason)
      else signal.addEventListener('abort', () => void this.close(), { once: true })
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
    const seq = sequenceOf.get(change)
    if (seq === undefined) throw new TypeError('ack() takes a change this stream handed out')
    this.#ledger.ack(seq)
    if (this.#inHand === change) this.#inHand = undefined
  }

  [Symbol.asyncIterator](): AsyncIterator<ReplicationChange> {
    if (this.#iterating) throw new TypeError('a replication stream has one consumer: iterate it once')
    this.#iterating = true
    return {
      next: () => this.#next(),
      // Leaving the loop (break, throw) acknowledges nothing more: the change in hand comes again.
      return: async () => {
        this.#inHand = undefined
        await this.close()
        return { done: true, value: undefined }
      },
    }
  }

  async #next(): Promise<IteratorResult<ReplicationChange>> {
    if (this.#inHand !== undefined) this.ack(this.#inHand)
    for (;;) {
      if (this.#head < this.#queue.length) {
        const change = this.#queue[this.#head++]!
        if (this.#head === this.#queue.length) {
          this.#queue = []
          this.#head = 0
        }
        if (this.#paused && this.#queue.length - this.#head <= this.#settings.highWater / 2) this.#resumeReading()
        this.#inHand = change
        return { done: false, value: change }
      }
      if (this.#failure) throw this.#failure
      if (this.#stop.signal.aborted) return { done: true, value: undefined }
      await new Promise<void>((resolve) => (this.#wake = resolve))
    }
  }

  /**
   * Stops: reports what was acknowledged, ends the copy (so the server has it before the
   * connection goes), closes the connection. Changes not acknowledged come again next time.
   */
  async close(): Promise<void> {
    if (!this.#stop.signal.aborted) {
      this.#stop.abort(new ReplicationError('the replication stream is closed'))
      this.#wakeUp()
      const connection = this.#connection
      if (connection?.copying) {
        this.#sendStatus(false)
        connection.endCopy()
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
    while (!signal.aborted) {
      let lost: Error | undefined
      try {
        await this.#streamOnce()
        if (signal.aborted) break
        lost = new ConnectionLostError('the server ended the replication stream')
      } catch (error) {
        if (signal.aborted) break
        lost = error instanceof Error ? error : new ConnectionLostError(String(error))
        if (!retryable(lost)) return this.#fail(lost)
      }
      if (this.#settings.temporary) {
        return this.#fail(new ReplicationError('the connection to a temporary slot was lost; the server dropped the slot with the changes not yet read', { cause: lost }))
      }
      // What was handed on and not acknowledged comes again from the slot.
      this.#ledger.restart()
      this.#queue = []
      this.#head = 0
      this.#resumeReading()
      if (this.#backoff.exhausted) return this.#fail(new ReplicationError(`gave up reconnecting after ${this.#backoff.failures} attempts`, { cause: lost }))
      attempt++
      try {
        this.#onReconnect?.({ attempt, error: lost, resumeFrom: this.#ledger.flushed })
      } catch {
        // A reporting hook must not stop the stream.
      }
      if (!(await sleep(this.#backoff.next(), signal))) break
    }
    await this.#connection?.close().catch(() => undefined)
  }

  /** One connection: start the slot's stream, and read it until it ends. */
  async #streamOnce(): Promise<void> {
    const s = this.#settings
    const connection = await s.connect({ ...s.connection, replication: 'database' })
    this.#connection = connection
    let timer: ReturnType<typeof setInterval> | undefined
    try {
      const serverVersion = parseInt(connection.parameters.get('server_version') ?? '0', 10)
      if (serverVersion > 0 && serverVersion < 14) throw new ReplicationError(`logical replication through pglisten needs PostgreSQL 14 or later; this server is ${serverVersion}`)
      const protocolVersion = s.protocolVersion ?? (serverVersion >= 16 ? 4 : serverVersion === 15 ? 3 : 2)
      if (s.create || s.temporary) await this.#createSlot(connection, serverVersion * 10000)
      const interval = await statusIntervalFor(connection, s.statusInterval)
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
      timer = setInterval(() => this.#sendStatus(false), interval)
      ;(timer as { unref?(): void }).unref?.()
      let started!: () => void
      const streaming = new Promise<void>((resolve) => (started = resolve))
      const copy = connection.copyBoth(startReplication(s.slot, start, options), (data) => {
        const message = decodeReplicationMessage(data, reader)
        if (message.type === 'PrimaryKeepalive') {
          this.#ledger.idleAt(message.walEnd)
          if (message.replyRequested) this.#sendStatus(false)
          return
        }
        this.#ledger.saw(message.walEnd)
        decoder.take(message.body, message.walStart)
      }, () => started())
      await Promise.race([copy, streaming])
      this.#backoff.reset()
      this.#ready.resolve(start)
      await copy
    } finally {
      if (timer !== undefined) clearInterval(timer)
      this.#connection = undefined
      await connection.close().catch(() => undefined)
    }
  }

  async #createSlot(connection: Connection, serverVersionNum: number): Promise<void> {
    const s = this.#settings
    try {
      await connection.query(createReplicationSlot(s.slot, { temporary: s.temporary, twoPhase: s.twoPhase }, serverVersionNum))
    } catch (error) {
      // 42710 duplicate_object: it exists already, which is what create asks for.
      if (!(error instanceof DatabaseError && error.code === '42710' && !s.temporary)) throw error
    }
  }

  #push(change: ReplicationChange, completes: Lsn | undefined, open: boolean): void {
    sequenceOf.set(change, this.#ledger.deliver(completes === undefined ? { open } : { completes, open }))
    this.#queue.push(change)
    if (!this.#paused && this.#queue.length - this.#head >= this.#settings.highWater) {
      this.#paused = true
      this.#connection?.pause()
    }
    this.#wakeUp()
  }

  #resumeReading(): void {
    if (!this.#paused) return
    this.#paused = false
    this.#connection?.resume()
  }

  /** A standby status update: written up to what was received, flushed and applied up to what was acknowledged. */
  #sendStatus(replyRequested: boolean): void {
    const connection = this.#connection
    if (!connection?.copying) return
    const ledger = this.#ledger
    const flushed = ledger.flushed
    const bytes = writeStandbyStatusUpdate(new ByteWriter(40), { written: ledger.written, flushed, applied: flushed, clientTime: pgTimeFromMs(Date.now()), replyRequested }).toBytes()
    connection.sendCopy(bytes)
  }
}

/**
 * Lost connections and the server's own restarts are worth another attempt; a slot in use
 * (55006) may be our own previous walsender, not yet gone. Anything else (no such slot or
 * publication, no permission, a protocol violation) would fail the same way again.
 */
function retryable(error: Error): boolean {
  if (error instanceof ConnectionLostError) return true
  if (error instanceof DatabaseError) return ['55006', '57P01', '57P02', '57P03', '53300'].includes(error.code ?? '')
  return false
}

/** The status interval, within a third of wal_sender_timeout (0 turns that timeout off). */
async function statusIntervalFor(connection: Connection, wanted: number): Promise<number> {
  const [result] = await connection.query("SELECT setting FROM pg_settings WHERE name = 'wal_sender_timeout'")
  const timeout = Number(result?.rows[0]?.[0] ?? 0)
  return timeout > 0 ? Math.max(1, Math.min(wanted, Math.floor(timeout / 3))) : wanted
}

function settle(o: ReplicationOptions, connect: Settings['connect']): Settings {
  if (o === null || typeof o !== 'object') throw new TypeError('replicate() takes an options object with slot and publications')
  checkSlotName(o.slot)
  if (!Array.isArray(o.publications) || o.publications.length === 0) throw new TypeError('publications: give at least one publication name')
  for (const name of o.publications) if (typeof name !== 'string' || name === '') throw new TypeError('publications: each name must be a non-empty string')
  const start = o.start === undefined ? 0n : typeof o.start === 'bigint' ? o.start : parseLsn(o.start)
  if (start < 0n) throw new RangeError(`start must not be negative: ${start}`)
  const statusInterval = o.statusInterval ?? 10_000
  if (!(statusInterval > 0) || !Number.isFinite(statusInterval)) throw new RangeError(`statusInterval must be a positive number of milliseconds, not ${statusInterval}`)
  const highWater = o.highWater ?? 1000
  if (!Number.isSafeInteger(highWater) || highWater < 1) throw new RangeError(`highWater must be a positive integer, not ${highWater}`)
  if (o.protocolVersion !== undefined && ![1, 2, 3, 4].includes(o.protocolVersion)) throw new RangeError(`protocolVersion must be 1, 2, 3 or 4, not ${o.protocolVersion}`)
  const connection: ConnectOptions = typeof o.connection === 'string' ? { connectionString: o.connection } : { ...o.connection }
  return {
    connect,
    connection,
    slot: o.slot,
    publications: [...o.publications],
    create: o.create ?? false,
    temporary: o.temporary ?? false,
    start,
    messages: o.messages ?? false,
    protocolVersion: o.protocolVersion,
    twoPhase: o.twoPhase ?? false,
    streaming: o.streaming ?? false,
    parse: createValueParser(o.parse),
    statusInterval,
    highWater,
  }
}

export { formatLsn }
