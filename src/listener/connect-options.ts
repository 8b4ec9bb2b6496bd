/**
 * What the listener asks of its connections, worked out from its options: the connection
 * options without the listener's own, never a hot standby (LISTEN is refused in recovery),
 * TCP keepalive on, and how long one reconnect attempt may take. Pure: imports the protocol's
 * settings resolvers, its signal check and types only (loadSettings loads the connection-string
 * parser only for a connection string).
 */
import type { ConnectOptions } from '../protocol/io/connect.ts'
import type { ResolveContext, Settings } from '../protocol/options/index.ts'
import { loadSettings } from '../protocol/options/resolve.ts'
import type { ListenerOptions } from './listener-types.ts'

/** TCP keepalive idle time for the listening connection unless the options say otherwise, ms. */
export const listeningKeepAlive = 10_000

/** A reconnect attempt's bound when neither attemptTimeout nor connect_timeout × hosts is longer, ms. */
export const defaultAttemptTimeout = 10_000

/** What one attempt connects with, and how long it may take. */
export interface AttemptPlan {
  /**
   * The connection's options: the listener's own left out, and `targetSessionAttrs` 'any' made
   * 'primary': LISTEN is refused during recovery, so the listener must never settle on a hot
   * standby (libpq's "primary"); any other choice is the user's to keep.
   */
  connect: ConnectOptions
  /**
   * How long one reconnect attempt may take: `reconnect.attemptTimeout` if given; otherwise
   * 10 s, or connect_timeout for every host in the list if that is longer (libpq gives each
   * host connect_timeout, so a list of slow hosts must not be cut short).
   */
  timeout: number
}

/**
 * The plan for a connection of the listener's (listening or notifier), from one look at its
 * settings: a connection string is parsed once per attempt here (and again by connect()).
 */
export async function attemptPlan(options: ListenerOptions): Promise<AttemptPlan> {
  const settings = await loadSettings(options, quietContext(options))
  const { reconnect: _r, heartbeat: _h, highWaterMark: _hw, lowWaterMark: _lw, stallTimeout: _s, poolerCheck: _p, ...connect } = options
  const attrs = settings.targetSessionAttrs
  return { connect: { ...connect, targetSessionAttrs: attrs === 'any' ? 'primary' : attrs }, timeout: attemptTimeout(options, settings) }
}

/** The listening connection's options: the plan's, with TCP keepalive on by default. */
export function listeningOptions(plan: AttemptPlan): ConnectOptions {
  return { ...plan.connect, keepAlive: plan.connect.keepAlive ?? listeningKeepAlive }
}

/**
 * AttemptPlan.timeout, from settings already resolved: also for replicate(), which resolves
 * them at the call, to refuse a bad option there.
 */
export function attemptTimeout(options: ListenerOptions, { connectTimeout, hosts }: Settings): number {
  const chosen = options.reconnect ? options.reconnect.attemptTimeout : undefined
  if (chosen !== undefined) return chosen
  return Math.max(defaultAttemptTimeout, (connectTimeout ?? 0) * 1000 * hosts.length)
}

/**
 * What the listener's look at its settings reads: only the host list, the timeouts and
 * target_session_attrs are used, so PG* variables (from the options or the platform) and never
 * the OS user name or the home folder. Silent: a variable that cannot be read is connect()'s to
 * warn about.
 */
export function quietContext(options: ListenerOptions): ResolveContext {
  const { platform } = options
  return { env: options.env ?? (platform ? (name: string) => platform.env(name) : {}), osUser: 'unknown' }
}

/**
 * The listener's own options, and the fields of those that take an object. Its nested objects
 * carry nothing else, so a field they do not know is a mistake (`reconnect: { retries: 3 }`
 * would reconnect for ever); numbers in them, and the watermarks, must be numbers, as a string
 * or `true` would pass the range checks by coercion (`stallTimeout: true`, a 1 ms timer).
 */
const ownFields = { reconnect: ['minDelay', 'maxDelay', 'maxAttempts', 'attemptTimeout'], heartbeat: ['interval', 'timeout'], poolerCheck: ['timeout'] } as const

/**
 * connect()'s options that ListenerOptions leaves out, since the listener sets its own on its
 * connections: given anyway, they reached the notifier's connection alone, or nothing. Its
 * events (on()) and close() are what they would be for.
 */
const notTheListeners = ['onNotification', 'onNotice', 'onParameterStatus', 'onHandlerError', 'onClose', 'signal']

/**
 * Checks the types of the listener's own options at the constructor (their ranges are checked
 * where they are used). Names it does not know are left alone, as connect() leaves them, since
 * the object may carry more than options (TypeScript's excess property check finds a typo).
 */
export function checkListenerOptions(options: unknown): void {
  checkObject(options, "the listener's options")
  const given = options as Record<string, unknown>
  for (const name of notTheListeners) if (given[name] !== undefined) throw new TypeError(`the listener takes no ${name} option: it sets its own (see on() and close())`)
  for (const name of ['highWaterMark', 'lowWaterMark'] as const) checkNumber(name, given[name])
  if (given.stallTimeout !== false) checkNumber('stallTimeout', given.stallTimeout, ' or false')
  for (const [name, fields] of Object.entries(ownFields)) {
    const value = given[name]
    if (value === undefined || value === false) continue
    if (typeof value !== 'object' || value === null) throw new TypeError(`${name} must be an object or false, not ${kind(value)}`)
    for (const field of Object.keys(value)) {
      if (!(fields as readonly string[]).includes(field)) throw new TypeError(`unknown ${name} option "${field}": it takes ${fields.join(', ')}`)
    }
    for (const field of fields) checkNumber(`${name}.${field}`, (value as Record<string, unknown>)[field])
  }
  // The backoff counts failures in whole numbers: 1.5 would mean 2 without saying so.
  const attempts = given.reconnect ? (given.reconnect as { maxAttempts?: number }).maxAttempts : undefined
  if (attempts !== undefined && attempts !== Infinity && !Number.isInteger(attempts)) throw new RangeError(`reconnect.maxAttempts must be a whole number or Infinity, not ${attempts}`)
}

function checkNumber(name: string, value: unknown, or = ''): void {
  if (value !== undefined && typeof value !== 'number') throw new TypeError(`${name} must be a number${or}, not ${kind(value)}`)
}

/** What a value is, for an error: typeof, but null for null. */
export const kind = (value: unknown): string => (value === null ? 'null' : typeof value)

/** A TypeError unless `value` is an object: a method's options, or the listener's. */
export function checkObject(value: unknown, what = 'the options'): void {
  if (typeof value !== 'object' || value === null) throw new TypeError(`${what} must be an object, not ${kind(value)}`)
}

/** A TypeError unless `signal` is an AbortSignal (of any realm) or undefined: the protocol's check, connect()'s too. */
export { checkSignal } from '../protocol/abort-signal.ts'
