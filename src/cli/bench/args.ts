/**
 * `pglisten bench`'s command line: how many listeners and notifiers, which payload sizes, how
 * long. Pure: imports the shared parsing and numbers, the payload stamp's width and the
 * server's limit.
 */
import type { ParseArgsConfig } from 'node:util'
import { payloadLimitBytes } from '../../listener/sql.ts'
import { parse } from '../parse.ts'
import { connectionArgs, connectionOptions, type ConnectionArgs } from '../connection-args.ts'
import { UsageError } from '../errors.ts'
import { maxSeconds } from '../numbers.ts'
import { quoted } from '../quoted.ts'
import { stampWidth } from './payload.ts'

export interface BenchCommand {
  name: 'bench'
  connection: ConnectionArgs
  listeners: number
  notifiers: number
  /** Payload sizes in bytes, each measured in turn. */
  payloads: number[]
  /** How much to send per payload size: a number of NOTIFYs, or seconds of sending. */
  amount: { count: number } | { seconds: number }
  /** NOTIFYs sent and received before measuring, so the JIT and the server's caches are warm. */
  warmup: number
  json: boolean
  /** Seconds between progress lines when stderr is not a terminal. */
  progressInterval: number
  /** Measure pglisten/replication instead of LISTEN/NOTIFY: rows inserted, changes decoded. */
  replication: boolean
}

export const benchDefaults = { listeners: 1, notifiers: 1, payloads: [16, 1000], seconds: 5, warmup: 1000, progressInterval: 5 } as const

/** Enough processes to saturate a big machine; more is a typo. */
const maxProcesses = 256

const benchOptions = {
  ...connectionOptions,
  listeners: { type: 'string' },
  notifiers: { type: 'string' },
  payload: { type: 'string' },
  count: { type: 'string' },
  duration: { type: 'string' },
  warmup: { type: 'string' },
  json: { type: 'boolean' },
  'progress-interval': { type: 'string' },
  replication: { type: 'boolean' },
} as const satisfies ParseArgsConfig['options']

export function parseBenchArgs(argv: string[]): BenchCommand | { name: 'help'; command: 'bench' } {
  const { values, positionals } = parse(argv, benchOptions, 'bench')
  if (values['help']) return { name: 'help', command: 'bench' }
  const { connection, rest } = connectionArgs(values, positionals, 'bench')
  if (rest.length > 0) throw new UsageError(`unexpected argument ${quoted(rest[0]!)}: bench takes options and a connection string only`, 'bench')
  const text = (name: string) => values[name] as string | undefined
  if (text('count') !== undefined && text('duration') !== undefined) throw new UsageError('--count and --duration exclude each other', 'bench')
  const count = text('count')
  const duration = text('duration')
  const replication = values['replication'] === true
  if (replication && text('listeners') !== undefined) throw new UsageError('--replication reads with one stream in this process: it takes no --listeners', 'bench')
  return {
    name: 'bench',
    connection,
    listeners: integer('--listeners', text('listeners'), benchDefaults.listeners, 1, maxProcesses),
    notifiers: integer('--notifiers', text('notifiers'), benchDefaults.notifiers, 1, maxProcesses),
    payloads: payloadSizes(text('payload')),
    amount: count !== undefined ? { count: integer('--count', count, 0, 1, Number.MAX_SAFE_INTEGER) } : { seconds: seconds('--duration', duration, benchDefaults.seconds) },
    warmup: integer('--warmup', text('warmup'), benchDefaults.warmup, 0, Number.MAX_SAFE_INTEGER),
    json: values['json'] === true,
    progressInterval: seconds('--progress-interval', text('progress-interval'), benchDefaults.progressInterval),
    replication,
  }
}

function integer(option: string, text: string | undefined, fallback: number, min: number, max: number, why = ''): number {
  if (text === undefined) return fallback
  const value = /^\d+$/.test(text.trim()) ? Number(text) : NaN
  if (!(value >= min && value <= max)) throw new UsageError(`${option} takes a whole number from ${min} to ${max}${why}, not ${quoted(text)}`, 'bench')
  return value
}

/** Seconds above 0, up to the day every command's times stop at (../numbers.ts); the error names the bound passed. */
function seconds(option: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback
  const value = /^\d*\.?\d+$/.test(text.trim()) ? Number(text) : NaN
  if (value > maxSeconds) throw new UsageError(`${option} takes a number of seconds up to ${maxSeconds}, not ${quoted(text)}`, 'bench')
  if (!(value > 0)) throw new UsageError(`${option} takes a number of seconds above 0, not ${quoted(text)}`, 'bench')
  return value
}

/**
 * Each size must hold the send time the payload carries (./payload.ts) and stay under the
 * server's limit, 8000 bytes; a repeated size is measured once.
 */
function payloadSizes(text: string | undefined): number[] {
  if (text === undefined) return [...benchDefaults.payloads]
  const why = ` (each payload carries its ${stampWidth}-digit send time; PostgreSQL takes under ${payloadLimitBytes} bytes)`
  const sizes = text.split(',').map((part) => integer('--payload', part, 0, stampWidth, payloadLimitBytes - 1, why))
  return [...new Set(sizes)]
}
