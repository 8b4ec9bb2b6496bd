/**
 * RowChange: what the JSON row-change trigger (row-trigger.ts) sends, as a type, and the
 * decoder from a notification to it, checking every field it reads. Pure; imports the JSON
 * shape checks and the feed error type.
 */
import type { NotificationLike, PayloadError } from './errors.ts'
import { decodeShaped, describe, field, isJsonObject, Shape, type JsonObject, type JsonValue } from './json.ts'
import type { ChangeOperation } from './tcn-payload.ts'

/**
 * Primary key column to its value, in the primary key's order, typed as in `row` (row_to_json's
 * JSON: a number for an integer key, a string for text or uuid), so `key.id === row.id`. A
 * number a double cannot hold exactly (a bigint beyond 2^53, a long numeric) is its exact text,
 * in both: two keys never collapse into one.
 */
export type RowKey = Readonly<Record<string, Exclude<JsonValue, null>>>

interface RowChangeBase {
  /** Every feed item has a `type`, so one check tells events, PayloadError and Gap apart. */
  readonly type: 'RowChange'
  readonly kind: 'row'
  readonly channel: string
  /** The backend that made the change (compare with your own Connection's processId). */
  readonly processId: number
  /**
   * The table's schema and name when the change was made (TG_TABLE_SCHEMA, TG_TABLE_NAME): for
   * a partitioned table, the partition's.
   */
  readonly schema: string
  readonly table: string
  /**
   * The table the trigger was installed on, present only when it is not `schema`.`table`: the
   * partitioned table, for a change to one of its partitions; the old name, after the table
   * was renamed (the trigger stays on it).
   */
  readonly installedOn?: { readonly schema: string; readonly table: string }
  readonly operation: ChangeOperation
  /** 1, 2, ... for the changes of one transaction, in the order they were made. */
  readonly seq: number
  /** The row (or old and new rows) did not fit under the 8000-byte payload limit and were left out. */
  readonly truncated: boolean
  /**
   * The primary key: the inserted row's, the deleted row's, the updated row's after the update.
   * Null only when truncated and even the key alone did not fit.
   */
  readonly key: RowKey | null
}

export interface RowInsert extends RowChangeBase {
  readonly operation: 'INSERT'
  /** The row as row_to_json gives it; null when truncated. */
  readonly row: JsonObject | null
}

export interface RowDelete extends RowChangeBase {
  readonly operation: 'DELETE'
  /** The deleted row; null when truncated. */
  readonly row: JsonObject | null
}

export interface RowUpdate extends RowChangeBase {
  readonly operation: 'UPDATE'
  /** The key before the update: differs from `key` when the update changed it. */
  readonly oldKey: RowKey | null
  /** The rows before and after; null when truncated. */
  readonly old: JsonObject | null
  readonly new: JsonObject | null
}

export type RowChange = RowInsert | RowUpdate | RowDelete

/** A row-trigger notification as a RowChange, or a PayloadError saying what is wrong with it. */
export function decodeRowChange(notification: NotificationLike): RowChange | PayloadError {
  return decodeShaped(notification, 'a row change', rowChange)
}

function rowChange({ channel, processId }: NotificationLike, json: JsonValue): RowChange {
  if (!isJsonObject(json)) throw new Shape('not a JSON object')
  const schema = field(json, 'schema', 'string')
  const table = field(json, 'table', 'string')
  const seq = field(json, 'seq', 'number')
  if (!Number.isSafeInteger(seq) || seq < 1) throw new Shape(`"seq" is ${seq}, not a counting number`)
  const truncated = field(json, 'truncated', 'boolean')
  const on = installedOn(json, schema, table)
  const base = { type: 'RowChange', kind: 'row', channel, processId, schema, table, ...(on ? { installedOn: on } : {}), seq, truncated, key: key(json, 'key', truncated) } as const
  const operation = json['operation']
  switch (operation) {
    case 'INSERT':
    case 'DELETE':
      return { ...base, operation, row: row(json, 'row', truncated) }
    case 'UPDATE':
      return { ...base, operation, oldKey: key(json, 'oldKey', truncated), old: row(json, 'old', truncated), new: row(json, 'new', truncated) }
    default:
      throw new Shape(`"operation" is ${describe(operation)}, not INSERT, UPDATE or DELETE`)
  }
}

function key(json: JsonObject, name: string, truncated: boolean): RowKey | null {
  const value = json[name]
  if (value === null && truncated) return null
  if (!isJsonObject(value)) throw new Shape(`"${name}" is ${describe(value)}, not an object`)
  for (const [column, keyValue] of Object.entries(value)) {
    // PostgreSQL keeps primary key columns NOT NULL: a null means the trigger reads a column
    // that is no longer in the key (renamed or dropped since the install).
    if (keyValue === null) throw new Shape(`key column ${JSON.stringify(column)} is null: the primary key changed since the trigger was installed; install it again`)
  }
  return value as RowKey
}

function row(json: JsonObject, name: string, truncated: boolean): JsonObject | null {
  const value = json[name]
  if (truncated) {
    if (value !== undefined) throw new Shape(`"${name}" is present although "truncated" is true`)
    return null
  }
  if (!isJsonObject(value)) throw new Shape(`"${name}" is ${describe(value)}, not an object`)
  return value
}

/** `installedOn` when it names another table than the change's; absent or null (older installs) is none. */
function installedOn(json: JsonObject, schema: string, table: string): RowChange['installedOn'] {
  const value = json['installedOn']
  if (value === undefined || value === null) return undefined
  if (!isJsonObject(value)) throw new Shape(`"installedOn" is ${describe(value)}, not an object`)
  const on = { schema: field(value, 'schema', 'string'), table: field(value, 'table', 'string') }
  return on.schema === schema && on.table === table ? undefined : on
}
