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
 * Numbers are JavaScript numbers, except integers beyond 2^53 (a bigint key, say), which
 * arrive as their exact decimal text, as node-postgres gives int8 (see exactIntegers). Other
 * numbers with more digits than a double holds (numeric) lose precision, as with any JSON.parse.
 */
export function decodeJson(notification: NotificationLike): JsonValue | PayloadError {
  try {
    return JSON.parse(exactIntegers(notification.payload)) as JsonValue
  } catch (error) {
    return new PayloadError(notification, `is not JSON (${(error as Error).message})`, { cause: error })
  }
}

/**
 * JSON text with every integer that a double cannot hold exactly (beyond ±2^53) turned into a
 * string of its digits, so JSON.parse keeps it exact. Scans only text that has 16 digits in a
 * row; skips strings (a digit outside a string can only be part of a number).
 */
export function exactIntegers(json: string): string {
  if (!/\d{16}/.test(json)) return json
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
      if (/^-?\d+$/.test(token) && !Number.isSafeInteger(Number(token))) {
        out += `${json.slice(copied, start)}"${token}"`
        copied = i
      }
    } else i++
  }
  return out + json.slice(copied)
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
