/**
 * What replicate() accepts, checked once and with every default decided, so that the stream
 * itself reads no option twice and meets no bad one late. Pure: imports option checks, LSNs,
 * the value parser and the listener's rule for bounding one connection attempt.
 */
import type { ConnectOptions } from '../protocol/io/connect.ts'
import type { Connection } from '../protocol/io/connection.ts'
import { checkSignal } from '../protocol/abort-signal.ts'
import { checkSlotName } from '../protocol/replication/commands.ts'
import { parseLsn, type Lsn } from '../protocol/replication/lsn.ts'
import type { BackoffOptions } from '../listener/backoff.ts'
import { attemptTimeout, quietContext } from '../listener/connect-options.ts'
import { resolveSettings } from '../protocol/options/resolve-settings.ts'
import { createValueParser, type ValueParser } from './values.ts'
import type { WatchOptions } from './watch.ts'
import { checkTimerDelay } from '../protocol/timer.ts'

export interface ReplicationOptions {
  /** How to reach the server: a connection string or options, as for connect(). */
  connection?: ConnectOptions | string
  /** The slot to stream from: 1 to 63 lower-case letters, digits and underscores. */
  slot: string
  /** The publications whose changes to stream (CREATE PUBLICATION); at least one. */
  publications: readonly string[]
  /**
   * Create the slot if it does not exist when the stream starts. Default false: a missing slot
   * is an error. A slot that disappears later (dropped while the stream was away) is never
   * made again: a new slot starts from now, and the changes in between would be lost silently.
   */
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
  /**
   * Milliseconds of silence from the server, though asked for a reply, before it is taken for
   * gone and the stream reconnects (the client's wal_receiver_timeout). Default the server's
   * wal_sender_timeout plus the status interval (a walsender busy replaying a large transaction
   * answers only that often), or 60,000 when the server's timeout is off.
   */
  receiveTimeout?: number
  /** Items read ahead of the application before reading from the socket pauses. Default 1,000. */
  highWater?: number
  /**
   * Reconnect delays after a lost connection, and how long one attempt (connect, check the
   * slot, START_REPLICATION) may take: attemptTimeout, default 10 s.
   */
  reconnect?: BackoffOptions
  /** Stops the stream, as close() does. */
  signal?: AbortSignal
  /**
   * Told before each reconnect's wait; default none. `attempt` counts from 1 since the backoff
   * last started over (a connection that streamed at least as long as the wait before it), as
   * the listener's 'reconnecting' event does, so it goes on after a connection lost too soon.
   */
  onReconnect?(info: { attempt: number; error: Error; resumeFrom: Lsn }): void
  /**
   * Watch the slot from a second, ordinary connection while the stream runs: a heartbeat
   * message so a quiet database still moves its slot, and onLag when the slot falls lagBytes
   * behind (see watch.ts). Default off.
   */
  watch?: WatchOptions
}

/** The options with defaults decided, and the way to reach the network given. */
export interface Settings {
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
  receiveTimeout: number | undefined
  highWater: number
  /** One attempt's bound, ms. */
  attemptTimeout: number
  watch: WatchOptions | undefined
}

export function settle(o: ReplicationOptions, connect: Settings['connect']): Settings {
  if (o === null || typeof o !== 'object') throw new TypeError('replicate() takes an options object with slot and publications')
  checkSlotName(o.slot)
  checkSignal(o.signal)
  if (!Array.isArray(o.publications) || o.publications.length === 0) throw new TypeError('publications: give at least one publication name')
  for (const name of o.publications) if (typeof name !== 'string' || name === '') throw new TypeError('publications: each name must be a non-empty string')
  const start = o.start === undefined ? 0n : typeof o.start === 'bigint' ? o.start : parseLsn(o.start)
  if (start < 0n || start >= 2n ** 64n) throw new RangeError(`start must be an LSN, from 0 to 2^64 - 1, not ${start}`)
  const statusInterval = o.statusInterval ?? 10_000
  if (!(statusInterval > 0) || !Number.isFinite(statusInterval)) throw new RangeError(`statusInterval must be a positive number of milliseconds, not ${statusInterval}`)
  checkTimerDelay('statusInterval', statusInterval)
  if (o.receiveTimeout !== undefined && !(o.receiveTimeout > 0 && Number.isFinite(o.receiveTimeout))) throw new RangeError(`receiveTimeout must be a positive number of milliseconds, not ${o.receiveTimeout}`)
  const highWater = o.highWater ?? 1000
  if (!Number.isSafeInteger(highWater) || highWater < 1) throw new RangeError(`highWater must be a positive integer, not ${highWater}`)
  if (o.protocolVersion !== undefined && ![1, 2, 3, 4].includes(o.protocolVersion)) throw new RangeError(`protocolVersion must be 1, 2, 3 or 4, not ${o.protocolVersion}`)
  // A version given that cannot carry what is asked for: refused now, not after connecting
  // (twoPhase) or never (streaming was silently off).
  if (o.streaming && o.protocolVersion === 1) throw new RangeError('streaming needs protocolVersion 2 or later')
  if (o.twoPhase && o.protocolVersion !== undefined && o.protocolVersion < 3) throw new RangeError('twoPhase needs protocolVersion 3 or later')
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
    receiveTimeout: o.receiveTimeout,
    highWater,
    // The listener's rule: 10 s, or connect_timeout for every host if that is longer.
    attemptTimeout: attemptTimeout(o.reconnect ? { reconnect: o.reconnect } : {}, resolveSettings(connection, quietContext(connection))),
    watch: o.watch,
  }
}
