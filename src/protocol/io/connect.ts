/**
 * Connecting the libpq way. Settings come from explicit options, then a connection string,
 * then PG* variables, then libpq's defaults (../options). Each host is tried in turn, each with
 * its own connect_timeout; sslmode decides whether TLS is tried first (prefer) or second
 * (allow); target_session_attrs is checked once a session is up (libpq's fe-connect.c). An
 * AbortSignal stops the whole attempt, every host and phase included.
 * Runtime-neutral: sockets, files and the process's facts come from `options.platform`, which
 * the entry point supplies (src/protocol/node.ts binds Node's, src/protocol/workers.ts Workers').
 * The target_session_attrs check (target-session.ts) is loaded by dynamic import when it has
 * something to check: the default, any, takes every server; so is the connection-string
 * parser, when a connection string is given (options/resolve.ts's loadSettings).
 */
import { checkSignal } from '../abort-signal.ts'
import { SaltedPasswordCache } from '../auth/salted-password-cache.ts'
import { ConnectionLostError, DatabaseError } from '../errors.ts'
import type { ProtocolVersion } from '../frontend.ts'
import { lazyFact } from '../options/context.ts'
import type { ConnectionOptions, HostTarget, Settings, TargetSessionAttrs } from '../options/types.ts'
import { loadSettings } from '../options/resolve.ts'
import { callHandler, type SessionHandlers, type Tracer } from '../session.ts'
import { AttemptSignal, abortedError } from './attempt-signal.ts'
import { Connection, type OpenOptions } from './connection.ts'
import { describeEndpoint, isUnixSocket } from './endpoint.ts'
import type { Platform, TlsMaterial } from './platform.ts'

export interface ConnectOptions extends ConnectionOptions, SessionHandlers {
  /**
   * Where PG* variables come from; default the platform's environment (process.env under
   * Node, Bun and Deno, read one variable at a time; none on Cloudflare Workers).
   */
  env?: Readonly<Record<string, string | undefined>>
  /**
   * The runtime's sockets, files and process facts. Set by the entry point you import
   * ('pglisten' and 'pglisten/protocol' resolve to Node's, or under the "workerd" export
   * condition to Cloudflare Workers'); give one only to run on something else.
   */
  platform?: Platform
  /** Protocol version to ask for; default 3.2. */
  protocolVersion?: ProtocolVersion
  /**
   * 'database': a logical replication connection (the startup parameter replication=database,
   * as libpq's replication keyword sends it), which takes replication commands such as
   * START_REPLICATION besides SQL. pglisten/replication sets it; a conninfo's replication
   * keyword is still refused, so that a listener is never given a walsender by mistake.
   */
  replication?: 'database'
  /** The largest message length accepted from the server; default 64 MiB. */
  maxMessageLength?: number
  scram?: {
    maxIterations?: number
    /** Salted passwords kept across connections; default a cache shared by the process, null for none. */
    cache?: SaltedPasswordCache | null
  }
  /**
   * Sees every protocol message sent and received (pglisten --trace): any of a Tracer's hooks,
   * each one left out tracing nothing, as a tracer of only what the server sends needs no sent().
   */
  trace?: Tracer
  /** TCP keepalive: probe an idle connection after this many milliseconds. Default: off. */
  keepAlive?: number
  /**
   * Aborts the whole attempt, whatever it is doing (connecting, TLS, startup, the
   * target_session_attrs check) and however many hosts are left: connect() rejects at once with
   * a ConnectionLostError caused by `signal.reason`, every socket it opened destroyed. Applies
   * alongside connect_timeout, which still bounds each host. Not watched once connect() settles.
   */
  signal?: AbortSignal
  /**
   * Warnings libpq would print (a password file others can read), and facts of the process
   * that could not be read (a permission Deno refused); default the platform's
   * (process.emitWarning under Node, console.warn on Workers), which says each message once.
   */
  onWarning?(message: string): void
  /** The connection connect() returned has ended (see OpenOptions); never told of a host tried and left. */
  onClose?(error: Error | undefined): void
}

/** Reconnects skip PBKDF2 (issue: "a cache of the SCRAM salted password"). */
const sharedCache = new SaltedPasswordCache()

/**
 * Opens a connection as libpq would: the first host that connects and suits target_session_attrs.
 * The home folder, the OS user name and each PG* variable are asked of the platform only when a
 * setting needs them; one that cannot be read is a warning, not a failure.
 */
export function connect(options: ConnectOptions | string = {}): Promise<Connection> {
  const explicit: ConnectOptions = typeof options === 'string' ? { connectionString: options } : options
  const platform = explicit.platform
  if (platform === undefined) return Promise.reject(new TypeError("no platform: import connect() from 'pglisten' or 'pglisten/protocol', whose entry point supplies this runtime's"))
  return connectOn(platform, explicit)
}

/**
 * connect() on `platform`, unless the options name another: what each entry point exports as
 * its connect(), with its own platform bound. The options object is read as given, never
 * copied (handlers on a prototype, getters and all).
 */
export function connectWith(platform: Platform, options: ConnectOptions | string = {}): Promise<Connection> {
  const explicit: ConnectOptions = typeof options === 'string' ? { connectionString: options } : options
  // Misuse rejects, as every other failure of connect() does: never a throw at the call.
  if (typeof explicit !== 'object' || explicit === null) return Promise.reject(new TypeError('options must be an object or a connection string'))
  return connectOn(explicit.platform ?? platform, explicit)
}

async function connectOn(platform: Platform, explicit: ConnectOptions): Promise<Connection> {
  const signal = explicit.signal
  checkSignal(signal) // by what is used of it: one from another realm is no instanceof AbortSignal
  if (signal?.aborted) throw abortedError(signal)
  if (explicit.replication !== undefined && explicit.replication !== 'database') {
    throw new RangeError(`replication must be 'database' (logical replication) or absent, not ${JSON.stringify(explicit.replication)}`)
  }
  // A warning is no failure: what onWarning throws or rejects with goes to onHandlerError.
  const warn = (message: string) => explicit.onWarning ? callHandler(explicit, explicit.onWarning, message) : platform.warn(message)
  // Asked once for both the password file and the default certificate files.
  const homeDir = lazyFact(() => platform.homeDir(), 'the home folder', warn)
  const settings = await loadSettings(explicit, { env: explicit.env ?? ((name) => platform.env(name)), homeDir, osUser: () => platform.osUser(), warn })
  platform.checkSettings(settings)
  const material = await platform.loadTlsMaterial(settings, homeDir)
  const failures: { where: string; error: unknown }[] = []
  // prefer-standby: a first pass wants a standby; if none answers, any server will do.
  const passes = settings.targetSessionAttrs === 'prefer-standby' ? (['standby', 'any'] as const) : [settings.targetSessionAttrs]
  for (const want of passes) {
    for (const host of settings.hosts) {
      // An abort ends the attempt: no further host is tried, and no summary hides why.
      if (signal?.aborted) throw abortedError(signal)
      const where = describeEndpoint(host)
      let connection: Connection | undefined
      // onClose is for the connection returned: one closed below, never the caller's, is not told.
      let returned = false
      const onClose = (error: Error | undefined) => returned && explicit.onClose?.(error)
      try {
        connection = await connectHost(platform, host, settings, explicit, material, warn, onClose)
        const mismatch = await checkTarget(connection, want, signal, settings.connectTimeout === undefined ? undefined : settings.connectTimeout * 1000)
        // A server that hung up meanwhile (say, while the check's module loaded) is a host that failed.
        if (connection.isClosed) throw await connection.closed
        returned = mismatch === undefined
        if (returned) return connection
        failures.push({ where, error: new ConnectionLostError(`${mismatch} (target_session_attrs=${settings.targetSessionAttrs})`) })
      } catch (error) {
        if (signal?.aborted) throw abortedError(signal) // checkTarget has dropped the connection
        failures.push({ where, error })
      }
      // A server that does not suit, or whose check query failed: libpq (fe-connect.c,
      // CONNECTION_CHECK_WRITABLE and CONNECTION_CHECK_STANDBY) closes the connection politely
      // (Terminate) before it tries the next host.
      await connection?.close()
    }
  }
  if (failures.length === 1) throw failures[0]!.error
  const summary = failures.map(({ where, error }) => `${where}: ${error instanceof Error ? error.message : String(error)}`).join('; ')
  throw new ConnectionLostError(`could not connect to any of ${settings.hosts.length} hosts: ${summary}`, { cause: failures.at(-1)!.error })
}

/**
 * The target_session_attrs check, which may run a query: an abort meanwhile drops the
 * connection, so the query rejects at once, and so does connect_timeout, which libpq's covers
 * too (its CONNECTION_CHECK_* states): a server that never answers is a host that failed. Once
 * the check is over, neither is watched.
 */
async function checkTarget(connection: Connection, want: TargetSessionAttrs | 'any', signal: AbortSignal | undefined, timeoutMs: number | undefined): Promise<string | undefined> {
  if (want === 'any') return undefined // every server suits: no query
  const bound = new AttemptSignal(signal, timeoutMs)
  const stop = () => connection.abort(bound.timedOut ? new ConnectionLostError(`the target_session_attrs check did not finish within ${timeoutMs} ms`) : abortedError(signal!))
  bound.signal.addEventListener('abort', stop, { once: true })
  try {
    if (bound.signal.aborted) stop() // between startup and now
    const mismatch = await checkTargetSession(connection, want)
    // Aborted while the answer was on its way (or with no query to wait for): the connection is gone.
    if (signal?.aborted) throw abortedError(signal)
    return mismatch
  } finally {
    bound.dispose()
  }
}

/** target-session.ts's check, loaded only when `want` is not 'any', which every server suits. */
async function checkTargetSession(connection: Connection, want: TargetSessionAttrs): Promise<string | undefined> {
  return (await import('./target-session.ts')).checkTargetSession(connection, want)
}

/**
 * One host, with sslmode's second chance: allow tries plain then TLS, prefer tries TLS then
 * plain, in each case only when the server refused the first attempt with an ErrorResponse
 * during startup, and only when the second attempt would differ from the first (libpq:
 * "retry with/without SSL" when ssl_in_use says so). Stronger modes have no second chance.
 */
async function connectHost(
  platform: Platform,
  host: HostTarget,
  settings: Settings,
  explicit: ConnectOptions,
  material: TlsMaterial,
  warn: (message: string) => void,
  onClose: (error: Error | undefined) => void,
): Promise<Connection> {
  // libpq never uses TLS over a Unix socket, whatever the sslmode: one plain attempt. With a
  // hostaddr, the host is no socket folder, whatever it looks like (endpoint.ts).
  const unix = isUnixSocket(host)
  const order = unix || settings.sslmode === 'disable' ? [false] : settings.sslmode === 'allow' ? [false, true] : settings.sslmode === 'prefer' ? [true, false] : [true]
  let firstError: unknown
  for (let i = 0; i < order.length; i++) {
    let encrypted = order[i]!
    try {
      return await Connection.open({ ...openOptions(platform, host, settings, explicit, material, order[i]!, warn), onClose, onTransport: (t) => (encrypted = t.encrypted) })
    } catch (error) {
      firstError ??= error
      if (!(error instanceof DatabaseError)) throw error
      // A second chance only with a transport this attempt lacked. Under prefer, a server that
      // answered 'N' to SSLRequest has just refused a plain login: asking again, plain, would
      // only log a second failure (and count twice towards a lockout), so libpq does not.
      if (order[i + 1] === encrypted) break
    }
  }
  throw firstError
}

function openOptions(
  platform: Platform,
  host: HostTarget,
  settings: Settings,
  explicit: ConnectOptions,
  material: TlsMaterial,
  useTls: boolean,
  warn: (message: string) => void,
): OpenOptions {
  const { user, database } = settings
  const parameters: Record<string, string> = {}
  if (settings.applicationName !== undefined) parameters['application_name'] = settings.applicationName
  if (settings.options !== undefined) parameters['options'] = settings.options
  if (explicit.replication === 'database') parameters['replication'] = 'database'
  const cache = explicit.scram?.cache === null ? undefined : (explicit.scram?.cache ?? sharedCache)
  return {
    platform,
    ...host, // host and port, and hostaddr when there is one (hostTargets() leaves it out otherwise)
    user,
    database,
    // libpq reads the password file only when no password was given; we read it only if asked.
    password: settings.password ?? (() => platform.passwordFromFile(settings.passfile, { ...host, database, user }, warn)),
    parameters,
    tls: {
      mode: settings.sslmode,
      negotiation: settings.sslnegotiation,
      sni: settings.sslsni,
      // The name to verify: the host, or with only hostaddr given, that address.
      serverName: host.host || host.hostaddr || '',
      ...material,
    },
    useTls,
    ...(settings.connectTimeout !== undefined ? { timeoutMs: settings.connectTimeout * 1000 } : {}),
    ...(settings.requireAuth !== undefined ? { requireAuth: settings.requireAuth } : {}),
    channelBinding: settings.channelBinding,
    ...(explicit.protocolVersion !== undefined ? { protocolVersion: explicit.protocolVersion } : {}),
    ...(explicit.maxMessageLength !== undefined ? { maxMessageLength: explicit.maxMessageLength } : {}),
    ...(explicit.keepAlive !== undefined ? { keepAlive: explicit.keepAlive } : {}),
    ...(explicit.signal !== undefined ? { signal: explicit.signal } : {}),
    scram: { ...(explicit.scram?.maxIterations !== undefined ? { maxIterations: explicit.scram.maxIterations } : {}), ...(cache ? { cache } : {}) },
    ...handlers(explicit),
  }
}

function handlers(options: ConnectOptions): SessionHandlers & Pick<OpenOptions, 'trace'> {
  const { onNotification, onNotice, onParameterStatus, onHandlerError, trace } = options
  return { onNotification, onNotice, onParameterStatus, onHandlerError, ...(trace ? { trace } : {}) }
}

