/**
 * pglisten's command line, read into one typed Command. Pure (no I/O, no process): imports
 * the strict option parser, the connection options, the listener's channel check and option
 * types (and its backoff, for the default it reads), and the bench's own options. Anything
 * wrong is a UsageError naming the command.
 */
import type { ParseArgsConfig } from 'node:util'
import { Backoff, type BackoffOptions } from '../listener/backoff.ts'
import type { HeartbeatOptions } from '../listener/liveness.ts'
import { checkChannel } from '../listener/sql.ts'
import { parseBenchArgs, type BenchCommand } from './bench/args.ts'
import { connectionArgs, connectionOptions, type ConnectionArgs } from './connection-args.ts'
import { UsageError } from './errors.ts'
import { secondsToMs, wholeNumber } from './numbers.ts'
import { parse } from './parse.ts'

export const commandNames = ['listen', 'notify', 'bench'] as const
export type CommandName = (typeof commandNames)[number]

export interface ListenCommand {
  name: 'listen'
  connection: ConnectionArgs
  channels: string[]
  /** Print payloads as the JSON value they hold (raw text and payload_error when they hold none). */
  jsonPayload: boolean
  /** Also print {"gap":{...}} lines on stdout. */
  gaps: boolean
  /** --reconnect-delay and --max-attempts, in ms as the listener takes them; what is not given is the listener's default. */
  reconnect: BackoffOptions
  /** --heartbeat: undefined for the listener's default, false for 0 (none). */
  heartbeat: HeartbeatOptions | false | undefined
}

export interface NotifyCommand {
  name: 'notify'
  connection: ConnectionArgs
  channel: string
  /** Undefined: one payload per line of standard input. */
  payload: string | undefined
}

export type Command =
  | { name: 'help'; command: CommandName | undefined }
  | { name: 'version' }
  /** The bench's listener process: started by `pglisten bench`, never by hand. */
  | { name: 'bench-listener' }
  | ListenCommand
  | NotifyCommand
  | BenchCommand

export function parseCommandLine(argv: readonly string[]): Command {
  const [first, ...rest] = argv
  // After a command too (`pglisten listen --version`), as psql takes -V among its options.
  if (first !== undefined && isCommandName(first) && asksVersion(rest)) return { name: 'version' }
  switch (first) {
    case undefined:
      throw new UsageError('no command given: listen, notify or bench')
    case '--help':
    case '-?':
      return { name: 'help', command: undefined }
    case 'help': {
      const topic = rest[0]
      if (topic === undefined) return { name: 'help', command: undefined }
      if (!isCommandName(topic)) throw new UsageError(`there is no command "${topic}"`)
      return { name: 'help', command: topic }
    }
    case '--version':
    case '-V':
      return { name: 'version' }
    case 'listen':
      return parseListen(rest)
    case 'notify':
      return parseNotify(rest)
    case 'bench':
      return parseBenchArgs(rest)
    case 'bench-listener':
      return { name: 'bench-listener' }
    default:
      throw new UsageError(first.startsWith('-') ? `unknown option ${first} before the command` : `there is no command "${first}"`)
  }
}

function isCommandName(name: string): name is CommandName {
  return (commandNames as readonly string[]).includes(name)
}

/** --version or -V as a word of its own before "--" (after it, a word is a channel or a payload). */
function asksVersion(argv: readonly string[]): boolean {
  const end = argv.indexOf('--')
  return (end === -1 ? argv : argv.slice(0, end)).some((word) => word === '--version' || word === '-V')
}

const listenOptions = {
  ...connectionOptions,
  'json-payload': { type: 'boolean' },
  gaps: { type: 'boolean' },
  'max-attempts': { type: 'string' },
  'reconnect-delay': { type: 'string' },
  heartbeat: { type: 'string' },
} as const satisfies ParseArgsConfig['options']

function parseListen(argv: string[]): ListenCommand | Command {
  const { values, positionals } = parse(argv, listenOptions, 'listen')
  if (values['help']) return { name: 'help', command: 'listen' }
  const { connection, rest } = connectionArgs(values, positionals, 'listen')
  const text = (name: string) => values[name] as string | undefined
  const reconnect = reconnectDelays(text('reconnect-delay'))
  const attempts = text('max-attempts')
  if (attempts !== undefined) reconnect.maxAttempts = wholeNumber('--max-attempts', attempts, 1, Number.MAX_SAFE_INTEGER, 'listen')
  const beat = text('heartbeat')
  const interval = beat === undefined ? undefined : secondsToMs('--heartbeat', beat, 'listen', 'none')
  if (rest.length === 0) throw new UsageError('no channel given: pglisten listen [OPTION]... CHANNEL...', 'listen')
  const channels = [...new Set(rest.map((name) => channel(name, 'listen')))]
  return {
    name: 'listen',
    connection,
    channels,
    jsonPayload: values['json-payload'] === true,
    gaps: values['gaps'] === true,
    reconnect,
    heartbeat: interval === undefined ? undefined : interval === 0 ? false : { interval },
  }
}

/**
 * --reconnect-delay MIN[,MAX] in seconds: the listener's backoff starts at MIN and doubles up
 * to MAX. Without MAX, the listener's own maximum, or MIN if that is longer.
 */
function reconnectDelays(text: string | undefined): BackoffOptions {
  if (text === undefined) return {}
  const parts = text.split(',')
  if (parts.length > 2) throw new UsageError(`--reconnect-delay takes MIN or MIN,MAX in seconds, not "${text}"`, 'listen')
  const minDelay = secondsToMs('--reconnect-delay', parts[0]!, 'listen')
  const maxDelay = parts[1] === undefined ? Math.max(minDelay, new Backoff().maxDelay) : secondsToMs('--reconnect-delay', parts[1], 'listen')
  if (maxDelay < minDelay) throw new UsageError(`--reconnect-delay takes MIN,MAX with MIN no longer than MAX, not "${text}"`, 'listen')
  return { minDelay, maxDelay }
}

function parseNotify(argv: string[]): NotifyCommand | Command {
  const { values, positionals } = parse(argv, connectionOptions, 'notify')
  if (values['help']) return { name: 'help', command: 'notify' }
  const { connection, rest } = connectionArgs(values, positionals, 'notify')
  if (rest.length === 0) throw new UsageError('no channel given: pglisten notify [OPTION]... CHANNEL [PAYLOAD]', 'notify')
  if (rest.length > 2) throw new UsageError(`too many arguments: a channel and at most one payload, not ${rest.length} words (quote the payload)`, 'notify')
  return { name: 'notify', connection, channel: channel(rest[0]!, 'notify'), payload: rest[1] }
}

/** A channel name as the listener takes it: used exactly as given (quoted), never truncated. */
function channel(name: string, command: CommandName): string {
  try {
    return checkChannel(name)
  } catch (error) {
    throw new UsageError((error as Error).message, command, { cause: error })
  }
}
