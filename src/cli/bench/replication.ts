/**
 * `pglisten bench --replication`: the durable change stream's pace. A table and a publication
 * of the bench's own, a temporary slot, M writer connections inserting rows (100 per
 * transaction) of each payload size, and one replicate() stream decoding them. Reports changes
 * decoded per second and the lag from each commit to its changes being handed over. Imports
 * the protocol's Connection, replicate(), and the bench's report helpers.
 */
import type { ConnectOptions } from '../../protocol/io/connect.ts'
import type { Connection } from '../../protocol/io/connection.ts'
import { ReplicationStream } from '../../replication/stream.ts'
import type { ReplicationChange } from '../../replication/changes.ts'
import { emitMessage } from '../../replication/admin.ts'
import { alignedTable, wrap } from './report.ts'
import { percentiles, type Percentiles } from './stats.ts'

/** Rows per writer transaction: a transaction's overhead (BEGIN, COMMIT) shared by many rows. */
export const rowsPerTransaction = 100
/** The prefix of the message that ends a phase: every row committed before it has been decoded once it comes. */
const endPrefix = `pglisten.bench.end.${process.pid}`

export interface ReplicationPhase {
  payloadBytes: number
  rows: number
  /** From the first INSERT sent to the phase's last change handed over. */
  seconds: number
  changesPerSecond: number
  /** Milliseconds from each transaction's commit time (the server's clock) to its rows being handed over (ours). */
  lag: Percentiles
  partial?: boolean
}

export interface ReplicationBenchOptions {
  connect(options: ConnectOptions): Promise<Connection>
  options: ConnectOptions
  writers: readonly Connection[]
  payloads: readonly number[]
  amount: { count: number } | { seconds: number }
  /** Stops sending in the current phase (a signal came); no phase starts after it. */
  stopped(): boolean
  progress(line: string): void
}

/** Runs every phase on a table made for the bench, and removes the table, publication and slot after. */
export async function benchReplication(o: ReplicationBenchOptions): Promise<ReplicationPhase[]> {
  const name = `pglisten_bench_${process.pid}`
  const [admin] = o.writers
  await admin!.query(`CREATE TABLE ${name} (id bigserial PRIMARY KEY, payload pg_catalog.text); CREATE PUBLICATION ${name} FOR TABLE ${name}`)
  const stream = new ReplicationStream({ connection: o.options, slot: name, publications: [name], temporary: true, messages: true }, o.connect)
  try {
    await stream.ready
    const changes = stream[Symbol.asyncIterator]()
    const phases: ReplicationPhase[] = []
    for (const [i, size] of o.payloads.entries()) {
      if (o.stopped()) break
      const phase = await runPhase(o, name, size, i + 1, changes)
      o.progress(`pglisten: bench: replication, ${size} B${phase.partial ? ' (partial)' : ''}: ${phase.rows} rows, ${Math.round(phase.changesPerSecond)} changes/s, lag p50 ${phase.lag.p50.toFixed(1)} ms`)
      phases.push(phase)
    }
    return phases
  } finally {
    await stream.close()
    await admin!.query(`DROP PUBLICATION IF EXISTS ${name}; DROP TABLE IF EXISTS ${name}`)
  }
}

async function runPhase(o: ReplicationBenchOptions, table: string, size: number, id: number, changes: AsyncIterator<ReplicationChange>): Promise<ReplicationPhase> {
  const deadline = 'seconds' in o.amount ? performance.now() + o.amount.seconds * 1000 : Infinity
  /** Rows still to insert: exactly --count, the last transaction taking what is left. */
  let remaining = 'count' in o.amount ? o.amount.count : Infinity
  let partial = false
  /** The rows of a writer's next transaction; 0 when the phase has no more. */
  const take = (): number => {
    if (remaining <= 0 || performance.now() >= deadline) return 0
    if (o.stopped()) {
      partial = true
      return 0
    }
    const rows = Math.min(rowsPerTransaction, remaining)
    remaining -= rows
    return rows
  }
  const start = performance.now()
  const writing = Promise.all(o.writers.map(async (writer) => {
    for (let rows = take(); rows > 0; rows = take()) await writer.query(insertRows(table, size, rows))
  })).then(() => emitMessage(o.writers[0]!, endPrefix, String(id)))
  // A writer that fails ends the phase at once: the end message it would have led to never comes.
  const failed = writing.then(() => new Promise<never>(() => undefined))
  failed.catch(() => undefined) // raced below; a failure after the race is over is the writers' own
  const lags: number[] = []
  let last = start
  try {
    for (;;) {
      const next = await Promise.race([changes.next(), failed])
      if (next.done) throw new Error('the replication stream ended during the bench')
      const change = next.value
      if (change.kind === 'insert') {
        lags.push(Date.now() - change.commitTime.getTime())
        last = performance.now()
      } else if (change.kind === 'message' && change.prefix === endPrefix && new TextDecoder().decode(change.content) === String(id)) break
    }
    await writing
  } catch (error) {
    // The writers stop before the caller drops their table.
    remaining = 0
    await writing.catch(() => undefined)
    throw error
  }
  const seconds = (last - start) / 1000
  return {
    payloadBytes: size,
    rows: lags.length,
    seconds,
    changesPerSecond: seconds > 0 ? lags.length / seconds : NaN,
    lag: percentiles([Float64Array.from(lags)]),
    ...(partial ? { partial } : {}),
  }
}

/**
 * One writer transaction: `rows` rows, each with a payload of `size` bytes. pg_catalog's
 * functions by name: a schema listed before pg_catalog in search_path could hold a repeat() of its own.
 */
function insertRows(table: string, size: number, rows: number): string {
  return `INSERT INTO ${table} (payload) SELECT pg_catalog.repeat('x', ${size}) FROM pg_catalog.generate_series(1, ${rows})`
}

/** The phases as a table, psql's aligned format, with what the figures mean. */
export function formatReplicationTable(title: string, phases: readonly ReplicationPhase[]): string {
  const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : '-')
  const rows = phases.map((p) => [`${p.payloadBytes} B${p.partial ? ' (partial)' : ''}`, String(p.rows), fixed(p.changesPerSecond, 0), fixed(p.lag.p50, 1), fixed(p.lag.p90, 1), fixed(p.lag.p99, 1), fixed(p.lag.max, 1)])
  const lines = [title, '', ...alignedTable(['payload', 'rows', 'changes/s', 'lag p50 ms', 'p90 ms', 'p99 ms', 'max ms'], rows), '']
  lines.push(...wrap(`changes/s: inserted rows decoded and handed over per second, from the first INSERT sent to the last row handed over; writers commit ${rowsPerTransaction} rows per transaction.`))
  lines.push(...wrap("lag: from a transaction's commit time (the server's clock) to each of its rows being handed over by replicate() (this machine's clock; the same clock when the server is local), so it includes logical decoding, pgoutput, the trip and decoding here."))
  return `${lines.join('\n')}\n`
}
