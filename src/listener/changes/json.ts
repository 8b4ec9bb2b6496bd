/**
 * JSON payloads: a notification's payload parsed as JSON, or a PayloadError for that one
 * message; and the shape checks the feed decoders share. Pure; imports the feed error class.
 */
import { PayloadError, type NotificationLike } from './errors.ts'

/** What JSON.parse can return. */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject
export interface JsonObject {
  [key: string]: JsonValue
}

/**
 * The payload parsed as JSON, or a PayloadError whose cause is JSON.parse's SyntaxError.
 * Returned, never thrown: a listener maps each notification to a value or an error and goes on.
 * Numbers are JavaScript numbers, except one a double cannot hold exactly (a bigint beyond 2^53,
 * a numeric with more significant digits than a double keeps): that one arrives as its exact
 * decimal text, a string, rather than rounded (see exactNumbers).
 */
export function decodeJson(notification: NotificationLike): JsonValue | PayloadError {
  try {
    const exact = exactNumbers(notification.payload)
    // Only valid JSON is rewritten: what JSON.parse refuses must stay refused (a number as an
    // object key, say, which quoting would make valid).
    if (exact !== notification.payload) JSON.parse(notification.payload)
    return JSON.parse(exact) as JsonValue
  } catch (error) {
    return new PayloadError(notification, `is not JSON (${(error as Error).message})`, { cause: error })
  }
}

/**
 * JSON text with every number that a double cannot hold exactly turned into a string of its
 * digits as written, so that JSON.parse loses nothing. A number is kept as it is when the
 * double nearest to it prints back as the same decimal value (9.50 and 9.5 alike). Scans only
 * text that has 16 digits (or digits and a point) in a row, as fewer never lose anything;
 * skips strings (a digit outside a string can only be part of a number).
 */
export function exactNumbers(json: string): string {
  if (!/\d[\d.]{15}/.test(json)) return json
  let out = ''
  let copied = 0
  let i = 0
  while (i < json.length) {
    const c = json[i]!
    if (c === '"') {
      for (i++; i < json.length && json[i] !== '"'; i++) if (json[i] === '\\') i++
      i++
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      const start = i
      for (i++; i < json.length && /[\d.eE+-]/.test(json[i]!); i++);
      const token = json.slice(start, i)
      if (!heldExactly(token)) {
        out += `${json.slice(copied, start)}"${token}"`
        copied = i
      }
    } else i++
  }
  return out + json.slice(copied)
}

/** Whether the double nearest to a JSON number is that number: its shortest form has the same value. */
function heldExactly(token: string): boolean {
  const value = Number(token)
  return !Number.isFinite(value) ? false : decimal(token) === decimal(String(value))
}

/** A decimal's value as 0.<significant digits> × 10^scale, with its sign: "-1.50e2" and "-150" are both "-15e3". */
function decimal(text: string): string {
  const match = /^(-?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text)
  if (!match) return `not a number: ${text}`
  const [, sign, whole = '', fraction = '', exponent = '0'] = match
  const all = whole + fraction
  const leadingZeros = all.length - all.replace(/^0+/, '').length
  const significant = all.slice(leadingZeros).replace(/0+$/, '')
  if (significant === '') return '0'
  return `${sign}${significant}e${whole.length - leadingZeros + Number(exponent)}`
}

/** A JSON object (not an array, not null), for decoders that check shapes. */
export function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Why a JSON payload is not the shape a decoder expects; caught by decodeShaped. */
export class Shape extends Error {}

/**
 * Parses the payload as JSON and builds a value from it with `build`, which throws Shape for
 * what is missing or of the wrong type; both kinds of failure come back as a PayloadError.
 */
export function decodeShaped<T>(
  notification: NotificationLike,
  what: string,
  build: (notification: NotificationLike, json: JsonValue) => T,
): T | PayloadError {
  const json = decodeJson(notification)
  if (json instanceof PayloadError) return json
  try {
    return build(notification, json)
  } catch (error) {
    if (error instanceof Shape) return new PayloadError(notification, `is not ${what} (${error.message})`)
    throw error
  }
}

/** `json[name]`, which must be of the given type. */
export function field<T extends 'string' | 'number' | 'boolean'>(json: JsonObject, name: string, type: T) {
  const value = json[name]
  if (typeof value !== type) throw new Shape(`"${name}" is ${describe(value)}, not a ${type}`)
  return value as T extends 'string' ? string : T extends 'number' ? number : boolean
}

/** A value for a message: JSON, cut short; "missing" for an absent field. */
export function describe(value: JsonValue | undefined): string {
  if (value === undefined) return 'missing'
  const text = JSON.stringify(value)
  return text.length > 40 ? `${text.slice(0, 40)}...` : text
}
