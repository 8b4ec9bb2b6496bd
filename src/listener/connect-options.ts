/**
 * What the listener asks of its connections, worked out from its options: the connection
 * options without the listener's own, never a hot standby (LISTEN is refused in recovery),
 * TCP keepalive on, and how long one reconnect attempt may take. Pure: imports the protocol's
 * settings resolver and types only.
 */
import type { ConnectOptions } from '../protocol/io/connect.ts'
import type { ResolveContext, Settings } from '../protocol/options/index.ts'
import { loadSettings } from '../protocol/options/resolve.ts'
import type { ListenerOptions } from './listener-types.ts'

/** TCP keepalive idle time for the listening connection unless the options say otherwise, ms. */
export const listeningKeepAlive = 10_000

/** A reconnect attempt's bound when neither attemptTimeout nor connect_timeout × hosts is longer, ms. */
export const defaultAttemptTimeout = 10_000

/**
 * The options each connection (listening or notifier) is opened with. `targetSessionAttrs`
 * 'any' becomes 'primary': LISTEN is refused during recovery, so the listener must never
 * settle on a hot standby (libpq's "primary"); any other choice is the user's to keep.
 */
export async function connectionOptions(options: ListenerOptions): Promise<ConnectOptions> {
  const { reconnect: _r, heartbeat: _h, highWaterMark: _hw, lowWaterMark: _lw, stallTimeout: _s, poolerCheck: _p, ...connect } = options
  const attrs = (await settings(options)).targetSessionAttrs
  return { ...connect, targetSessionAttrs: attrs === 'any' ? 'primary' : attrs }
}

/** The listening connection's options: those of connectionOptions(), with TCP keepalive on by default. */
export async function listeningOptions(options: ListenerOptions): Promise<ConnectOptions> {
  return { ...(await connectionOptions(options)), keepAlive: options.keepAlive ?? listeningKeepAlive }
}

/**
 * How long one reconnect attempt may take: `reconnect.attemptTimeout` if given; otherwise
 * 10 s, or connect_timeout for every host in the list if that is longer (libpq gives each host
 * connect_timeout, so a list of slow hosts must not be cut short).
 */
export async function attemptTimeout(options: ListenerOptions): Promise<number> {
  return chosenTimeout(options) ?? attemptBound(await settings(options))
}

/**
 * attemptTimeout() from settings already resolved: for replicate(), which resolves them at the
 * call, to refuse a bad option there.
 */
export function attemptTimeoutWith(options: ListenerOptions, settings: Settings): number {
  return chosenTimeout(options) ?? attemptBound(settings)
}

function chosenTimeout(options: ListenerOptions): number | undefined {
  return options.reconnect ? options.reconnect.attemptTimeout : undefined
}

function attemptBound({ connectTimeout, hosts }: Settings): number {
  return Math.max(defaultAttemptTimeout, (connectTimeout ?? 0) * 1000 * hosts.length)
}

/**
 * Only the host list and the timeouts are read here (PG* variables included, from the
 * platform's environment), never the OS user name or the home folder. Silent: a variable that
 * cannot be read is connect()'s to warn about. The connection-string parser is loaded only for
 * a connection string.
 */
function settings(options: ListenerOptions): Promise<Settings> {
  return loadSettings(options, quietContext(options))
}

/** What the listener's look at its settings reads: PG* variables from the options or the platform, no OS user. */
export function quietContext(options: ListenerOptions): ResolveContext {
  const { platform } = options
  return { env: options.env ?? (platform ? (name: string) => platform.env(name) : {}), osUser: 'unknown' }
}
