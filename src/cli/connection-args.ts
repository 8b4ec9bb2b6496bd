/**
 * The connection part of every command line, as psql reads it: -h, -p, -U, -d, -w, -W, and a
 * connection string (URL or keyword=value) in -d or as the first argument. Pure: imports
 * node:util's parseArgs types and the protocol's connection-string parser.
 *
 * Precedence is psql's (libpq's PQconnectdbParams with expand_dbname, where psql passes host,
 * port and user before dbname): a setting the connection string makes wins over -h, -p, -U;
 * those win over the PG* variables, which connect() reads as usual.
 */
import type { ParseArgsConfig } from 'node:util'
import type { ConnectOptions } from '../protocol/io/connect.ts'
import { isConnectionString, parseConnectionString } from '../protocol/options/index.ts'
import { UsageError } from './errors.ts'
import type { Values } from './parse.ts'

/** The options every command takes (--help too). */
export const connectionOptions = {
  host: { type: 'string', short: 'h' },
  port: { type: 'string', short: 'p' },
  username: { type: 'string', short: 'U' },
  dbname: { type: 'string', short: 'd' },
  'no-password': { type: 'boolean', short: 'w' },
  password: { type: 'boolean', short: 'W' },
  trace: { type: 'boolean' },
  help: { type: 'boolean' },
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
    trace: values['trace'] === true,
  }
  for (const [name, field] of [['host', 'host'], ['port', 'port'], ['username', 'user']] as const) {
    const value = text(name)
    if (value !== undefined) connection[field] = value
  }
  let rest = positionals
  const dbname = text('dbname')
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
 * The options for connect() or a listener. -h, -p, -U and -d give way to whatever the
 * connection string sets (an empty value in it counts as set, as in libpq). The application
 * name defaults to "pglisten", as psql's does to "psql", so pg_stat_activity says who we are.
 */
export function connectOptionsFrom(args: ConnectionArgs, password?: string): ConnectOptions {
  const inString = args.conninfo === undefined ? {} : parseConnectionString(args.conninfo)
  const options: ConnectOptions = { fallbackApplicationName: 'pglisten' }
  if (args.conninfo !== undefined) options.connectionString = args.conninfo
  const flags = [['host', 'host', args.host], ['port', 'port', args.port], ['user', 'user', args.user], ['dbname', 'database', args.database]] as const
  for (const [keyword, option, value] of flags) {
    if (value !== undefined && inString[keyword] === undefined) options[option] = value
  }
  // Typed at a prompt just now: it wins over any other source.
  if (password !== undefined) options.password = password
  return options
}
