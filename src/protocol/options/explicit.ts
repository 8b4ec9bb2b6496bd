/**
 * The options object a caller passes, checked field by field and turned into libpq keywords.
 * Misuse (a libpq keyword as a field name, a wrong type) is a TypeError; a number out of range a RangeError.
 * Imports keywords.ts and types only.
 */
import { KEYWORDS, OPTION_KEYWORDS, isKeyword } from './keywords.ts'
import type { ConnectionOptions } from './types.ts'

/** A value as the caller gave it: text like a connection string's, or one of the richer types. */
export type OptionValue = string | number | boolean | (() => string | Promise<string>) | { pem: string | Uint8Array }

type Kind = 'string' | 'port' | 'timeout' | 'password' | 'file' | 'sslsni'

const KINDS: Readonly<Record<Exclude<keyof ConnectionOptions, 'connectionString'>, Kind>> = {
  host: 'string',
  hostaddr: 'string',
  port: 'port',
  user: 'string',
  password: 'password',
  database: 'string',
  applicationName: 'string',
  fallbackApplicationName: 'string',
  options: 'string',
  connectTimeout: 'timeout',
  sslmode: 'string',
  sslrootcert: 'file',
  sslcert: 'file',
  sslkey: 'file',
  sslcertmode: 'string',
  sslnegotiation: 'string',
  sslsni: 'sslsni',
  channelBinding: 'string',
  requireAuth: 'string',
  targetSessionAttrs: 'string',
  passfile: 'string',
}

/**
 * The options given, by libpq keyword. An option that is undefined or the empty string is
 * left out, as PQconnectdbParams ignores empty values, so that the connection string and the
 * environment still apply to it. Other fields are ignored (the object may carry more than
 * connection settings), except libpq's name for an option named differently here (dbname).
 */
export function explicitOptions(options: ConnectionOptions): Map<string, OptionValue> {
  const given = new Map<string, OptionValue>()
  for (const [name, value] of Object.entries(options) as [string, unknown][]) {
    if (name === 'connectionString') {
      if (value !== undefined && typeof value !== 'string') throw new TypeError('connectionString must be a string')
      continue
    }
    const keyword = OPTION_KEYWORDS.get(name)
    if (keyword === undefined) {
      const option = isKeyword(name) ? KEYWORDS[name]!.option : undefined
      if (option !== undefined) throw new TypeError(`unknown connection option "${name}": that is libpq's name for the option "${option}"`)
      continue
    }
    if (value === undefined || value === '') continue
    given.set(keyword, checked(name, KINDS[name as keyof typeof KINDS], value))
  }
  return given
}

function checked(name: string, kind: Kind, value: unknown): OptionValue {
  switch (kind) {
    case 'string':
      if (typeof value === 'string') return value
      throw new TypeError(`${name} must be a string`)
    case 'password':
      if (typeof value === 'string' || typeof value === 'function') return value as OptionValue
      throw new TypeError('password must be a string or a function returning one')
    case 'sslsni':
      if (typeof value === 'boolean' || typeof value === 'string') return value
      throw new TypeError("sslsni must be a boolean, '0' or '1'")
    case 'file':
      if (typeof value === 'string') return value
      if (typeof value === 'object' && value !== null && 'pem' in value) {
        const { pem } = value as { pem: unknown }
        if (typeof pem === 'string' || pem instanceof Uint8Array) return { pem }
      }
      throw new TypeError(`${name} must be a file path or { pem: string | Uint8Array }`)
    case 'port':
      if (typeof value === 'string') return value
      if (typeof value !== 'number') throw new TypeError('port must be a number or a string')
      if (!Number.isInteger(value) || value < 1 || value > 65535) throw new RangeError(`invalid port number ${value}: expected an integer from 1 to 65535`)
      return String(value)
    case 'timeout':
      if (typeof value === 'string') return value
      if (typeof value !== 'number') throw new TypeError('connectTimeout must be a number of seconds or a string')
      if (!Number.isInteger(value)) throw new RangeError(`invalid connectTimeout ${value}: libpq takes whole seconds`)
      return value
  }
}
