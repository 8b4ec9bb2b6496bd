/**
 * npm run bench:replication: decoded changes per second and CPU per change, pglisten's
 * replicate() against pg-logical-replication (on node-postgres, a bench-only dev dependency),
 * on the same WAL: one throwaway cluster, one workload written once, a fresh slot for every run,
 * runs alternating between the clients. Both parse column values as node-postgres would and
 * acknowledge as they go. Writes bench/results/replication-DATE.{json,txt}.
 *
 *   npm run bench:replication -- [--rows N] [--per-transaction N] [--rounds N]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { LogicalReplicationService, PgoutputPlugin } from 'pg-logical-replication'
import { startCluster } from '../test/harness/cluster.ts'
import { connect } from '../src/protocol/index.ts'
import { replicate } from '../src/replication.ts'

const { values } = parseArgs({ options: { rows: { type: 'string' }, 'per-transaction': { type: 'string' }, rounds: { type: 'string' } } })
const rows = Number(values.rows ?? 200_000)
const perTransaction = Number(values['per-transaction'] ?? 1000)
const rounds = Number(values.rounds ?? 3)
const transactions = Math.ceil(rows / perTransaction)

interface Run {
  client: string
  round: number
  seconds: number
  changesPerSecond: number
  cpuMicrosPerChange: number
  /** The walsender's CPU time over the run's wall time: near 1, the server is what bounds the rate. */
  walsenderBusy: number
}

const cluster = await startCluster()
try {
  const options = { env: {}, passfile: '/nonexistent', host: '127.0.0.1', port: cluster.server.port, user: 'postgres', database: 'postgres', sslmode: 'disable' as const }
  const sql = await connect(options)
  await sql.query('CREATE TABLE bench_rows (id int PRIMARY KEY, n int, note text, at timestamptz); CREATE PUBLICATION bench FOR TABLE bench_rows')
  // One slot per run, all made before the workload, so every run decodes the same WAL.
  const slots: { client: 'pglisten' | 'pg-logical-replication'; round: number; slot: string }[] = []
  for (let round = 1; round <= rounds; round++) {
    for (const client of ['pglisten', 'pg-logical-replication'] as const) {
      const slot = `bench_${client === 'pglisten' ? 'pglisten' : 'plr'}_${round}`
      await sql.query(`SELECT pg_create_logical_replication_slot('${slot}', 'pgoutput')`)
      slots.push({ client, round, slot })
    }
  }
  const started = Date.now()
  for (let t = 0; t < transactions; t++) {
    const from = t * perTransaction + 1
    const to = Math.min(rows, from + perTransaction - 1)
    await sql.query(`INSERT INTO bench_rows SELECT g, g % 1000, 'row ' || g, now() FROM generate_series(${from}, ${to}) g`)
  }
  await sql.close()
  console.error(`wrote ${rows} rows in ${transactions} transactions in ${((Date.now() - started) / 1000).toFixed(1)} s`)

  const watcher = await connect(options)
  const runs: Run[] = []
  for (const { client, round, slot } of slots) {
    const walsender = watchWalsender(watcher, slot)
    const cpu = process.cpuUsage()
    const t0 = performance.now()
    const changes = client === 'pglisten' ? await withPglisten(options, slot) : await withPlr(options, slot)
    const seconds = (performance.now() - t0) / 1000
    const used = process.cpuUsage(cpu)
    const walsenderSeconds = await walsender.stop()
    if (changes !== rows) throw new Error(`${client} decoded ${changes} inserts, not ${rows}`)
    const run = { client, round, seconds, changesPerSecond: rows / seconds, cpuMicrosPerChange: (used.user + used.system) / rows, walsenderBusy: walsenderSeconds / seconds }
    runs.push(run)
    console.error(`${client} round ${round}: ${Math.round(run.changesPerSecond)} changes/s, ${run.cpuMicrosPerChange.toFixed(2)} µs CPU per change, walsender busy ${(100 * run.walsenderBusy).toFixed(0)}%`)
  }

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const summary = (client: string) => {
    const mine = runs.filter((r) => r.client === client)
    return { changesPerSecond: median(mine.map((r) => r.changesPerSecond)), cpuMicrosPerChange: median(mine.map((r) => r.cpuMicrosPerChange)), walsenderBusy: median(mine.map((r) => r.walsenderBusy)) }
  }
  const ours = summary('pglisten')
  const theirs = summary('pg-logical-replication')
  const lines = [
    `replication decode, ${rows} inserts in ${transactions} transactions, PostgreSQL ${cluster.binaries.version}, Node ${process.version}, median of ${rounds}`,
    `| client | changes/s | CPU µs per change | walsender busy |`,
    `|---|---:|---:|---:|`,
    `| pglisten replicate() | ${Math.round(ours.changesPerSecond)} | ${ours.cpuMicrosPerChange.toFixed(2)} | ${(100 * ours.walsenderBusy).toFixed(0)}% |`,
    `| pg-logical-replication 2.5 | ${Math.round(theirs.changesPerSecond)} | ${theirs.cpuMicrosPerChange.toFixed(2)} | ${(100 * theirs.walsenderBusy).toFixed(0)}% |`,
    `ratio (pglisten / pg-logical-replication): ${(ours.changesPerSecond / theirs.changesPerSecond).toFixed(2)}x changes/s, ${(theirs.cpuMicrosPerChange / ours.cpuMicrosPerChange).toFixed(2)}x less CPU per change`,
  ]
  console.log(lines.join('\n'))
  const date = new Date().toISOString().slice(0, 10)
  const dir = new URL('./results/', import.meta.url)
  mkdirSync(dir, { recursive: true })
  writeFileSync(new URL(`replication-${date}.json`, dir), JSON.stringify({ rows, transactions, perTransaction, runs }, null, 2) + '\n')
  writeFileSync(new URL(`replication-${date}.txt`, dir), lines.join('\n') + '\n')
  await watcher.close()
} finally {
  await cluster.stop()
}

/**
 * The CPU time (user + system, from /proc/PID/stat, Linux) of the walsender streaming `slot`,
 * sampled every 20 ms while it runs: its last sample before it exits, in seconds. With the
 * run's wall time it says whether the server, not the client, set the pace.
 */
function watchWalsender(sql: Awaited<ReturnType<typeof connect>>, slot: string): { stop(): Promise<number> } {
  let pid: number | undefined
  let seconds = 0
  let running = true
  const ticks = 100 // USER_HZ on Linux
  const sample = async () => {
    while (running) {
      if (pid === undefined) {
        const [r] = await sql.query(`SELECT active_pid FROM pg_replication_slots WHERE slot_name = '${slot}'`)
        const found = r!.rows[0]?.[0]
        if (found) pid = Number(found)
      }
      if (pid !== undefined) {
        try {
          const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
          seconds = (Number(fields[11]) + Number(fields[12])) / ticks // utime, stime: fields 14 and 15
        } catch {
          // it has exited: the last sample stands
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
  const sampling = sample()
  return {
    async stop() {
      running = false
      await sampling
      return seconds
    },
  }
}

/** Reads the slot with pglisten until every transaction's commit, acknowledging as it goes. */
async function withPglisten(options: object, slot: string): Promise<number> {
  const stream = replicate({ connection: options, slot, publications: ['bench'] })
  let inserts = 0
  let commits = 0
  for await (const change of stream) {
    if (change.kind === 'insert') inserts++
    else if (change.kind === 'commit' && ++commits === transactions) break
  }
  return inserts
}

/** The same with pg-logical-replication: its 'data' events, automatic acknowledgement. */
async function withPlr(options: { host: string; port: number; user: string; database: string }, slot: string): Promise<number> {
  const service = new LogicalReplicationService({ host: options.host, port: options.port, user: options.user, database: options.database }, { acknowledge: { auto: true, timeoutSeconds: 10 } })
  let inserts = 0
  let commits = 0
  const done = new Promise<void>((resolve, reject) => {
    service.on('error', reject)
    service.on('data', (_lsn: string, log: { tag: string }) => {
      if (log.tag === 'insert') inserts++
      else if (log.tag === 'commit' && ++commits === transactions) resolve()
    })
  })
  void service.subscribe(new PgoutputPlugin({ protoVersion: 1, publicationNames: ['bench'] }), slot).catch(() => undefined)
  await done
  await service.stop()
  return inserts
}
