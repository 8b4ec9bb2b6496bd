/**
 * The payload of PostgreSQL's tcn extension (contrib/tcn/tcn.c, triggered_change_notification)
 * parsed strictly into the table, the operation and the primary key, and decoded from a
 * notification into a TcnChange. Pure; imports the feed error class.
 *
 * What tcn.c writes, for one row, in one NOTIFY:
 *
 *   payload = quoted(table, '"') "," op 1*("," quoted(column, '"') "=" quoted(value, "'"))
 *   op      = "I" / "U" / "D"                 ; INSERT, UPDATE, DELETE
 *   quoted(s, q) = q s' q                     ; s with every q doubled (strcpy_quoted)
 *
 * - `table` is RelationGetRelationName: the bare name, without its schema.
 * - The columns are the primary key's key columns (indnkeyatts, so no INCLUDE columns), in
 *   the index's order, not the table's; each value is its type's text output (SPI_getvalue).
 * - Only the quote character of each part is doubled: a name may hold a bare ', a value a
 *   bare "; commas, '=', spaces and newlines appear as they are.
 * - For UPDATE the key is the OLD row's (tg_trigtuple): an update that changes the key
 *   reports the key the row had, and the new key is not sent at all.
 */
import { PayloadError, type NotificationLike } from './errors.ts'

export type ChangeOperation = 'INSERT' | 'UPDATE' | 'DELETE'

/** What a tcn payload says. */
export interface TcnPayload {
  /** The table's name, without schema: tcn does not send it. */
  readonly table: string
  readonly operation: ChangeOperation
  /** Primary key column to its value as text. For UPDATE, the value before the update. */
  readonly key: Readonly<Record<string, string>>
  /** The key's columns in the primary key's order. */
  readonly columns: readonly string[]
}

/** A tcn notification, decoded. */
export interface TcnChange extends TcnPayload {
  /** Every feed item has a `type`, so one check tells events, PayloadError and Gap apart. */
  readonly type: 'TcnChange'
  readonly kind: 'tcn'
  readonly channel: string
  /** The backend that made the change (compare with your own Connection's processId). */
  readonly processId: number
}

const operations: Readonly<Record<string, ChangeOperation>> = { I: 'INSERT', U: 'UPDATE', D: 'DELETE' }

/**
 * Parses a tcn payload, or throws a SyntaxError naming the offset and what was expected there
 * (never a partial result): a missing or unterminated quote, an operation other than I, U or
 * D, no key column, an empty name, a column twice, anything after the last value.
 */
export function parseTcnPayload(payload: string): TcnPayload {
  let at = 0
  const fail = (expected: string): never => {
    const found = at < payload.length ? JSON.stringify(payload.slice(at, at + 10)) : 'the end'
    throw new SyntaxError(`not a tcn payload: expected ${expected} at offset ${at}, found ${found}`)
  }
  const take = (char: string, expected: string): void => {
    if (payload[at] !== char) fail(expected)
    at++
  }
  const quoted = (q: '"' | "'", what: string): string => {
    take(q, `${q} to open ${what}`)
    let text = ''
    for (;;) {
      const close = payload.indexOf(q, at)
      if (close === -1) {
        at = payload.length
        return fail(`${q} to close ${what}`)
      }
      text += payload.slice(at, close)
      at = close + 1
      if (payload[at] !== q) return text
      text += q // a doubled quote stands for one
      at++
    }
  }
  const name = (what: string): string => {
    const start = at
    const text = quoted('"', what)
    if (text === '') {
      at = start
      fail(`${what} (PostgreSQL names are never empty)`)
    }
    return text
  }

  const table = name('the table name')
  take(',', "',' after the table name")
  const operation = operations[payload[at] ?? '']
  if (operation === undefined) fail('the operation I, U or D')
  at++
  const entries: [string, string][] = []
  const seen = new Set<string>()
  do {
    take(',', "',' and a primary key column")
    const start = at
    const column = name('a column name')
    if (seen.has(column)) {
      at = start
      fail(`a column not already given (${JSON.stringify(column)} appears twice)`)
    }
    seen.add(column)
    take('=', "'=' after the column name")
    entries.push([column, quoted("'", `the value of ${JSON.stringify(column)}`)])
  } while (at < payload.length)

  // fromEntries makes own properties even of names like __proto__, which assignment would not.
  return { table, operation: operation!, key: Object.fromEntries(entries), columns: entries.map(([column]) => column) }
}

/** A tcn notification as a TcnChange, or a PayloadError (with the SyntaxError as cause). */
export function decodeTcnChange(notification: NotificationLike): TcnChange | PayloadError {
  try {
    const parsed = parseTcnPayload(notification.payload)
    return { type: 'TcnChange', kind: 'tcn', channel: notification.channel, processId: notification.processId, ...parsed }
  } catch (error) {
    return new PayloadError(notification, `is not in the tcn format (${(error as Error).message})`, { cause: error })
  }
}
