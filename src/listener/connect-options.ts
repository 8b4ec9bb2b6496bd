/**
 * What the listener asks of its connections, worked out from its options: the connection
 * options without the listener's own, never a hot standby (LISTEN is refused in recovery),
 * TCP keepalive on, and how long one reconnect attempt may take. Pure: imports the protocol's
 * settings resolvers and types only (loadSettings loads the connection-string parser only for a
 * connection string).
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
