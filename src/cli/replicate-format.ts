/**
 * What `pglisten replicate` prints: one JSON object per change on stdout (JSON Lines), and the
 * words of its status lines. Pure: imports the replication stream's change types, its
 * unchanged-TOAST marker, its value parser (for the command's reading of dates) and LSN text,
 * and the command's escaping of what a terminal would act on.
 *
 *   {"lsn":"0/1764378","xid":740,"commit_time":"2026-12-05T10:00:00.000Z","commit_lsn":"0/1764450","relation":"public.orders","op":"insert","key":{"id":1},"row":{"id":1,"total":"9.50"}}
 *   {"lsn":...,"xid":...,"commit_time":...,"commit_lsn":...,"relation":...,"op":"update","key":{...},"row":{...},"old":{...}}   (old: with REPLICA IDENTITY FULL)
 *   {"lsn":...,"xid":...,"commit_time":...,"commit_lsn":...,"relation":...,"op":"delete","key":{...},"old":{...}}
 *   {"lsn":...,"xid":...,"commit_time":...,"commit_lsn":...,"op":"truncate","relations":["public.a","public.b"],"cascade":false,"restart_identity":false}
 *   {"lsn":...,"xid":...,"commit_time":...,"commit_lsn":...,"op":"message","transactional":true,"prefix":"jobs","content":"..."}   (with --messages)
 */
import type { Lsn } from '../protocol/replication/lsn.ts'
import { formatLsn } from '../protocol/replication/lsn.ts'
import { unchangedToast, type RelationInfo, type ReplicationChange, type Row } from '../replication/changes.ts'
import { createValueParser } from '../replication/values.ts'
import { quoteIdentifier } from '../protocol/quote.ts'
import { terminalSafe } from './terminal.ts'

/**
 * A change as one line, or undefined for what is not printed: Begin and Commit (every change
 * carries its transaction's xid, commit LSN and time), and the two-phase items, which come
 * only to a stream that asks for two-phase decoding, as this command never does. Keys are in
 * a fixed order, so that lines diff and grep predictably. `seq` is the change's place in its
 * transaction (1 for the first after Begin), the same each time the transaction is sent:
 * `commit_lsn` with `seq` is what to deduplicate by, should a transaction come twice (after a
 * crash, or a lost connection). `lsn` alone is not enough: every row of one multi-insert
 * record (COPY, INSERT ... SELECT) carries the same.
 */
export function changeLine(change: ReplicationChange, seq: number): string | undefined {
  switch (change.kind) {
    case 'insert':
      return line({ ...place(change, seq), relation: relationName(change.relation), op: 'insert', key: row(change.key), row: row(change.row) })
    case 'update':
      return line({ ...place(change, seq), relation: relationName(change.relation), op: 'update', key: row(change.key), row: row(change.row), ...(change.old === null ? {} : { old: row(change.old) }) })
    case 'delete':
      return line({ ...place(change, seq), relation: relationName(change.relation), op: 'delete', key: row(change.key), ...(change.old === null ? {} : { old: row(change.old) }) })
    case 'truncate':
      return line({ ...place(change, seq), op: 'truncate', relations: change.relations.map(relationName), cascade: change.cascade, restart_identity: change.restartIdentity })
    case 'message': {
      // A message outside any transaction has none to name: it is in the WAL as it was emitted.
      const transaction = change.xid === undefined ? { lsn: formatLsn(change.lsn) } : place({ lsn: change.lsn, xid: change.xid, commitTime: change.commitTime!, commitLsn: change.commitLsn! }, seq)
      return line({ ...transaction, op: 'message', transactional: change.transactional, prefix: change.prefix, ...content(change.content) })
    }
    case 'begin':
    case 'commit':
    case 'prepare':
    case 'commit-prepared':
    case 'rollback-prepared':
      return undefined
  }
}

function line(record: object): string {
  return `${terminalSafe(JSON.stringify(record))}\n`
}

/** Where a change is: its own LSN, its transaction's id, commit time and commit LSN, and its place in it. */
function place(change: { lsn: Lsn; xid: number; commitTime: Date; commitLsn: Lsn }, seq: number) {
  return { lsn: formatLsn(change.lsn), xid: change.xid, commit_time: isoTime(change.commitTime), commit_lsn: formatLsn(change.commitLsn), seq }
}

/**
 * schema.table as SQL names it: each name as it is when it needs no quotes (lower case,
 * letters, digits, _ and $), else double-quoted, so that "a.b".c and a."b.c" stay apart.
 */
export function relationName(relation: Pick<RelationInfo, 'schema' | 'table'>): string {
  return `${sqlName(relation.schema)}.${sqlName(relation.table)}`
}

function sqlName(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : quoteIdentifier(name)
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * A message's content as text when it is UTF-8 (a BOM kept, as content), else as base64
 * under another key: pg_logical_emit_message takes bytea too, and nothing is replaced by
 * U+FFFD on the way.
 */
function content(bytes: Uint8Array): { content: string } | { content_base64: string } {
  try {
    return { content: utf8.decode(bytes) }
  } catch {
    return { content_base64: base64(bytes) }
  }
}

function base64(bytes: Uint8Array): string {
  let binary = ''
  // In slices: String.fromCharCode takes its arguments on the stack.
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(binary)
}

function row(values: Row): Record<string, unknown> {
  return jsonValue(values, []) as Record<string, unknown>
}

const hexDigits = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'))

/**
 * A column's value as JSON can hold it, never throwing: what JSON.stringify would lose or
 * refuse is written as the text PostgreSQL itself would take back.
 *   Date          ISO 8601 in UTC, to the millisecond (a Date past JS's range, year 275760,
 *                 is 'Invalid Date': the text it came from is gone by now)
 *   ±Infinity, NaN  "Infinity", "-Infinity", "NaN" (float8 and timestamp input take these)
 *   Uint8Array    bytea's hex output, "\x0a0b"
 *   bigint        its digits, as text
 *   unchangedToast  {"unchanged_toast":true}: the update left that TOASTed value alone, and
 *                 pgoutput does not send it again
 * Arrays and objects (json, jsonb, point) recursively. Objects are made without a prototype,
 * so that a column or JSON key named "__proto__" stays a key.
 */
export function jsonValue(value: unknown, within: readonly object[] = []): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value
    case 'number':
      return Number.isFinite(value) ? value : String(value)
    case 'bigint':
      return value.toString()
    case 'undefined':
      return null
    case 'symbol':
      return value === unchangedToast ? { unchanged_toast: true } : String(value)
    case 'function':
      return String(value)
  }
  if (value === null) return null
  const object = value as object
  if (object instanceof Date) return isoTime(object)
  if (object instanceof Uint8Array) {
    let hex = '\\x'
    for (const byte of object) hex += hexDigits[byte]
    return hex
  }
  // Only an override of the value parsers could make a cycle; JSON.stringify would throw on it.
  if (within.includes(object)) return '[Circular]'
  const inside = [...within, object]
  if (Array.isArray(object)) return object.map((item) => jsonValue(item, inside))
  const out: Record<string, unknown> = Object.create(null)
  for (const [key, item] of Object.entries(object)) out[key] = jsonValue(item, inside)
  return out
}

function isoTime(date: Date): string {
  return Number.isNaN(date.getTime()) ? String(date) : date.toISOString()
}

/** Type OIDs (pg_type.oid, fixed for built-in types): the values that name no instant, and text[], whose reading of array literals their arrays borrow. */
const dateOid = 1082
const timestampOid = 1114
const timestamptzOid = 1184
const dateArrayOid = 1182
const timestampArrayOid = 1115
const timestamptzArrayOid = 1185
const textArrayOid = 1009
const defaults = createValueParser()

/**
 * The command's one change to how values are read (the stream's `parse` option): date and
 * timestamp (without time zone) stay PostgreSQL's text, '2026-12-05' and
 * '2026-12-05 10:00:00'. node-postgres reads them as local time, so their JSON, in UTC, would
 * depend on the TZ of the machine printing them, and a date would print as the day before
 * east of Greenwich. timestamptz stays text too, in UTC (the stream's session sets TimeZone),
 * since a Date would drop its microseconds. Their arrays are read as text[] is (the same
 * literal grammar), so they stay arrays, of text.
 */
export function cliValue(text: string, typeOid: number): unknown {
  if (typeOid === dateOid || typeOid === timestampOid || typeOid === timestamptzOid) return text
  if (typeOid === dateArrayOid || typeOid === timestampArrayOid || typeOid === timestamptzArrayOid) return defaults(text, textArrayOid)
  return undefined // the default
}

/** Publication names as the user can type them again: JSON-quoted. */
export function publicationList(publications: readonly string[]): string {
  return `${publications.length === 1 ? 'publication' : 'publications'} ${publications.map((name) => JSON.stringify(name)).join(', ')}`
}
