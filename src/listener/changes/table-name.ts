/**
 * Table names as callers give them ('schema.table' in SQL syntax, or { schema, table } as
 * stored) turned into the exact names and their quoted SQL form. Pure; imports the listener's
 * SQL quoting and the protocol's UTF-8 length.
 */
import { utf8Length } from '../../protocol/bytes/utf8.ts'
import { foldIdentifier, maxIdentifierBytes, quoteIdentifier } from '../sql.ts'

/**
 * 'schema.table' is read as SQL reads a qualified name: `public.Orders` is public.orders, and
 * `"My Schema"."Orders"` keeps case, spaces and dots, with "" for a quote. An object gives the
 * names exactly as they are stored, with nothing folded or unquoted.
 */
export type TableName = string | { readonly schema: string; readonly table: string }

/** A table's exact schema and table names, and `"schema"."table"` for SQL text. */
export interface QualifiedTable {
  readonly schema: string
  readonly table: string
  readonly quoted: string
}

/**
 * Reads a table name, refusing with a RangeError what PostgreSQL would not read the same way.
 * A bare name is refused too: which schema it means depends on the session's search_path,
 * and the installers and the channel names they derive must not depend on that.
 */
export function parseTableName(name: TableName): QualifiedTable {
  if (typeof name === 'string') {
    const parts = splitQualifiedName(name)
    if (parts.length !== 2) {
      const hint = parts.length === 1 ? `; give the schema too, e.g. 'public.${name}'` : ''
      throw new RangeError(`a table name is schema.table, and ${JSON.stringify(name)} has ${parts.length} part${parts.length === 1 ? '' : 's'}${hint}`)
    }
    return qualify(parts[0]!, parts[1]!)
  }
  if (typeof name !== 'object' || name === null || typeof name.schema !== 'string' || typeof name.table !== 'string') {
    throw new TypeError("a table name is a 'schema.table' string or a { schema, table } object of strings")
  }
  return qualify(name.schema, name.table)
}

function qualify(schema: string, table: string): QualifiedTable {
  checkName(schema, 'schema')
  checkName(table, 'table')
  return { schema, table, quoted: `${quoteIdentifier(schema)}.${quoteIdentifier(table)}` }
}

function checkName(name: string, what: string): void {
  if (name === '') throw new RangeError(`a ${what} name must not be empty`)
  if (name.includes('\0')) throw new RangeError(`a ${what} name must not contain a NUL character`)
  const bytes = utf8Length(name)
  if (bytes > maxIdentifierBytes) {
    throw new RangeError(`${what} name ${JSON.stringify(name.slice(0, 20))}... is ${bytes} bytes; PostgreSQL would truncate it to ${maxIdentifierBytes}`)
  }
}

// scan.l: ident_start [A-Za-z\200-\377_], ident_cont [A-Za-z\200-\377_0-9\$]. Every byte of a
// multibyte character is \200-\377, so any non-ASCII character is an identifier character.
const unquoted = /[A-Za-z_\u0080-\u{10ffff}][A-Za-z0-9_$\u0080-\u{10ffff}]*/uy

/**
 * Splits a dotted name into its parts, each either "quoted" ("" is a quote, case kept) or
 * unquoted (folded to lower case). No whitespace anywhere: strict rather than guessing.
 */
export function splitQualifiedName(text: string): string[] {
  const parts: string[] = []
  let at = 0
  for (;;) {
    if (text[at] === '"') {
      let part = ''
      at++
      for (;;) {
        const close = text.indexOf('"', at)
        if (close === -1) throw new RangeError(`unterminated quoted name in ${JSON.stringify(text)}`)
        part += text.slice(at, close)
        at = close + 1
        if (text[at] !== '"') break
        part += '"'
        at++
      }
      if (part === '') throw new RangeError(`a zero-length quoted name ("") in ${JSON.stringify(text)}`)
      parts.push(part)
    } else {
      unquoted.lastIndex = at
      const match = unquoted.exec(text)
      if (match === null) throw new RangeError(`expected a name at offset ${at} of ${JSON.stringify(text)}; quote names with other characters ("...")`)
      parts.push(foldIdentifier(match[0]))
      at += match[0].length
    }
    if (at === text.length) return parts
    if (text[at] !== '.') throw new RangeError(`expected '.' at offset ${at} of ${JSON.stringify(text)}`)
    at++
  }
}
