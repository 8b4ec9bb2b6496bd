/**
 * pglisten's command line, read into one typed Command. Pure (no I/O, no process): imports
 * the strict option parser, the connection options, the listener's channel check, and the
 * bench's own options. Anything wrong is a UsageError naming the command.
 */
import type { ParseArgsConfig } from 'node:util'
import { checkChannel } from '../listener/sql.ts'
import { parseBenchArgs, type BenchCommand } from './bench/args.ts'
import { connectionArgs, connectionOptions, type ConnectionArgs } from './connection-args.ts'
import { UsageError } from './errors.ts'
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

const listenOptions = {
  ...connectionOptions,
  'json-payload': { type: 'boolean' },
  gaps: { type: 'boolean' },
} as const satisfies ParseArgsConfig['options']

function parseListen(argv: string[]): ListenCommand | Command {
  const { values, positionals } = parse(argv, listenOptions, 'listen')
  if (values['help']) return { name: 'help', command: 'listen' }
  const { connection, rest } = connectionArgs(values, positionals, 'listen')
  if (rest.length === 0) throw new UsageError('no channel given: pglisten listen [OPTION]... CHANNEL...', 'listen')
  const channels = [...new Set(rest.map((name) => channel(name, 'listen')))]
  return { name: 'listen', connection, channels, jsonPayload: values['json-payload'] === true, gaps: values['gaps'] === true }
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
