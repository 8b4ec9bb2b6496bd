/**
 * The options object a caller passes, checked field by field and turned into libpq keywords;
 * connect()'s own options (io/connect.ts) are checked here too, though no keyword carries them.
 * Misuse (a libpq keyword as a field name, a wrong type) is a TypeError; a number out of range a RangeError.
 * Imports keywords.ts and types only.
 */
import { KEYWORDS, OPTION_KEYWORDS, isKeyword } from './keywords.ts'
import type { Tracer } from '../session.ts'
import type { ConnectionOptions } from './types.ts'

/** A value as the caller gave it: text like a connection string's, or one of the richer types. */
export type OptionValue = string | number | boolean | (() => string | Promise<string>) | { pem: string | Uint8Array }

/** A ConnectionOptions field: the names a caller may set, less connectionString (a string to parse). */
type OptionName = Exclude<keyof ConnectionOptions, 'connectionString'>
/**
 * connect()'s options that no libpq keyword carries and nothing else checks before a
 * connection uses them: a wrong one would fail that connection, or be quietly ignored.
 */
const OWN_OPTIONS = ['protocolVersion', 'keepAlive', 'maxMessageLength', 'env', 'scram', 'trace', 'onNotification', 'onNotice', 'onParameterStatus', 'onHandlerError', 'onWarning', 'onClose'] as const
type OwnOptionName = (typeof OWN_OPTIONS)[number]
/** A tracer's hooks, each optional in connect()'s trace option (io/connect.ts). */
const TRACER_HOOKS = ['sent', 'received', 'receivedByte'] as const satisfies readonly (keyof Tracer)[]
type HandlerName = Extract<OwnOptionName, `on${string}`>
/** The options whose type is text only: checked() takes no case for them. */
type TextOptionName = { [Name in OptionName]-?: Required<ConnectionOptions>[Name] extends string ? Name : never }[OptionName]

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
    given.set(keyword, checked(name as OptionName, value))
  }
  // Read as connect() reads them: an inherited one too (a handler may be a method of a class).
  for (const name of OWN_OPTIONS) {
    const value = (options as Record<string, unknown>)[name]
    if (value !== undefined) checked(name, value)
  }
  return given
}

/** A value in an error: a string quoted, so that '10000' is not taken for 10000. */
const shown = (value: unknown): string => (typeof value === 'string' ? `"${value}"` : typeof value === 'bigint' ? `${value}n` : String(value))

/** `value` if it has a type option `name` takes: the options named below take more than a string, the rest a string only, or a handler a function. */
function checked(name: OptionName | OwnOptionName, value: unknown): OptionValue {
  switch (name) {
    case 'password':
      if (typeof value === 'string' || typeof value === 'function') return value as OptionValue
      throw new TypeError('password must be a string or a function returning one')
    case 'sslsni':
      if (typeof value === 'boolean' || typeof value === 'string') return value
      throw new TypeError("sslsni must be a boolean, '0' or '1'")
    case 'sslrootcert':
    case 'sslcert':
    case 'sslkey':
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
    case 'connectTimeout':
      if (typeof value === 'string') return value
      if (typeof value !== 'number') throw new TypeError('connectTimeout must be a number of seconds or a string')
      if (!Number.isInteger(value)) throw new RangeError(`invalid connectTimeout ${value}: libpq takes whole seconds`)
      return value
    case 'protocolVersion':
      // The versions startup speaks, 3.0 and 3.2, as StartupMessage carries them.
      if (value === 0x30000 || value === 0x30002) return value
      throw new (typeof value === 'number' ? RangeError : TypeError)(`protocolVersion must be the number (3 << 16) | 0 or (3 << 16) | 2, not ${shown(value)}`)
    case 'keepAlive':
      if (typeof value === 'number' && value >= 0 && value < Infinity) return value
      throw new (typeof value === 'number' ? RangeError : TypeError)(`keepAlive must be a number of milliseconds, 0 or more, not ${shown(value)}`)
    case 'maxMessageLength':
      // Its range is the framer's to check (framer.ts); a string would be shown there as a number.
      if (typeof value === 'number') return value
      throw new TypeError(`maxMessageLength must be a number of bytes, not ${shown(value)}`)
    // Read without a check after this, these would be quietly ignored (env: 5 reads no variable,
    // trace: 5 traces nothing, as a tracer's throws are ignored) or fail mid-authentication.
    case 'env':
      // Or a getter of one variable, as connect() hands it on (options/types.ts, EnvironmentSource).
      if ((typeof value === 'object' && value !== null) || typeof value === 'function') return value as OptionValue
      throw new TypeError(`env must be an object of environment variables or a getter of one, not ${shown(value)}`)
    case 'trace': {
      // Any of its hooks, null or left out for none (as a handler may be null): a tracer that
      // wants only what the server says gives received() alone, and io/connect.ts fills in the
      // rest. But one with none at all, say each misspelt, would trace nothing.
      const tracer = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>
      const hooks = TRACER_HOOKS.filter((hook) => tracer[hook] != null)
      if (hooks.length === 0) throw new TypeError('trace must be a tracer, with one or more of the methods sent(), received() and receivedByte() (createTracer() makes one)')
      const wrong = hooks.find((hook) => typeof tracer[hook] !== 'function')
      if (wrong !== undefined) throw new TypeError(`trace.${wrong} must be a function, not ${typeof tracer[wrong]}`)
      return value as OptionValue
    }
    case 'scram': {
      const { maxIterations, cache } = (typeof value === 'object' && value !== null ? value : { cache: 0 }) as { maxIterations?: unknown; cache?: unknown }
      const cacheOk = cache === undefined || cache === null || (typeof cache === 'object' && typeof (cache as { saltedPassword?: unknown }).saltedPassword === 'function')
      if (cacheOk && (maxIterations === undefined || typeof maxIterations === 'number')) return value as OptionValue
      throw new TypeError('scram must be { maxIterations?: number, cache?: SaltedPasswordCache | null }')
    }
    default: {
      // A text option, or a handler: no text option's name starts with "on". A handler set to
      // null is none, as connect() reads it (`onNotice: debug ? log : null`).
      name satisfies TextOptionName | HandlerName
      const type = name.startsWith('on') ? 'function' : 'string'
      if (typeof value === type || (value === null && type === 'function')) return value as OptionValue
      throw new TypeError(`${name} must be a ${type}`)
    }
  }
}
