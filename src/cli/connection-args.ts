/**
 * The connection part of every command line, as psql reads it: -h, -p, -U, -d, -w, -W, and a
 * connection string (URL or keyword=value) in -d or as the first argument; and
 * --connect-timeout. Pure: imports node:util's parseArgs types and the protocol's
 * connection-string parser.
 *
 * Precedence is psql's (libpq's PQconnectdbParams with expand_dbname, where psql passes host,
 * port and user before dbname): a setting the connection string makes wins over -h, -p, -U;
 * those win over the PG* variables, which connect() reads as usual. --connect-timeout is
 * pg_isready's -t: passed after dbname, so it wins over the connection string's.
 */
import type { ParseArgsConfig } from 'node:util'
import type { ConnectOptions } from '../protocol/io/connect.ts'
import { isConnectionString, parseConnectionString } from '../protocol/options/index.ts'
import { UsageError } from './errors.ts'
import { maxSeconds, wholeNumber } from './numbers.ts'
import type { Values } from './parse.ts'
import { looksLikeConnectionString, looksLikeUrl, mayHoldPassword, quoted, scheme } from './quoted.ts'

/** The options every command takes (--help and -? too). */
export const connectionOptions = {
  host: { type: 'string', short: 'h' },
  port: { type: 'string', short: 'p' },
  username: { type: 'string', short: 'U' },
  dbname: { type: 'string', short: 'd' },
  'no-password': { type: 'boolean', short: 'w' },
  password: { type: 'boolean', short: 'W' },
  'connect-timeout': { type: 'string' },
  trace: { type: 'boolean' },
  // -? as psql takes it, and as `pglisten -?` does before a command.
  help: { type: 'boolean', short: '?' },
} as const satisfies ParseArgsConfig['options']

export interface ConnectionArgs {
  /** A URL or keyword=value string, from -d or the first argument. */
  conninfo?: string
  host?: string
  port?: string
  user?: string
  /** A plain database name (-d that is not a connection string). */
  database?: string
  /** -W: ask before connecting; -w: never ask; otherwise ask if the server wants one and a terminal can answer. */
  password: 'prompt' | 'never' | 'when-needed'
  /** --connect-timeout: libpq's connect_timeout, whole seconds; 0 waits forever. */
  connectTimeout?: number
  /**
   * "pglisten listen", "pglisten notify", "pglisten bench": libpq's fallback_application_name,
   * as psql's is "psql", so that pg_stat_activity tells the sessions apart. An
   * application_name set anywhere (the connection string, PGAPPNAME) wins.
   */
  applicationName: string
  trace: boolean
}

/**
 * Takes the connection settings out of parsed options and positionals; returns them with the
 * positionals left over. When -d is given, every positional is the command's own (so a channel
 * named "a=b" can be listened on); otherwise a first positional that is a URL or holds an '='
 * is the connection string, as libpq's recognized_connection_string decides.
 */
export function connectionArgs(values: Values, positionals: string[], command: string): { connection: ConnectionArgs; rest: string[] } {
  const text = (name: string): string | undefined => (typeof values[name] === 'string' ? (values[name] as string) : undefined)
  if (values['password'] && values['no-password']) throw new UsageError('-W (--password) and -w (--no-password) contradict each other', command)
  const connection: ConnectionArgs = {
    password: values['password'] ? 'prompt' : values['no-password'] ? 'never' : 'when-needed',
    applicationName: `pglisten ${command}`,
    trace: values['trace'] === true,
  }
  const timeout = text('connect-timeout')
  // Whole seconds, as libpq takes them; 0 is libpq's "wait forever".
  if (timeout !== undefined) connection.connectTimeout = wholeNumber('--connect-timeout', timeout, 0, maxSeconds, command, 'a whole number of seconds', 'wait forever')
  for (const [name, field] of [['host', 'host'], ['port', 'port'], ['username', 'user']] as const) {
    const value = text(name)
    // A connection string pasted after -h: libpq expands only dbname, and a failure to connect
    // would quote it back, password and all: `could not translate host name "postgresql://app:secret@db"`.
    if (value !== undefined && mayHoldPassword(value)) {
      throw new UsageError(`--${name} takes no connection string, and ${quoted(value)} is one: give it as the first argument, or as -d's value`, command)
    }
    if (value !== undefined) connection[field] = value
  }
  let rest = positionals
  const dbname = text('dbname')
  const first = dbname ?? positionals[0]
  if (first !== undefined && mistypedUrl(first)) {
    throw new UsageError(`invalid connection string: it begins "${scheme(first)}", and a URL begins "postgresql://" or "postgres://"`, command)
  }
  // -d's value is no connection string libpq takes, yet it holds a password ("postgresql+
  // psycopg2://app:secret@db", " postgresql://..." after a space): taken for a database name,
  // the server would quote it back, and --trace would show it in the StartupMessage.
  if (dbname !== undefined && !isConnectionString(dbname) && mayHoldPassword(dbname)) {
    throw new UsageError(`invalid connection string: ${quoted(dbname)} is none libpq takes; a URL begins "postgresql://" or "postgres://"`, command)
  }
  if (dbname !== undefined) {
    if (isConnectionString(dbname)) connection.conninfo = dbname
    else connection.database = dbname
  } else if (positionals[0] !== undefined && isConnectionString(positionals[0])) {
    connection.conninfo = positionals[0]
    rest = positionals.slice(1)
  }
  if (connection.conninfo !== undefined) {
    try {
      parseConnectionString(connection.conninfo)
    } catch (error) {
      throw new UsageError((error as Error).message, command, { cause: error })
    }
  }
  return { connection, rest }
}

/**
 * A URL with its colon or a slash missing (`postgres//app@db/shop`, `postgresql:/db`): not a
 * URL to libpq, which would take it as a database name (or, with an '=' in its query, as
 * keyword=value settings), and we as a channel or one word too many; yet clearly meant as a
 * URL. Only the scheme is quoted back: the rest may hold a password.
 */
function mistypedUrl(word: string): boolean {
  // libpq's URI prefixes (uri_prefix_length), matched as it matches them: exactly.
  return looksLikeUrl(word) && !/^postgres(?:ql)?:\/\//.test(word)
}

/**
 * The options for connect() or a listener. -h, -p, -U and -d give way to whatever the
 * connection string sets (an empty value in it counts as set, as in libpq); --connect-timeout
 * does not. The fallback application name says which command this is.
 */
export function connectOptionsFrom(args: ConnectionArgs, password?: string): ConnectOptions {
  const inString = args.conninfo === undefined ? {} : parseConnectionString(args.conninfo)
  const options: ConnectOptions = { fallbackApplicationName: args.applicationName }
  if (args.conninfo !== undefined) options.connectionString = args.conninfo
  if (args.connectTimeout !== undefined) options.connectTimeout = args.connectTimeout
  const flags = [['host', 'host', args.host], ['port', 'port', args.port], ['user', 'user', args.user], ['dbname', 'database', args.database]] as const
  for (const [keyword, option, value] of flags) {
    if (value !== undefined && inString[keyword] === undefined) options[option] = value
  }
  // Typed at a prompt just now: it wins over any other source.
  if (password !== undefined) options.password = password
  return options
}
