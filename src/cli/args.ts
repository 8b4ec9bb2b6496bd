/**
 * pglisten's command line, read into one typed Command. Pure (no I/O, no process) but for a
 * channel name or payload holding U+FFFD, whose bytes ./argument-bytes.ts reads back: imports
 * that, and the strict option parser, the connection options, the listener's channel check,
 * identifier limit and option types (and its backoff, for the default it reads), the
 * protocol's UTF-8 length, the replication protocol's slot name check and LSN text, and the
 * bench's own options. Anything wrong is a UsageError naming the command, quoting what was
 * typed as ./quoted.ts does (never a password).
 */
import type { ParseArgsConfig } from 'node:util'
import { Backoff, type BackoffOptions } from '../listener/backoff.ts'
import type { HeartbeatOptions } from '../listener/liveness.ts'
import { checkChannel, maxIdentifierBytes } from '../listener/sql.ts'
import { utf8Length } from '../protocol/bytes/utf8.ts'
import { checkSlotName } from '../protocol/replication/commands.ts'
import { parseLsn, type Lsn } from '../protocol/replication/lsn.ts'
import { notUtf8 } from './argument-bytes.ts'
import { parseBenchArgs, type BenchCommand } from './bench/args.ts'
import { connectionArgs, connectionOptions, type ConnectionArgs } from './connection-args.ts'
import { UsageError } from './errors.ts'
import { secondsToMs, wholeNumber } from './numbers.ts'
import { parse, shownOption } from './parse.ts'
import { looksLikeConnectionString, mayHoldPassword, quoted } from './quoted.ts'

export const commandNames = ['listen', 'replicate', 'notify', 'bench'] as const
export type CommandName = (typeof commandNames)[number]
/** What `pglisten help` can show the help of: a command, or itself (`pglisten help --help`). */
export type HelpTopic = CommandName | 'help'

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

export interface ReplicateCommand {
  name: 'replicate'
  connection: ConnectionArgs
  slot: string
  /** At least one, each once, as given. */
  publications: string[]
  /** --create: make the slot if it does not exist. */
  create: boolean
  /** --temporary: a slot of this connection's own, dropped by the server when it ends. */
  temporary: boolean
  /** --start: undefined for the slot's confirmed position. */
  start: Lsn | undefined
  /** --messages: pg_logical_emit_message's messages too. */
  messages: boolean
  /** --reconnect-delay and --max-attempts, in ms as the stream takes them (the same backoff as the listener's). */
  reconnect: BackoffOptions
}

export interface NotifyCommand {
  name: 'notify'
  connection: ConnectionArgs
  channel: string
  /** Undefined: one payload per line of standard input. */
  payload: string | undefined
}

export type Command =
  | { name: 'help'; command: HelpTopic | undefined }
  | { name: 'version' }
  /** The bench's listener process: started by `pglisten bench`, never by hand. */
  | { name: 'bench-listener' }
  | ListenCommand
  | ReplicateCommand
  | NotifyCommand
  | BenchCommand

export function parseCommandLine(argv: readonly string[]): Command {
  const [first, ...rest] = argv
  if (first !== undefined && (isCommandName(first) || first === 'help')) {
    // --version is looked for here, not by parseArgs: given a value, refused here as parseArgs
    // refuses --trace=yes; -V=1 too, rather than called unknown, as parseArgs would call it.
    if (optionWords(rest).some((word) => /^(?:--version|-V)=/.test(word))) throw new UsageError(takesNoValue('--version'), first)
    // After a command too (`pglisten listen --version`), as psql takes -V among its options.
    if (asksVersion(rest)) return { name: 'version' }
  }
  switch (first) {
    case undefined:
      throw new UsageError('no command given: listen, replicate, notify or bench')
    case '--help':
    case '-?':
      return { name: 'help', command: undefined }
    case 'help':
      return parseHelp(rest)
    case '--version':
    case '-V':
      return { name: 'version' }
    case 'listen':
      return parseListen(rest)
    case 'replicate':
      return parseReplicate(rest)
    case 'notify':
      return parseNotify(rest)
    case 'bench':
      return parseBenchArgs(rest)
    case 'bench-listener':
      return { name: 'bench-listener' }
    default:
      if (/^(?:--help|--version|-\?|-V)=/.test(first)) throw new UsageError(takesNoValue(first.slice(0, first.indexOf('='))))
      throw new UsageError(first.startsWith('-') ? `unknown option ${optionBefore(first)} before the command` : `there is no command ${quoted(first)}`)
  }
}

/**
 * The option of a word before the command, as typed up to its "=" (`--dbname=...`), or its
 * first letter (`-dshop`, `-wh`); a word that may hold a password only as ./parse.ts shows one.
 */
function optionBefore(word: string): string {
  const option = word.startsWith('--') ? word.split('=')[0]! : word.slice(0, 2)
  const shown = shownOption(option)
  return shown === `'${option}'` ? option : shown
}

function isCommandName(name: string): name is CommandName {
  return (commandNames as readonly string[]).includes(name)
}

/** --version or -V as a word of its own before "--". */
function asksVersion(argv: readonly string[]): boolean {
  return optionWords(argv).some((word) => word === '--version' || word === '-V')
}

/** The words before "--": after it, a word is a channel or a payload, never an option. */
function optionWords(argv: readonly string[]): readonly string[] {
  const end = argv.indexOf('--')
  return end === -1 ? argv : argv.slice(0, end)
}

/** What parseArgs says of a flag given a value (`--trace=yes`), for the two read before it (either name). */
function takesNoValue(flag: string): string {
  return `option '${flag === '--help' || flag === '-?' ? '-?, --help' : '-V, --version'}' does not take an argument`
}

/**
 * `pglisten help [TOPIC]`, a command as the others are: its --help (or -?) shows its own help,
 * whatever else is on the line, as `pglisten listen --help` shows listen's and `git help --help`
 * git-help's; so does `pglisten help help`. Another option is refused as a command refuses one.
 * A topic that is no command is refused with pglisten's own usage as the hint: it lists them.
 */
function parseHelp(argv: readonly string[]): Command {
  const options = optionWords(argv)
  if (options.some((word) => word === '--help' || word === '-?')) return { name: 'help', command: 'help' }
  const withValue = options.find((word) => /^(?:--help|-\?)=/.test(word))
  if (withValue !== undefined) throw new UsageError(takesNoValue('--help'), 'help')
  // Named as parseArgs names one: up to its "=", or its first letter (-xyz is -x -y -z).
  const option = options.find((word) => word.startsWith('-') && word !== '-')
  if (option !== undefined) throw new UsageError(`unknown option ${shownOption(option.startsWith('--') ? option.split('=')[0]! : option.slice(0, 2))}`, 'help')
  const end = argv.indexOf('--')
  const topics = end === -1 ? argv : [...argv.slice(0, end), ...argv.slice(end + 1)]
  const topic = topics[0]
  if (topic === undefined) return { name: 'help', command: undefined }
  if (!isCommandName(topic) && topic !== 'help') throw new UsageError(`there is no command ${quoted(topic)}`)
  if (topics.length > 1) throw new UsageError(`unexpected argument ${quoted(topics[1]!)}: help takes at most one command name`)
  return { name: 'help', command: topic }
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
  const { values, positionals, places } = parse(argv, listenOptions, 'listen')
  if (values['help']) return { name: 'help', command: 'listen' }
  const { connection, rest } = connectionArgs(values, positionals, 'listen')
  const at = placesOf(rest, positionals, places)
  const text = (name: string) => values[name] as string | undefined
  const reconnect = reconnectOptions(text('reconnect-delay'), text('max-attempts'), 'listen')
  const beat = text('heartbeat')
  const interval = beat === undefined ? undefined : secondsToMs('--heartbeat', beat, 'listen', 'none')
  if (rest.length === 0) throw new UsageError('no channel given: pglisten listen [OPTION]... CHANNEL...', 'listen')
  const channels = [...new Set(rest.map((name, i) => channel(name, at[i]!, 'listen')))]
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

/** --reconnect-delay and --max-attempts, as listen and replicate both take them (one Backoff). */
function reconnectOptions(delay: string | undefined, attempts: string | undefined, command: CommandName): BackoffOptions {
  const reconnect = reconnectDelays(delay, command)
  if (attempts !== undefined) reconnect.maxAttempts = wholeNumber('--max-attempts', attempts, 1, Number.MAX_SAFE_INTEGER, command)
  return reconnect
}

/**
 * --reconnect-delay MIN[,MAX] in seconds: the backoff starts at MIN and doubles up to MAX.
 * Without MAX, the backoff's own maximum, or MIN if that is longer.
 */
function reconnectDelays(text: string | undefined, command: CommandName): BackoffOptions {
  if (text === undefined) return {}
  const parts = text.split(',')
  if (parts.length > 2) throw new UsageError(`--reconnect-delay takes MIN or MIN,MAX in seconds, not ${quoted(text)}`, command)
  const minDelay = secondsToMs('--reconnect-delay', parts[0]!, command)
  const maxDelay = parts[1] === undefined ? Math.max(minDelay, new Backoff().maxDelay) : secondsToMs('--reconnect-delay', parts[1], command)
  if (maxDelay < minDelay) throw new UsageError(`--reconnect-delay takes MIN,MAX with MIN no longer than MAX, not ${quoted(text)}`, command)
  return { minDelay, maxDelay }
}

const replicateOptions = {
  ...connectionOptions,
  slot: { type: 'string' },
  publication: { type: 'string', multiple: true },
  create: { type: 'boolean' },
  temporary: { type: 'boolean' },
  start: { type: 'string' },
  messages: { type: 'boolean' },
  'max-attempts': { type: 'string' },
  'reconnect-delay': { type: 'string' },
} as const satisfies ParseArgsConfig['options']

function parseReplicate(argv: string[]): ReplicateCommand | Command {
  const { values, positionals } = parse(argv, replicateOptions, 'replicate')
  if (values['help']) return { name: 'help', command: 'replicate' }
  const { connection, rest } = connectionArgs(values, positionals, 'replicate')
  const text = (name: string) => values[name] as string | undefined
  const reconnect = reconnectOptions(text('reconnect-delay'), text('max-attempts'), 'replicate')
  if (rest.length > 0) throw new UsageError(`unexpected argument ${quoted(rest[0]!)}: replicate takes options and a connection string only`, 'replicate')
  const slot = text('slot')
  if (slot === undefined) throw new UsageError('no slot given: pglisten replicate [OPTION]... --slot=NAME --publication=NAME...', 'replicate')
  // A connection string where a name goes (an option's value forgotten): never quoted back.
  for (const [option, name] of [['--slot', slot], ...((values['publication'] as unknown as string[] | undefined) ?? []).map((p) => ['--publication', p] as const)] as const) {
    if (mayHoldPassword(name)) throw new UsageError(`${option} takes a name, and ${quoted(name)} is a connection string`, 'replicate')
  }
  try {
    checkSlotName(slot)
  } catch (error) {
    throw new UsageError((error as Error).message, 'replicate', { cause: error })
  }
  // parseArgs gives a `multiple` option as an array; the shared Values type does not say so.
  const named = (values['publication'] as unknown as string[] | undefined) ?? []
  if (named.length === 0) throw new UsageError('no publication given: pglisten replicate [OPTION]... --slot=NAME --publication=NAME...', 'replicate')
  if (named.includes('')) throw new UsageError('a publication name must not be empty', 'replicate')
  // As a channel name is checked (../listener/sql.ts): the server truncates a name to
  // NAMEDATALEN - 1 bytes, so no publication has a longer one (the stream would fail on it).
  for (const name of named) {
    const bytes = utf8Length(name)
    if (bytes > maxIdentifierBytes) throw new UsageError(`publication name ${quoted([...name].slice(0, 20).join(''))}... is ${bytes} bytes; PostgreSQL would truncate it to ${maxIdentifierBytes}`, 'replicate')
  }
  const startText = text('start')
  let start: Lsn | undefined
  if (startText !== undefined) {
    try {
      start = parseLsn(startText)
    } catch (error) {
      throw new UsageError(`--start takes an LSN, two hex numbers as in 16/B374D848, not ${quoted(startText)}`, 'replicate', { cause: error })
    }
  }
  return {
    name: 'replicate',
    connection,
    slot,
    publications: [...new Set(named)],
    create: values['create'] === true,
    temporary: values['temporary'] === true,
    start,
    messages: values['messages'] === true,
    reconnect,
  }
}

function parseNotify(argv: string[]): NotifyCommand | Command {
  const { values, positionals, places } = parse(argv, connectionOptions, 'notify')
  if (values['help']) return { name: 'help', command: 'notify' }
  const { connection, rest } = connectionArgs(values, positionals, 'notify')
  const at = placesOf(rest, positionals, places)
  if (rest.length === 0) throw new UsageError('no channel given: pglisten notify [OPTION]... CHANNEL [PAYLOAD]', 'notify')
  if (rest.length > 2) throw new UsageError(`too many arguments: a channel and at most one payload, not ${rest.length} words (quote the payload)`, 'notify')
  const name = channel(rest[0]!, at[0]!, 'notify')
  // Refused as standard input refuses such a line (./lines.ts), rather than sent with U+FFFD in it.
  const badBytes = rest[1] === undefined ? undefined : notUtf8(rest[1], at[1]!)
  if (badBytes !== undefined) throw new UsageError(`the payload argument is not UTF-8: ${badBytes}; nothing was sent`, 'notify')
  return { name: 'notify', connection, channel: name, payload: rest[1] }
}

/**
 * Where each word of `rest` (the positionals after the connection string, if one came first)
 * was on the command line, for ./argument-bytes.ts: `places` count from after the command's name.
 */
function placesOf(rest: string[], positionals: string[], places: number[]): number[] {
  return places.slice(positionals.length - rest.length).map((place) => 1 + place)
}

/**
 * A channel name as the listener takes it: used exactly as given (quoted), never truncated. A
 * connection string is not one: it came after -d or after another argument, and taken as a
 * channel it would be printed in the status line, password and all. Nor are bytes that are not
 * UTF-8 (a Latin-1 terminal's "caf\xe9"): Node hands them over as U+FFFD, and listening on
 * "caf\uFFFD" would hear nothing on the channel meant, without a word; a notification would go
 * to a channel no one named. Refused as the notify payload argument is. `place`: the name's
 * place on the command line (in process.argv.slice(2)), where its bytes are read back.
 */
function channel(name: string, place: number, command: CommandName): string {
  if (looksLikeConnectionString(name)) throw new UsageError(`${quoted(name)} is a connection string, not a channel name: give it once, as the first argument or as -d's value`, command)
  const badBytes = notUtf8(name, place)
  if (badBytes !== undefined) throw new UsageError(`channel name ${quoted(name)} is not UTF-8 as typed: ${badBytes}`, command)
  try {
    return checkChannel(name)
  } catch (error) {
    throw new UsageError((error as Error).message, command, { cause: error })
  }
}
