/**
 * What `pglisten bench` and its listener processes say to each other over Node's IPC channel
 * (fork() with serialization 'advanced', so a Float64Array crosses as one). Types only.
 *
 *   bench                          listener process
 *     init (options, channel) ──▶   connects, LISTENs
 *                             ◀──   ready
 *     start (phase)           ──▶   resets its counters and its CPU reading
 *                             ◀──   started        ...then the notifiers send
 *                             ◀──   progress       every 250 ms
 *     (NOTIFY "end <phase>" through the server, after every other NOTIFY has committed)
 *                             ◀──   done (latencies, CPU time)
 *     (disconnect)            ──▶   closes, exits
 */
import type { ConnectOptions } from '../../protocol/io/connect.ts'

export interface InitMessage {
  type: 'init'
  /** Plain data only (no tracer, no functions): it crosses a process boundary. */
  options: ConnectOptions
  channel: string
  /** process.hrtime.bigint() at the bench's start, as text: the zero of the payload stamps. */
  epoch: string
  trace: boolean
}

export type ToListener = InitMessage | { type: 'start'; phase: number }

export type FromListener =
  | { type: 'ready' }
  | { type: 'started'; phase: number }
  | { type: 'progress'; phase: number; received: number }
  | { type: 'done'; phase: number; received: number; latencies: Float64Array; cpuMicros: number; lastNanos: number; gaps: number }
  | { type: 'failed'; message: string }
