/**
 * Publications and slots, made, dropped and watched over an ordinary connection, every name
 * quoted as PostgreSQL defines (protocol/quote.ts). A slot keeps every byte of WAL its
 * consumer has not confirmed, so slotHealth() says how much that is; nothing here decides
 * what to do about it. Imports the protocol's Connection type, quoting and LSNs only.
 */
import type { Connection } from '../protocol/io/connection.ts'
import { quoteIdentifier, quoteLiteral } from '../protocol/quote.ts'
import { checkSlotName } from '../protocol/replication/commands.ts'
import { parseLsn, type Lsn } from '../protocol/replication/lsn.ts'

/** A table: its name as stored (case kept), in `schema` or else found through search_path. */
export type TableName = string | { readonly schema: string; readonly table: string }

function tableSql(name: TableName): string {
  if (typeof name === 'string') {
    if (name === '') throw new RangeError('a table name must not be empty')
    return quoteIdentifier(name)
  }
  if (name.schema === '' || name.table === '') throw new RangeError('a schema and a table name must not be empty')
  return `${quoteIdentifier(name.schema)}.${quoteIdentifier(name.table)}`
}

/**
 * pg_catalog's =, written so: an operator is looked up on the search_path as a function is, and
 * one of the same argument types (name = name here) in a schema listed before pg_catalog is the
 * one used ("Operator Type Resolution"; extend.sgml's advice for extension scripts).
 */
export const eq = 'OPERATOR(pg_catalog.=)'

function literal(sql: Connection, text: string): string {
  return quoteLiteral(text, sql.parameters.get('standard_conforming_strings') !== 'off')
}

/** CREATE PUBLICATION name FOR TABLE ... (or FOR ALL TABLES, which needs a superuser). */
export async function createPublication(sql: Connection, name: string, tables: readonly TableName[] | 'all tables'): Promise<void> {
  if (name === '') throw new RangeError('a publication name must not be empty')
  if (tables !== 'all tables' && tables.length === 0) throw new RangeError("a publication needs at least one table, or 'all tables'")
  const what = tables === 'all tables' ? 'ALL TABLES' : `TABLE ${tables.map(tableSql).join(', ')}`
  await sql.query(`CREATE PUBLICATION ${quoteIdentifier(name)} FOR ${what}`)
}

/** DROP PUBLICATION [IF EXISTS] name. */
export async function dropPublication(sql: Connection, name: string, options: { ifExists?: boolean } = {}): Promise<void> {
  await sql.query(`DROP PUBLICATION ${options.ifExists ? 'IF EXISTS ' : ''}${quoteIdentifier(name)}`)
}

/**
 * A permanent pgoutput slot, made with pg_create_logical_replication_slot; returns the LSN from
 * which it has every change. Two-phase needs PostgreSQL 14 or later.
 */
export async function createSlot(sql: Connection, slot: string, options: { twoPhase?: boolean } = {}): Promise<Lsn> {
  checkSlotName(slot)
  const twoPhase = options.twoPhase ? ', false, true' : ''
  const [result] = await sql.query(`SELECT lsn FROM pg_catalog.pg_create_logical_replication_slot(${literal(sql, slot)}, 'pgoutput'${twoPhase})`)
  return parseLsn(result!.rows[0]![0]!)
}

/** Drops a slot, and with it the WAL it held; ifExists makes a missing slot no error. */
export async function dropSlot(sql: Connection, slot: string, options: { ifExists?: boolean } = {}): Promise<void> {
  checkSlotName(slot)
  const call = `pg_catalog.pg_drop_replication_slot(${literal(sql, slot)})`
  await sql.query(options.ifExists ? `SELECT ${call} FROM pg_catalog.pg_replication_slots WHERE slot_name ${eq} ${literal(sql, slot)}` : `SELECT ${call}`)
}

/** What a slot costs the server, from pg_replication_slots. */
export interface SlotHealth {
  readonly slot: string
  /** A connection is streaming from it now. */
  readonly active: boolean
  readonly activePid: number | null
  /** Up to here the consumer confirmed everything (acknowledged, in pglisten's terms). */
  readonly confirmedFlushLsn: Lsn | null
  /** The oldest WAL the slot needs, for transactions still open at its confirmed position. */
  readonly restartLsn: Lsn | null
  /** Bytes of WAL written since the confirmed position: how far behind the consumer is. */
  readonly lagBytes: number | null
  /** Bytes of WAL kept on disk for this slot. */
  readonly retainedBytes: number | null
  /** 'reserved', 'extended', 'unreserved' or 'lost' (the slot can no longer be used). */
  readonly walStatus: string | null
}

/** One slot's health, or undefined if there is no such slot. */
export async function slotHealth(sql: Connection, slot: string): Promise<SlotHealth | undefined> {
  checkSlotName(slot)
  const [result] = await sql.query(
    'SELECT active, active_pid, confirmed_flush_lsn, restart_lsn, ' +
      'pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), confirmed_flush_lsn)::bigint, pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), restart_lsn)::bigint, wal_status ' +
      `FROM pg_catalog.pg_replication_slots WHERE slot_name ${eq} ${literal(sql, slot)}`,
  )
  const row = result!.rows[0]
  if (row === undefined) return undefined
  const [active, pid, confirmed, restart, lag, retained, walStatus] = row
  const number = (text: string | null | undefined) => (text == null ? null : Number(text))
  return {
    slot,
    active: active === 't',
    activePid: number(pid),
    confirmedFlushLsn: confirmed == null ? null : parseLsn(confirmed),
    restartLsn: restart == null ? null : parseLsn(restart),
    lagBytes: number(lag),
    retainedBytes: number(retained),
    walStatus: walStatus ?? null,
  }
}

/**
 * Emits a message into the WAL with pg_logical_emit_message, for a stream with `messages`:
 * the durable NOTIFY. Transactional (the default), it is delivered with its transaction at
 * commit, and not at all if that rolls back; it has no 8000-byte limit and survives any
 * disconnect of the stream. Returns the message's LSN.
 */
export async function emitMessage(sql: Connection, prefix: string, content: string, options: { transactional?: boolean } = {}): Promise<Lsn> {
  if (prefix === '') throw new RangeError('a message prefix must not be empty')
  const transactional = (options.transactional ?? true) ? 'true' : 'false' // a literal, whatever the caller passed
  const [result] = await sql.query(`SELECT pg_catalog.pg_logical_emit_message(${transactional}, ${literal(sql, prefix)}, ${literal(sql, content)})`)
  return parseLsn(result!.rows[0]![0]!)
}
