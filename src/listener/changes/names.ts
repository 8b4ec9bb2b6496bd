/**
 * The names a change feed needs before anything else: the row trigger's default channel and
 * the DDL trigger's checked names. changes(listener) works them out at once, so a bad argument
 * throws at the call and the feed subscribes at the call; the triggers' SQL and the decoders
 * come after (../feed-parts.ts). Pure; imports the listener's checks and the protocol's SHA-224.
 */
import { sha224 } from '../../protocol/auth/sha224.ts'
import { encodeUtf8, utf8Length } from '../../protocol/bytes/utf8.ts'
import { checkChannel, maxIdentifierBytes } from '../sql.ts'
import { parseTableName, type QualifiedTable, type TableName } from './table-name.ts'

/** tcn's default channel (tcn.c: `channel = "tcn"` when the trigger has no argument). */
export const tcnDefaultChannel = 'tcn'

/** The row trigger's name, and its function's and default channel's prefix. */
export const rowTriggerName = 'pglisten_rows'

/** The default channel of a table's row changes: `pglisten_rows_<table>_<hash>`, at most 63 bytes. */
export function rowChangeChannel(table: TableName): string {
  return generatedName(rowTriggerName, parseTableName(table))
}

const hashLength = 8

/** The hex SHA-224 of `text` in UTF-8: a stable fingerprint for generated names and keys. */
export function fingerprint(text: string): string {
  return Array.from(sha224(encodeUtf8(text)), (byte) => byte.toString(16).padStart(2, '0')).join('')
}

/**
 * A name for an object generated for `table`: `prefix_table_hash`, where `table` is the table
 * name reduced to [a-z0-9_] and cut to fit, and `hash` the first 8 hex digits of the SHA-224 of
 * `"schema"."table"`, so that tables whose reduced names agree still get different names.
 * Stable (installing twice finds the same name), at most 63 bytes (PostgreSQL would truncate a
 * longer one: NAMEDATALEN - 1), and a plain lower-case identifier, so `LISTEN` needs no quotes.
 */
export function generatedName(prefix: string, table: QualifiedTable): string {
  const hash = fingerprint(table.quoted).slice(0, hashLength)
  const room = maxIdentifierBytes - prefix.length - hashLength - 2
  if (room < 1) throw new RangeError(`the prefix ${JSON.stringify(prefix)} leaves no room for a table name`)
  const reduced = table.table.toLowerCase().replace(/[^a-z0-9_]+/g, '_').slice(0, room)
  return `${prefix}_${reduced}_${hash}`
}

/** The DDL trigger's names (DdlTriggerOptions), checked: at most 58 bytes for the name, so that `_drop` fits. */
export function ddlNames(options: { readonly name?: string; readonly schema?: string; readonly channel?: string }): { name: string; schema: string; channel: string } {
  const name = checkName(options.name ?? 'pglisten_ddl', 'name', maxIdentifierBytes - '_drop'.length)
  const schema = checkName(options.schema ?? 'public', 'schema', maxIdentifierBytes)
  return { name, schema, channel: checkChannel(options.channel ?? name) }
}

function checkName(name: string, what: string, maxBytes: number): string {
  if (typeof name !== 'string') throw new TypeError(`the ${what} must be a string, not ${typeof name}`)
  if (name === '' || name.includes('\0')) throw new RangeError(`the ${what} must be non-empty, without NUL characters`)
  if (utf8Length(name) > maxBytes) throw new RangeError(`the ${what} ${JSON.stringify(name)} is over ${maxBytes} bytes`)
  return name
}
