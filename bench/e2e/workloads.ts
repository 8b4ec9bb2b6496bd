/**
 * What the end-to-end benchmark measures: the workloads, the payloads the notifiers send, and
 * the report every listener process (Node or C) prints. Shared by the runner, the Node listener
 * child and, by convention, libpq-listener.c. Pure: no imports.
 *
 * Payloads. PostgreSQL folds identical notifications (same channel and payload) sent in one
 * transaction into one (NOTIFY docs), so 200,000 *distinct* notifications from one transaction
 * cannot have empty payloads. Against the real server the smallest payload is therefore a
 * 8-digit counter: the decimal of sender * 10,000,000 + sequence, left-padded with '0' to the
 * payload size. Its last 8 characters let a listener check that each sender's notifications
 * arrived exactly once and in order. The fake server has no such rule and sends truly empty
 * payloads.
 */

export type ClientName = 'pglisten' | 'pglisten-iter' | 'pg' | 'postgres.js' | 'libpq'

export const clientNames: readonly ClientName[] = ['pglisten', 'pglisten-iter', 'pg', 'postgres.js', 'libpq']

export const clientLabels: Record<ClientName, string> = {
  pglisten: 'pglisten',
  'pglisten-iter': 'pglisten (for await)',
  pg: 'node-postgres',
  'postgres.js': 'postgres.js',
  libpq: 'libpq (C)',
}

/** The smallest distinct payload against a real server: the 8-digit counter alone. */
export const counterDigits = 8
export const senderBase = 10_000_000

export type Workload =
  /** One or more transactions in parallel, `count` notifications in all, from the real server. */
  | { kind: 'server'; payload: number; senders: number; count: number; warmup: number }
  /** One NOTIFY at a time: send, wait for the listener's receipt, repeat. */
  | { kind: 'latency'; count: number; warmup: number }
  /** The scripted fake server writes notifications as fast as the socket drains. */
  | { kind: 'ceiling'; payload: number; count: number; warmup: number }
  /** One transaction of `count` from the real server; the listener samples its RSS `samples` times. */
  | { kind: 'flood'; payload: number; count: number; warmup: number; samples: number }

export function workloadId(w: Workload): string {
  switch (w.kind) {
    case 'server':
      return `server-${w.payload}B-${w.senders}x`
    case 'latency':
      return 'latency'
    case 'ceiling':
      return `ceiling-${w.payload}B`
    case 'flood':
      return `flood-${w.payload}B`
  }
}

/**
 * What a listener process is told to do. mode 'stream': receive `warmup` notifications, print
 * "warm", receive `count` more, print the report. mode 'latency': the same, printing "a" after
 * each notification, whose payload is the sender's CLOCK_MONOTONIC time in nanoseconds.
 * check 'seq': every payload has `payload` characters and ends in the counter, in order per
 * sender; 'length': only the length is checked (the fake server's payloads carry no counter).
 */
export interface ListenSpec {
  client: ClientName
  mode: 'stream' | 'latency'
  warmup: number
  count: number
  check: 'seq' | 'length' | 'none'
  payload: number
  /** Sample RSS this many times, evenly by notifications received, in the measured phase; 0: never. */
  samples: number
  server: ServerAddress
  channel: string
}

export type Sample = [ms: number, rssKb: number, received: number]

export interface ServerAddress {
  host: string
  port: number
  user: string
  password?: string
  database: string
}

/** The one JSON line a listener process prints at the end. Times are CLOCK_MONOTONIC ns. */
export interface ListenerReport {
  client: ClientName
  /** Notifications received in the measured phase. */
  received: number
  /** Payloads of the wrong length, and counters out of order, in the measured phase. */
  errors: number
  /** When the first and the last notification of the measured phase reached user code. */
  firstNs: number
  lastNs: number
  /** CPU time of the listener process, from the end of warm-up to the last notification. */
  userUs: number
  systemUs: number
  /** getrusage's ru_maxrss: the process's peak resident set, in KiB. */
  maxRssKb: number
  /** Resident set when LISTEN was acknowledged, before any notification. */
  readyRssKb: number
  /** latency mode: receipt time minus the sender's time in the payload, per notification. */
  latenciesNs?: number[]
  /** samples > 0: [ms since the measured phase began, resident KiB, notifications received], from 0 received on. */
  samples?: Sample[]
  /** Set when the process was stopped before the end (a timeout). */
  incomplete?: boolean
}

/** The SQL one notifier runs: `count` notifications from one transaction, sender number `sender`. */
export function floodSql(channel: string, payload: number, sender: number, count: number): string {
  if (count >= senderBase || sender < 1 || sender > 9) throw new RangeError('the payload counter holds senders 1-9 and 7 digits of sequence')
  const width = Math.max(payload, counterDigits)
  // count(...) so that the notifier gets one row back, not one per notification.
  return `SELECT count(pg_notify('${channel}', lpad((${sender * senderBase} + g)::text, ${width}, '0'))) ` +
    `FROM generate_series(1, ${count}) AS g`
}

/** The payload size a server workload really sends (the counter is at least 8 bytes). */
export const serverPayloadBytes = (payload: number) => Math.max(payload, counterDigits)
