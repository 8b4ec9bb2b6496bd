/**
 * Connecting the libpq way. Settings come from explicit options, then a connection string,
 * then PG* variables, then libpq's defaults (../options). Each host is tried in turn, each with
 * its own connect_timeout; sslmode decides whether TLS is tried first (prefer) or second
 * (allow); target_session_attrs is checked once a session is up (libpq's fe-connect.c).
 */
import { homedir, userInfo } from 'node:os'
import { SaltedPasswordCache } from '../auth/salted-password-cache.ts'
import { ConnectionLostError, DatabaseError } from '../errors.ts'
import type { ProtocolVersion } from '../frontend.ts'
import { isUnixSocketPath, resolveSettings, type ConnectionOptions, type HostTarget, type Settings } from '../options/index.ts'
import type { SessionHandlers, Tracer } from '../session.ts'
import { Connection, type OpenOptions } from './connection.ts'
import { loadTlsMaterial, passwordFromFile } from './files.ts'
import type { TlsSettings } from './link.ts'
import { describeEndpoint } from './node-link.ts'
import { checkTargetSession } from './target-session.ts'

export interface ConnectOptions extends ConnectionOptions, SessionHandlers {
  /** Where PG* variables come from; default process.env. */
  env?: Readonly<Record<string, string | undefined>>
  /** Protocol version to ask for; default 3.2. */
  protocolVersion?: ProtocolVersion
  /** The largest message length accepted from the server; default 64 MiB. */
  maxMessageLength?: number
  scram?: {
    maxIterations?: number
    /** Salted passwords kept across connections; default a cache shared by the process, null for none. */
    cache?: SaltedPasswordCache | null
  }
  /** Sees every protocol message sent and received (pglisten --trace). */
  trace?: Tracer
  /** TCP keepalive: probe an idle connection after this many milliseconds. Default: off. */
  keepAlive?: number
  /** Warnings libpq would print (a password file others can read); default process.emitWarning. */
  onWarning?(message: string): void
  onClose?(error: Error | undefined): void
}

/** Reconnects skip PBKDF2 (issue: "a cache of the SCRAM salted password"). */
const sharedCache = new SaltedPasswordCache()

/** Opens a connection as libpq would: the first host that connects and suits target_session_attrs. */
export async function connect(options: ConnectOptions | string = {}): Promise<Connection> {
  const explicit: ConnectOptions = typeof options === 'string' ? { connectionString: options } : options
  const settings = resolveSettings(explicit, { env: explicit.env ?? process.env, homeDir: homedir(), osUser: osUser() })
  const warn = explicit.onWarning ?? ((message: string) => process.emitWarning(message, 'PgListenWarning'))
  const material = await loadTlsMaterial(settings)
  const failures: { where: string; error: unknown }[] = []
  // prefer-standby: a first pass wants a standby; if none answers, any server will do.
  const passes = settings.targetSessionAttrs === 'prefer-standby' ? (['standby', 'any'] as const) : [settings.targetSessionAttrs]
  for (const want of passes) {
    for (const host of settings.hosts) {
      const where = describeEndpoint(host)
      try {
        const connection = await connectHost(host, settings, explicit, material, warn)
        const mismatch = await checkTargetSession(connection, want)
        if (mismatch === undefined) return connection
        await connection.close()
        failures.push({ where, error: new ConnectionLostError(`${mismatch} (target_session_attrs=${settings.targetSessionAttrs})`) })
      } catch (error) {
        failures.push({ where, error })
      }
    }
  }
  if (failures.length === 1) throw failures[0]!.error
  const summary = failures.map(({ where, error }) => `${where}: ${error instanceof Error ? error.message : String(error)}`).join('; ')
  throw new ConnectionLostError(`could not connect to any of ${settings.hosts.length} hosts: ${summary}`, { cause: failures.at(-1)!.error })
}

/**
 * One host, with sslmode's second chance: allow tries plain then TLS, prefer tries TLS then
 * plain, in each case only when the server refused the first attempt with an ErrorResponse
 * during startup (libpq: "retry with/without SSL"). Stronger modes have no second chance.
 */
async function connectHost(
  host: HostTarget,
  settings: Settings,
  explicit: ConnectOptions,
  material: Pick<TlsSettings, 'ca' | 'cert' | 'key'>,
  warn: (message: string) => void,
): Promise<Connection> {
  // libpq never uses TLS over a Unix socket, whatever the sslmode: one plain attempt.
  const unix = isUnixSocketPath(host.host)
  const order = unix || settings.sslmode === 'disable' ? [false] : settings.sslmode === 'allow' ? [false, true] : settings.sslmode === 'prefer' ? [true, false] : [true]
  let firstError: unknown
  for (const useTls of order) {
    try {
      return await Connection.open(openOptions(host, settings, explicit, material, useTls, warn))
    } catch (error) {
      firstError ??= error
      if (!(error instanceof DatabaseError)) throw error
    }
  }
  throw firstError
}

function openOptions(
  host: HostTarget,
  settings: Settings,
  explicit: ConnectOptions,
  material: Pick<TlsSettings, 'ca' | 'cert' | 'key'>,
  useTls: boolean,
  warn: (message: string) => void,
): OpenOptions {
  const { user, database } = settings
  const parameters: Record<string, string> = {}
  if (settings.applicationName !== undefined) parameters['application_name'] = settings.applicationName
  if (settings.options !== undefined) parameters['options'] = settings.options
  const cache = explicit.scram?.cache === null ? undefined : (explicit.scram?.cache ?? sharedCache)
  return {
    host: host.host,
    port: host.port,
    ...(host.hostaddr !== undefined ? { hostaddr: host.hostaddr } : {}),
    user,
    database,
    // libpq reads the password file only when no password was given; we read it only if asked.
    password: settings.password ?? (() => passwordFromFile(settings.passfile, { ...host, database, user }, warn)),
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
    scram: { ...(explicit.scram?.maxIterations !== undefined ? { maxIterations: explicit.scram.maxIterations } : {}), ...(cache ? { cache } : {}) },
    ...handlers(explicit),
  }
}

function handlers(options: ConnectOptions): SessionHandlers & Pick<OpenOptions, 'onClose' | 'trace'> {
  const { onNotification, onNotice, onParameterStatus, onHandlerError, onClose, trace } = options
  return { onNotification, onNotice, onParameterStatus, onHandlerError, onClose, ...(trace ? { trace } : {}) }
}

function osUser(): string | undefined {
  try {
    return userInfo().username
  } catch {
    return undefined
  }
}
