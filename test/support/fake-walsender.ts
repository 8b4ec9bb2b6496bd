/**
 * A model walsender, for the replication stream's model-based test: one logical slot with its
 * confirmed_flush position, a WAL of committed transactions (Begin, Inserts, Commit, each at an
 * LSN of its own), and connections that offer ReplicationStream the members of the protocol's
 * Connection it uses, and nothing else. On START_REPLICATION a connection streams from the later
 * of the requested LSN and the slot's position, skipping every transaction that commits before
 * it, as PostgreSQL does (CreateDecodingContext, SnapBuildXactNeedsSkip); it holds back what it
 * sends while the client pauses reading, as a socket would; it answers a status update that asks
 * for a reply, moves the slot to what each one reports flushed, and drops on command. An
 * ordinary connection answers a reconnect's look at the slot (which process holds it, and where
 * it is confirmed), held back while the test says.
 * Its bytes come from test/support/pgoutput-bytes.ts, never from src; from src it takes types and
 * ConnectionLostError only.
 */
import type { ConnectOptions } from '../../src/protocol/io/connect.ts'
import type { Connection } from '../../src/protocol/io/connection.ts'
import type { CopyBothOutcome } from '../../src/protocol/exchange/copy-both.ts'
import type { QueryResult } from '../../src/protocol/exchange/query.ts'
import { ConnectionLostError } from '../../src/protocol/errors.ts'
import type { PgoutputMessage } from '../../src/protocol/replication/pgoutput-messages.ts'
import { char, int64, int8, pgoutputBytes } from './pgoutput-bytes.ts'

export type Lsn = bigint

/** What ReplicationStream (stream.ts, start.ts, slot-check.ts) uses of a Connection: the walsender's side of it. */
type WalsenderSide = Pick<Connection, 'parameters' | 'processId' | 'query' | 'copyBoth' | 'copying' | 'sendCopy' | 'endCopy' | 'pause' | 'resume' | 'abort' | 'close'>

export interface Transaction {
  readonly index: number
  readonly xid: number
  /** Where the Begin's XLogData starts. */
  readonly beginLsn: Lsn
  readonly rows: readonly { readonly id: string; readonly lsn: Lsn }[]
  /** The commit record's LSN: Begin's finalLsn, and what decides whether a start skips it. */
  readonly commitLsn: Lsn
  /** The end of the commit record: what a client that has it reports flushed. */
  readonly endLsn: Lsn
}

/** A standby status update as the walsender read it. */
export interface StatusUpdate {
  readonly connection: number
  readonly written: Lsn
  readonly flushed: Lsn
  readonly applied: Lsn
  readonly replyRequested: boolean
}

/** One START_REPLICATION. */
export interface Start {
  readonly connection: number
  /** The LSN the client asked for. */
  readonly requested: Lsn
  /** The first transaction sent: the first committing at or after max(requested, slot position). */
  readonly firstTransaction: number
}

/** The table every row goes to: text column id, the replica identity. */
const relation: PgoutputMessage = {
  type: 'Relation', relationOid: 16_384, namespace: 'public', relationName: 'items', replicaIdentity: 'd',
  columns: [{ flags: 1, isKey: true, name: 'id', typeOid: 25, typeModifier: -1 }],
}

/** 2026-01-01 UTC in PostgreSQL's wire time (microseconds since 2000-01-01). */
const someTime = 820_454_400_000_000n

export class FakeWalsender {
  /** The slot's confirmed_flush_lsn. */
  confirmed: Lsn
  readonly wal: Transaction[] = []
  readonly connections: WalsenderConnection[] = []
  readonly statusUpdates: StatusUpdate[] = []
  readonly starts: Start[] = []
  /** Broken promises, recorded as they happen (a throw would land in the stream's code instead). */
  readonly violations: string[] = []
  /** The most a client may report flushed at this moment: set by the test before each acknowledgement. */
  bound: Lsn
  /** Where the next record goes. */
  #insert: Lsn = 0x1_0000_1000n
  #highestFlush: Lsn = 0n

  constructor() {
    this.confirmed = this.#insert
    this.bound = this.#insert
  }

  /** The WAL's end, as an XLogData header reports it. */
  get walEnd(): Lsn {
    return this.#insert
  }

  /** The newest connection, unless it has ended. */
  get current(): WalsenderConnection | undefined {
    const last = this.connections.at(-1)
    return last && !last.closed ? last : undefined
  }

  /**
   * A path that lets each walsender connection start streaming, then carries nothing: while set,
   * what any connection sends on its copy (XLogData, keepalives, its CopyDone) is lost on the
   * way, and the client never reads it. What the client sends still arrives; connecting, the
   * slot's look and the CopyBothResponse that starts the copy still get through.
   */
  silent = false

  /** Ordinary connections opened for a reconnect's look at the slot (resume-check.ts). */
  readonly looks: SlotLookConnection[] = []
  /** While set, a look's query is answered only once this settles. */
  holdLooks: Promise<void> | undefined

  /** ReplicationStream's connect(): a new connection, at once; an ordinary one only looks at the slot. */
  readonly connect = async (options: ConnectOptions): Promise<Connection> => {
    if (options.signal?.aborted) throw new ConnectionLostError('the connection attempt was aborted', { cause: options.signal.reason })
    if (options.replication !== 'database') {
      const look = new SlotLookConnection(this)
      this.looks.push(look)
      return look as unknown as Connection
    }
    const connection = new WalsenderConnection(this, this.connections.length + 1)
    this.connections.push(connection)
    // Only the members the stream uses exist: a new use would fail loudly here, not pass unseen.
    return connection as unknown as Connection
  }

  /**
   * Commits a transaction of `rows` inserts; a connection streaming sends it at once, or, with
   * `slowly`, its Begin and the first half of its rows now and the rest before anything else
   * (see WalsenderConnection.stream).
   */
  commit(rows: number, { slowly = false } = {}): Transaction {
    const index = this.wal.length
    const beginLsn = this.#insert
    const step = 0x28n
    const list = Array.from({ length: rows }, (_, i) => ({ id: `t${index}.r${i}`, lsn: beginLsn + step * BigInt(i + 1) }))
    const commitLsn = beginLsn + step * BigInt(rows + 1)
    const transaction: Transaction = { index, xid: 700 + index, beginLsn, rows: list, commitLsn, endLsn: commitLsn + 0x20n }
    this.wal.push(transaction)
    this.#insert = transaction.endLsn
    this.current?.stream(transaction, slowly)
    return transaction
  }

  /**
   * WAL that no publication covers (another table's changes, a VACUUM): a connection streaming
   * decodes it, has nothing to send, and says where it is now with a keepalive.
   */
  unpublished(): Lsn {
    this.#insert += 0x100n
    this.current?.finish()
    this.current?.caughtUp(this.#insert)
    return this.#insert
  }

  /** The slot has the first `count` transactions confirmed (as a previous client would have left it). */
  confirmThrough(count: number): Lsn {
    this.confirmed = count === 0 ? this.confirmed : this.wal[count - 1]!.endLsn
    this.bound = this.confirmed
    return this.confirmed
  }

  /** The connection is lost, as when the walsender is terminated. */
  drop(): void {
    this.current?.abort(new ConnectionLostError('the model walsender dropped the connection'))
  }

  /** The first transaction a start from `lsn` sends: commits before it are skipped. */
  firstFrom(lsn: Lsn): number {
    const found = this.wal.findIndex((t) => t.commitLsn >= lsn)
    return found === -1 ? this.wal.length : found
  }

  started(connection: WalsenderConnection, requested: Lsn): Lsn {
    if (requested < this.confirmed) this.violations.push(`START_REPLICATION at ${requested}, before the slot's confirmed ${this.confirmed}`)
    const from = requested > this.confirmed ? requested : this.confirmed
    this.starts.push({ connection: connection.number, requested, firstTransaction: this.firstFrom(from) })
    return from
  }

  statusUpdate(update: StatusUpdate): void {
    this.statusUpdates.push(update)
    if (update.flushed < this.#highestFlush) this.violations.push(`flush reported as ${update.flushed}, after ${this.#highestFlush}`)
    if (update.flushed > this.bound) this.violations.push(`flush reported as ${update.flushed}, past the last acknowledged commit's end ${this.bound}`)
    if (update.flushed > this.#highestFlush) this.#highestFlush = update.flushed
    // Taken as reported, as before PostgreSQL 17 (which refuses to move it back): a client that
    // went back would be sent again what it had confirmed, and the test would see it.
    this.confirmed = update.flushed
  }
}

/** What the walsender has sent and the client not yet read: CopyData, or the end of the copy. */
type Outgoing = { bytes: Uint8Array; change: boolean; replyRequested?: boolean } | 'copy done'

/**
 * An ordinary connection, for the one query a reconnect makes on it once START_REPLICATION holds
 * the slot: the slot's active_pid (the walsender streaming, if any) and confirmed_flush_lsn.
 */
export class SlotLookConnection implements Pick<Connection, 'parameters' | 'query' | 'abort' | 'close'> {
  readonly parameters: ReadonlyMap<string, string> = new Map([['server_version', '17.4']])
  closed = false
  #query: { reject(error: Error): void } | undefined

  constructor(readonly server: FakeWalsender) {}

  query(sql: string): Promise<QueryResult[]> {
    if (this.closed) return Promise.reject(new ConnectionLostError('the connection is closed'))
    return new Promise((resolve, reject) => {
      this.#query = { reject }
      const answer = () => {
        if (this.closed) return
        this.#query = undefined
        if (!sql.startsWith('SELECT active_pid, confirmed_flush_lsn FROM pg_catalog.pg_replication_slots')) return reject(new TypeError(`the model server takes no ${JSON.stringify(sql.slice(0, 40))} on an ordinary connection`))
        const holder = this.server.connections.find((c) => c.copying && !c.closed)
        resolve([{ command: 'SELECT 1', fields: [], rows: [[holder ? String(holder.processId) : null, lsnText(this.server.confirmed)]] }])
      }
      void (this.server.holdLooks ?? Promise.resolve()).then(() => setImmediate(answer))
    })
  }

  abort(reason: Error): void {
    this.closed = true
    this.#query?.reject(reason)
    this.#query = undefined
  }

  async close(): Promise<void> {
    this.abort(new ConnectionLostError('the connection was closed'))
  }
}

export class WalsenderConnection implements WalsenderSide {
  readonly parameters: ReadonlyMap<string, string> = new Map([['server_version', '17.4']])
  /** The walsender's process ID, as BackendKeyData gives it. */
  readonly processId: number
  /** CopyData carrying a change (Begin, Insert, Commit) that the client has read. */
  changesRead = 0
  /** The flush position last reported before the client's CopyDone; undefined: none, or no CopyDone. */
  flushedAtCopyDone: Lsn | undefined
  closed = false
  /** A keepalive that asked for a reply has been read, and no status update has come since. */
  replyOwed = false
  #paused = false
  #copying = false
  #outbox: Outgoing[] = []
  #scheduled = false
  #pumping = false
  #relationSent = false
  /** The rest of a transaction being sent slowly. */
  #rest: Outgoing[] = []
  /** The end of the last transaction sent: a keepalive's position (the walsender's sentPtr). */
  #sentPtr: Lsn = 0n
  #lastFlush: Lsn | undefined
  #copy: { onData(data: Uint8Array): void; resolve(outcome: CopyBothOutcome): void; reject(error: Error): void } | undefined
  #query: { reject(error: Error): void } | undefined

  constructor(
    readonly server: FakeWalsender,
    readonly number: number,
  ) {
    this.processId = 40_000 + number
  }

  get copying(): boolean {
    return this.#copying
  }

  /** The client has paused reading. */
  get paused(): boolean {
    return this.#paused
  }

  /** Nothing sent is waiting to be read, or the client has paused reading. */
  get quiet(): boolean {
    return !this.#scheduled && (this.#paused || this.#outbox.length === 0)
  }

  /** slot-check.ts's one SELECT: the value-format settings, wal_sender_timeout (off), no missing publication, the slot. */
  query(sql: string): Promise<QueryResult[]> {
    if (this.closed) return Promise.reject(new ConnectionLostError('the connection is closed'))
    return new Promise((resolve, reject) => {
      this.#query = { reject }
      setImmediate(() => {
        if (this.closed) return
        this.#query = undefined
        if (!sql.startsWith('SELECT pg_catalog.set_config(')) return reject(new TypeError(`the model walsender takes no ${JSON.stringify(sql.slice(0, 40))}`))
        const settings = sql.split('pg_catalog.set_config(').length - 1
        const row = [...Array.from({ length: settings }, () => 'set'), '0', null, 'logical', 'pgoutput', lsnText(this.server.confirmed)]
        resolve([{ command: 'SELECT 1', fields: [], rows: [row] }])
      })
    })
  }

  copyBoth(command: string, onData: (data: Uint8Array) => void, onStarted?: () => void): Promise<CopyBothOutcome> {
    if (this.closed) return Promise.reject(new ConnectionLostError('the connection is closed'))
    const match = /^START_REPLICATION SLOT "?\w+"? LOGICAL ([0-9A-F]{1,8})\/([0-9A-F]{1,8}) /.exec(command)
    if (match === null) return Promise.reject(new TypeError(`the model walsender takes no ${JSON.stringify(command.slice(0, 40))}`))
    const requested = (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`)
    return new Promise((resolve, reject) => {
      this.#copy = { onData, resolve, reject }
      setImmediate(() => {
        if (this.closed) return
        this.#copying = true // CopyBothResponse
        onStarted?.()
        if (!this.#copying || this.closed) return
        const from = this.server.started(this, requested)
        this.#sentPtr = from
        this.#outbox.push(this.#keepalive(false))
        for (const t of this.server.wal) if (t.commitLsn >= from) this.stream(t)
        this.#schedule()
      })
    })
  }

  /**
   * Sends a committed transaction: Begin, the Relation once per connection, the Inserts, Commit,
   * then a keepalive. `slowly`: only the Begin and the first half of the rows for now, then a
   * keepalive at the end of the commit record, as a walsender replaying a large transaction
   * sends when the client's wal_sender_timeout is half gone (WalSndKeepaliveIfNecessary, with
   * sentPtr at the end of the commit being replayed); the rest comes before anything else is sent.
   */
  stream(t: Transaction, slowly = false): void {
    this.finish()
    if (!this.#copying) return
    const time = someTime + BigInt(t.index)
    const messages = [this.#xLogData(t.beginLsn, { type: 'Begin', finalLsn: t.commitLsn, commitTime: time, xid: t.xid }, true)]
    for (const row of t.rows) {
      if (!this.#relationSent) messages.push(this.#xLogData(row.lsn, relation, false))
      this.#relationSent = true
      messages.push(this.#xLogData(row.lsn, { type: 'Insert', relationOid: 16_384, newTuple: [row.id] }, true))
    }
    messages.push(this.#xLogData(t.commitLsn, { type: 'Commit', commitLsn: t.commitLsn, endLsn: t.endLsn, commitTime: time }, true))
    this.#sentPtr = t.endLsn
    // Caught up with the WAL and not yet confirmed up to it, a walsender says where it is
    // (walsender.c, WalSndWaitForWal): the client must not take that as its own flush position.
    messages.push(this.#keepalive(false))
    if (slowly) {
      let changes = 0
      const cut = messages.findIndex((m) => m !== 'copy done' && m.change && ++changes > sentSlowly(t.rows.length))
      this.#rest = messages.splice(cut)
      messages.push(this.#keepalive(false))
    }
    this.#outbox.push(...messages)
    this.#schedule()
  }

  /** The rest of a transaction sent slowly, if any. */
  finish(): void {
    if (this.#rest.length === 0 || !this.#copying) return
    this.#outbox.push(...this.#rest)
    this.#rest = []
    this.#schedule()
  }

  /** The client's standby status update, decoded here by hand. */
  sendCopy(copyData: Uint8Array): boolean {
    if (!this.#copying || this.closed) return false
    let update: StatusUpdate
    try {
      update = readStatusUpdate(copyData, this.number)
    } catch (error) {
      this.server.violations.push(String(error))
      return true
    }
    this.#lastFlush = update.flushed
    this.replyOwed = false
    this.server.statusUpdate(update)
    if (update.replyRequested) {
      this.#outbox.push(this.#keepalive(false))
      this.#schedule()
    }
    return true
  }

  /** The client's CopyDone: the walsender answers with its own, CommandComplete and ReadyForQuery. */
  endCopy(): void {
    if (!this.#copying || this.closed) return
    this.#copying = false
    this.flushedAtCopyDone = this.#lastFlush
    this.#rest = []
    this.#outbox.push('copy done')
    this.#schedule()
  }

  /** Decoded up to `lsn` and found nothing to send. */
  caughtUp(lsn: Lsn): void {
    if (!this.#copying) return
    this.#sentPtr = lsn
    this.#outbox.push(this.#keepalive(false))
    this.#schedule()
  }

  /** A keepalive that asks for a reply, which the client must send as it reads it. */
  ping(): void {
    this.#outbox.push(this.#keepalive(true))
    this.#schedule()
  }

  pause(): void {
    this.#paused = true
  }

  /** Hands on what was held, in order, before it returns, as Connection.resume() does. */
  resume(): void {
    this.#paused = false
    this.#pump()
  }

  abort(reason: Error): void {
    this.#end(reason)
  }

  async close(): Promise<void> {
    this.#end(new ConnectionLostError('the connection was closed'))
  }

  #end(reason: Error): void {
    if (this.closed) return
    this.closed = true
    this.#copying = false
    this.#outbox = []
    this.#rest = []
    this.#query?.reject(reason)
    this.#copy?.reject(reason)
    this.#query = this.#copy = undefined
  }

  /**
   * XLogData (B), in CopyData
   *   Byte1('w') Int64 walStart Int64 walEnd Int64 sendTime Byte[n] data
   */
  #xLogData(walStart: Lsn, message: PgoutputMessage, change: boolean): Outgoing {
    const bytes = Uint8Array.from([
      ...char('w'),              // XLogData
      ...int64(walStart),        // where this record starts
      ...int64(this.server.walEnd), // the server's end of WAL
      ...int64(someTime),        // send time
      ...pgoutputBytes(message), // one pgoutput message
    ])
    return { bytes, change }
  }

  /**
   * Primary keepalive message (B), in CopyData
   *   Byte1('k') Int64 walEnd Int64 sendTime Byte1 replyRequested
   * At the end of what was sent: everything before it is either sent or skipped.
   */
  #keepalive(replyRequested: boolean): Outgoing {
    const bytes = Uint8Array.from([
      ...char('k'),                  // primary keepalive
      ...int64(this.#sentPtr),       // walEnd: the end of what was sent
      ...int64(someTime),            // send time
      ...int8(replyRequested ? 1 : 0), // reply requested
    ])
    return { bytes, change: false, replyRequested }
  }

  /** What was sent reaches the client a turn of the event loop later, as from a socket. */
  #schedule(): void {
    if (this.#scheduled || this.closed) return
    this.#scheduled = true
    setImmediate(() => {
      this.#scheduled = false
      this.#pump()
    })
  }

  /** One message at a time, so that a pause() from a handler holds back the very next one. */
  #pump(): void {
    if (this.#pumping) return
    this.#pumping = true
    try {
      while (!this.#paused && !this.closed && this.#outbox.length > 0) {
        const next = this.#outbox.shift()!
        if (this.server.silent) continue // lost on a path that carries nothing
        if (next === 'copy done') {
          const copy = this.#copy!
          this.#copy = undefined
          copy.resolve({ commands: ['START_REPLICATION'] })
          continue
        }
        if (next.change) this.changesRead++
        if (next.replyRequested) this.replyOwed = true
        try {
          this.#copy!.onData(next.bytes)
        } catch (error) {
          // Connection.copyBoth: a throw from onData ends the connection with that error.
          this.abort(error instanceof Error ? error : new Error(String(error)))
        }
      }
    } finally {
      this.#pumping = false
    }
  }
}

/** Of a transaction of `rows` rows sent slowly, the changes sent at first: Begin and half the rows. */
export function sentSlowly(rows: number): number {
  return 1 + Math.floor(rows / 2)
}

/**
 * Standby status update (F): CopyData ('d', Int32 length) around
 *   Byte1('r') Int64 written Int64 flushed Int64 applied Int64 clientTime Byte1 replyRequested
 */
export function readStatusUpdate(data: Uint8Array, connection: number): StatusUpdate {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  if (data.length !== 39 || data[0] !== 0x64 || view.getInt32(1) !== 38 || data[5] !== 0x72) {
    throw new Error(`not a standby status update in one CopyData: ${[...data].join(',')}`)
  }
  const reply = data[38]!
  if (reply > 1) throw new Error(`replyRequested is ${reply}`)
  return { connection, written: view.getBigUint64(6), flushed: view.getBigUint64(14), applied: view.getBigUint64(22), replyRequested: reply === 1 }
}

/** pg_lsn's text: "X/Y", the high and low 32 bits in hex. */
export function lsnText(lsn: Lsn): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffff_ffffn).toString(16).toUpperCase()}`
}
