/**
 * From the command line's connection settings to a connection or listener: the settings are
 * checked before any socket opens, --trace adds a tracer, and a password is asked for the way
 * psql asks. Imports the protocol's options, tracer and its reading of replication, and the
 * command's own modules.
 */
import { homedir, userInfo } from 'node:os'
import { AuthenticationRefusedError, PasswordRequiredError } from '../protocol/errors.ts'
import type { ConnectOptions } from '../protocol/io/connect.ts'
import { readEnvironment } from '../protocol/options/environment.ts'
import { isUnixSocketPath, parseConnectionString, resolveSettings, type Settings } from '../protocol/options/index.ts'
import { KEYWORDS, SECRET_KEYWORDS } from '../protocol/options/keywords.ts'
import type { Tracer } from '../protocol/session.ts'
import { createTracer } from '../protocol/trace/index.ts'
import { replicationCopyBoth } from '../protocol/trace/replication-line.ts'
import { connectOptionsFrom, type ConnectionArgs } from './connection-args.ts'
import { UsageError } from './errors.ts'
import { warning } from './output.ts'
import { canPrompt, readPassword } from './prompt.ts'
import { mayHoldPassword, quoted } from './quoted.ts'
import { terminalSafe } from './terminal.ts'

/**
 * --trace: every message to stderr, one line each, as PQtrace with timestamps (secrets
 * redacted); and, where PQtrace shows bytes, the replication messages inside CopyData, so that
 * `pglisten replicate --trace` shows each XLogData, keepalive and status update by its fields.
 */
export function stderrTracer(): Tracer {
  // The tracer escapes what it quotes already (protocol/trace/line.ts); terminalSafe, which
  // leaves such a line as it is, keeps the promise of terminal.ts for every line whatever it holds.
  return createTracer((line) => process.stderr.write(`${terminalSafe(line)}\n`), { timestamps: true, copyBoth: replicationCopyBoth })
}

/**
 * The settings connect() will use, resolved now so that a malformed connection string or an
 * unknown sslmode is a usage error (exit 2) rather than a failure to connect.
 */
export function checkSettings(options: ConnectOptions, command: string): Settings {
  const env = options.env ?? process.env
  refuseMisplacedPasswords(options, env, command)
  try {
    return resolveSettings(options, { env, homeDir: homedir(), osUser: osUser() })
  } catch (error) {
    if (error instanceof TypeError || error instanceof RangeError) throw new UsageError(error.message, command, { cause: error })
    throw error
  }
}

/**
 * A password where no password belongs: in a PG* variable (PGHOST='postgresql://app:secret@db',
 * PGDATABASE, PGUSER, PGSERVICE...) or in a setting of the connection string
 * ("host=postgresql://app:secret@db"). Refused before anything can quote it back, as -h's is
 * (connection-args.ts): "cannot connect to postgresql://app:secret@db:5432", the server's
 * 'database "..." does not exist', an invalid sslmode "...", the status line's database and user.
 * Only what libpq would use is looked at: a variable is read only for a keyword nothing else set.
 */
function refuseMisplacedPasswords(options: ConnectOptions, env: Readonly<Record<string, string | undefined>>, command: string): void {
  const inString = options.connectionString === undefined ? {} : parseConnectionString(options.connectionString)
  const option = (keyword: string) => KEYWORDS[keyword]?.option
  const isSet = (keyword: string): boolean => Object.hasOwn(inString, keyword) || (option(keyword) !== undefined && options[option(keyword)!] !== undefined)
  const values = Object.entries(inString).map(([keyword, value]) => ({ keyword, value, from: `the connection string's ${keyword}` }))
  for (const [keyword, { value, variable }] of readEnvironment((name) => env[name], isSet)) values.push({ keyword, value, from: variable })
  for (const { keyword, value, from } of values) {
    // Each of a list's elements (PGHOST='db1,app:secret@db2'), where libpq splits one.
    const parts = /^(?:host|hostaddr|port)$/.test(keyword) ? value.split(',') : [value]
    if (SECRET_KEYWORDS.has(keyword) || !parts.some(mayHoldPassword)) continue
    const shown = quoted(value)
    const holds = shown.startsWith('"') ? `one (${shown})` : 'what may be a password'
    throw new UsageError(`${from} takes no connection string, and holds ${holds}: a connection string goes as the first argument, or as -d's value`, command)
  }
}

/** host:port (with the hostaddr it goes to), or the Unix socket's path; a hostaddr means TCP, whatever the host. */
export function endpointText({ host, port, hostaddr }: { host: string; port: number; hostaddr?: string | undefined }): string {
  if (hostaddr === undefined && isUnixSocketPath(host)) return `${host}/.s.PGSQL.${port}`
  return hostaddr !== undefined && hostaddr !== host ? `${bracketed(host)} (${bracketed(hostaddr)}):${port}` : `${bracketed(host)}:${port}`
}

/** An IPv6 address in brackets, as a URL writes it (RFC 3986, section 3.2.2), so that its colons are not taken for the port's. */
function bracketed(host: string): string {
  return host.includes(':') && !isUnixSocketPath(host) ? `[${host}]` : host
}

/** Where the settings point, for a status line. */
export function describeTarget(settings: Settings): string {
  const hosts = settings.hosts.map(endpointText)
  return `${hosts.length > 1 ? `one of ${hosts.join(', ')}` : hosts[0]}, database "${settings.database}" as "${settings.user}"`
}

export interface Opened<T> {
  value: T
  settings: Settings
  /** The password typed at a prompt, if one was: whoever connects again (bench's listeners) needs it. */
  password: string | undefined
}

/**
 * Opens with `open`, asking for a password as psql does: before connecting with -W; with
 * neither -w nor -W, once the server has asked for a password that no option, PG* variable or
 * password file supplied, if standard input is a terminal (then connects again, with it).
 * A new tracer per attempt: a tracer follows one connection's authentication exchange.
 * Warnings (a password file others can read) are the tool's own lines on stderr.
 */
export async function openWithPassword<T>(args: ConnectionArgs, command: string, open: (options: ConnectOptions) => Promise<T>): Promise<Opened<T>> {
  const build = (password: string | undefined): ConnectOptions => {
    const options: ConnectOptions = { ...connectOptionsFrom(args, password), onWarning: warning }
    if (args.trace) options.trace = stderrTracer()
    return options
  }
  const settings = checkSettings(build(undefined), command)
  const ask = () => readPassword(`Password for user ${settings.user}: `)
  let password = args.password === 'prompt' ? await ask() : undefined
  try {
    return { value: await open(build(password)), settings, password }
  } catch (error) {
    if (password !== undefined || args.password === 'never' || !serverWantsPassword(error) || !canPrompt()) throw error
    password = await ask()
    return { value: await open(build(password)), settings, password }
  }
}

/**
 * libpq's PQconnectionNeedsPassword: the server asked and we had nothing to give. The protocol
 * layer says so only in its message, so this matches the message (startup.ts, passwordFor).
 */
function serverWantsPassword(error: unknown): boolean {
  return error instanceof PasswordRequiredError
}

function osUser(): string | undefined {
  try {
    return userInfo().username
  } catch {
    return undefined // no passwd entry (some containers): libpq fails the same way without PGUSER
  }
}
