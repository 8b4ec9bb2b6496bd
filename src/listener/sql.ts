/**
 * SQL text built from user input, quoted the way PostgreSQL defines it, and the limits the
 * server would otherwise enforce silently (truncating a name) or late (refusing a payload).
 * Pure; imports only the protocol's UTF-8 helpers and quoting (../protocol/quote.ts).
 */
import { utf8Length } from '../protocol/bytes/utf8.ts'
import { checkText, quoteIdentifier, quoteLiteral } from '../protocol/quote.ts'

export { quoteIdentifier, quoteLiteral }

/** NAMEDATALEN - 1: the longest identifier PostgreSQL keeps; longer ones are truncated. */
export const maxIdentifierBytes = 63

/**
 * NOTIFY_PAYLOAD_MAX_LENGTH (BLCKSZ - NAMEDATALEN - 128 = 8000 with default builds): the
 * server refuses a payload of this many bytes or more ("payload string too long").
 */
export const payloadLimitBytes = 8000

/**
 * An unquoted identifier as PostgreSQL folds it (scansup.c, downcase_identifier): ASCII A-Z
 * to lower case, every other character kept (in a UTF-8 database, multibyte characters are
 * never folded). So a trigger's `NOTIFY Orders` is heard on "orders".
 */
export function foldIdentifier(name: string): string {
  return name.replace(/[A-Z]+/g, (letters) => letters.toLowerCase())
}

/**
 * A channel name PostgreSQL will keep as given. It refuses, with a RangeError, what the server
 * would silently change: an empty name, a NUL, more than 63 bytes (which it truncates, so the
 * listener would never hear anything).
 */
export function checkChannel(channel: string): string {
  if (typeof channel !== 'string') throw new TypeError(`a channel name must be a string, not ${typeof channel}`)
  if (channel === '') throw new RangeError('a channel name must not be empty')
  checkText(channel, 'a channel name')
  const bytes = utf8Length(channel)
  if (bytes > maxIdentifierBytes) {
    throw new RangeError(`channel name ${JSON.stringify(channel.slice(0, 20))}... is ${bytes} bytes; PostgreSQL would truncate it to ${maxIdentifierBytes}`)
  }
  return channel
}

/**
 * A payload the server will take: under 8000 bytes in the server's encoding. Checked in UTF-8,
 * which is the server encoding's byte count for UTF8 and SQL_ASCII databases and an upper
 * bound for single-byte encodings; other multibyte encodings are left to the server's check.
 */
export function checkPayload(payload: string, serverEncoding = 'UTF8'): string {
  if (typeof payload !== 'string') throw new TypeError(`a payload must be a string, not ${typeof payload}`)
  checkText(payload, 'a payload')
  const encoding = serverEncoding.toUpperCase()
  const bytes = encoding === 'UTF8' || encoding === 'SQL_ASCII' ? utf8Length(payload) : singleByte(encoding) ? [...payload].length : 0
  if (bytes >= payloadLimitBytes) {
    throw new RangeError(`the payload is ${bytes} bytes in ${encoding}; PostgreSQL takes payloads under ${payloadLimitBytes} bytes`)
  }
  return payload
}

/**
 * The SQL that sends one notification: pg_notify(channel, payload), both as literals quoted
 * for the session's standard_conforming_strings, after the channel and payload checks against
 * the session's server_encoding. NOTIFY itself takes the channel as an identifier and the
 * payload only as a literal constant; pg_notify takes both as values, so nothing is pasted.
 */
export function notifySql(channel: string, payload: string, parameters: ReadonlyMap<string, string>): string {
  checkChannel(channel)
  checkPayload(payload, parameters.get('server_encoding'))
  const standard = parameters.get('standard_conforming_strings') !== 'off'
  return `SELECT pg_catalog.pg_notify(${quoteLiteral(channel, standard)}, ${quoteLiteral(payload, standard)})`
}

/** PostgreSQL's single-byte server encodings ("Character Set Support"): one byte per character. */
function singleByte(encoding: string): boolean {
  return /^(LATIN\d+|WIN\d+|ISO_8859_\d+|KOI8[RU]|WIN866|WIN874|WIN125\d)$/.test(encoding)
}
