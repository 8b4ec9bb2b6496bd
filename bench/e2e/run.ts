/**
 * npm run bench: the end-to-end benchmark. pglisten's listener against node-postgres,
 * postgres.js and a C libpq listener, on the same PostgreSQL in the same run: notifications/s
 * from one and from four transactions at three payload sizes, one-at-a-time latency, CPU per
 * notification, peak memory, and each client's ceiling against a scripted fake server.
 *
 *   npm run bench [-- --rounds 5 --url postgres://user:pass@host:5432/db --clients pglisten,libpq
 *                     --only server,latency,ceiling --payloads 0,100,1000 --count 200000
 *                     --latency-count 10000 --ceiling-count 3000000 --no-save --out DIR --cpu-prof DIR]
 *   npm run bench -- --flood [--flood-count 1000000]     resident memory during a flood
 *
 * Every measurement runs in a fresh listener process; every round runs each workload with each
 * client back to back (in an order that rotates from round to round), except latency, where
 * all clients' listeners run at once and take turns; figures are medians over rounds, and
 * ratios are the median of the ratios within a round. Results go to bench/results/.
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { buildLibpqListener, buildNodeChild } from './build.ts'
import { barChart, floodChart, type BarGroup, type Panel } from './chart.ts'
import { measure, measureLatency, type Context, type Run } from './measure.ts'
import { Notifiers } from './notifiers.ts'
import { FakeServer, startRealServer, type RealServer } from './servers.ts'
import { judgeFlood, judgeGoals, summarize, type Row } from './summary.ts'
import { formatTable } from './table.ts'
import { clientLabels, clientNames, counterDigits, type ClientName, type Workload } from './workloads.ts'

const { values: args } = parseArgs({
  options: {
    url: { type: 'string' },
    rounds: { type: 'string' },
    count: { type: 'string', default: '200000' },
    payloads: { type: 'string', default: '0,100,1000' },
    'latency-count': { type: 'string', default: '10000' },
    'ceiling-count': { type: 'string', default: '3000000' },
    clients: { type: 'string', default: clientNames.join(',') },
    only: { type: 'string', default: 'server,latency,ceiling' },
    flood: { type: 'boolean', default: false },
    'flood-count': { type: 'string', default: '1000000' },
    'no-save': { type: 'boolean', default: false },
    out: { type: 'string' },
    'cpu-prof': { type: 'string' },
  },
})

const rounds = Number(args.rounds ?? (args.flood ? 1 : 5))
const count = Number(args.count)
const kinds = new Set(args.flood ? ['flood'] : args.only.split(','))
const requested = args.clients.split(',') as ClientName[]
let clients = requested
for (const c of requested) if (!clientNames.includes(c)) throw new RangeError(`unknown client ${c}; known: ${clientNames.join(', ')}`)
// Payload sizes in bytes; against the real server, 0 means the counter alone (8 bytes).
const payloads = args.payloads.split(',').map(Number)
for (const p of payloads) if (!Number.isInteger(p) || p < 0 || p > 7999) throw new RangeError(`payload sizes are 0..7999 bytes, not ${p}`)

const workloads: Workload[] = [
  ...(kinds.has('server') ? [1, 4].flatMap((senders) => payloads.map((payload): Workload => ({ kind: 'server', payload, senders, count, warmup: 20_000 }))) : []),
  ...(kinds.has('latency') ? [{ kind: 'latency', count: Number(args['latency-count']), warmup: 200 } as const] : []),
  // Fewer notifications where each is bigger: the 1000-byte run still moves 500 MB.
  ...(kinds.has('ceiling') ? payloads.map((payload): Workload => ({ kind: 'ceiling', payload, count: Math.round(Number(args['ceiling-count']) * (payload < 50 ? 1 : payload < 500 ? 2 / 3 : 1 / 6)), warmup: 100_000 })) : []),
  ...(kinds.has('flood') ? [{ kind: 'flood', payload: 0, count: Number(args['flood-count']), warmup: 20_000, samples: 100 } as const] : []),
]

const here = fileURLToPath(new URL('.', import.meta.url))
const version = (name: string) => (JSON.parse(readFileSync(join(here, '..', '..', 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version
const machine = `${os.cpus()[0]?.model ?? 'unknown CPU'} x${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}, Node ${process.version}`
const log = (line: string) => process.stderr.write(line + '\n')

let real: RealServer | undefined
let fake: FakeServer | undefined
const stopAll = () => (fake?.stop(), real?.stopSync())
process.once('SIGINT', () => (stopAll(), process.exit(130)))
process.once('SIGTERM', () => (stopAll(), process.exit(143)))

try {
  log(`pglisten end-to-end benchmark: ${machine}`)
  const libpq = clients.includes('libpq') ? buildLibpqListener() : undefined
  if (libpq && !libpq.ok) {
    log(`libpq row skipped: ${libpq.reason}`)
    clients = clients.filter((c) => c !== 'libpq')
  }
  log('compiling the Node listener child with tsc ...')
  const nodeChild = buildNodeChild()
  const needsReal = workloads.some((w) => w.kind !== 'ceiling')
  if (needsReal) log(args.url ? `using ${args.url.replace(/:[^:@/]*@/, ':***@')}` : 'starting a throwaway PostgreSQL 18 ...')
  real = needsReal ? await startRealServer(args.url) : undefined
  const notifiers = real ? await Notifiers.open(real.address, 4) : undefined
  fake = workloads.some((w) => w.kind === 'ceiling') ? await FakeServer.start() : undefined
  const ctx: Context = {
    ...(real && notifiers ? { real: { address: real.address, notifiers } } : {}),
    ...(fake ? { fake } : {}),
    ...(libpq?.ok ? { libpq: libpq.path } : {}),
    nodeChild,
    nodeFlags: args['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', args['cpu-prof']] : [],
    channel: 'bench',
  }
  const serverVersion = notifiers?.serverVersion
  log(`PostgreSQL ${serverVersion ?? '(not used)'}; libpq ${libpq?.ok ? libpq.version : 'skipped'}; pg ${version('pg')}, postgres.js ${version('postgres')}`)

  const started = Date.now()
  const runs: Run[] = []
  const record = (run: Run) => {
    runs.push(run)
    const elapsed = `${Math.floor((Date.now() - started) / 60000)}m${String(Math.floor((Date.now() - started) / 1000) % 60).padStart(2, '0')}s`
    const figure = run.latencyUs ? `p50 ${run.latencyUs.p50.toFixed(0)} µs, p99 ${run.latencyUs.p99.toFixed(0)} µs` : run.rate ? `${(run.rate / 1e3).toFixed(0)}k/s, ${run.cpuUs?.toFixed(3)} µs CPU` : ''
    log(`round ${run.round + 1}/${rounds}  ${run.workload.padEnd(15)} ${clientLabels[run.client].padEnd(21)} ${run.ok ? figure : `FAILED: ${run.error}`}  [${elapsed}]`)
  }
  for (let round = 0; round < rounds; round++) {
    for (const workload of workloads) {
      // Rotate the order from round to round, so no client always runs first after a switch.
      const order = clients.map((_, i) => clients[(i + round) % clients.length]!)
      if (workload.kind === 'latency') {
        if (round === 0) log(`latency: ${order.length} listeners at once, taking turns, ${workload.count} round trips each ...`)
        for (const run of await measureLatency(workload, order, round, ctx)) record(run)
      } else {
        for (const client of order) record(await measure(workload, client, round, ctx))
      }
    }
  }
  await notifiers?.close()

  const rows = summarize(runs, rounds, clients)
  const floodRuns = runs.filter((r) => r.workload.startsWith('flood') && r.samples)
  const floodNotes = floodRuns.map((r) => ({ client: r.client, round: r.round, ...judgeFlood(r.samples!) }))
  const pglistenFloods = floodNotes.filter((n) => n.client === 'pglisten')
  const flood = pglistenFloods.length === 0 ? undefined : pglistenFloods.find((n) => !n.flat) ?? pglistenFloods[0]!
  const goals = judgeGoals(rows, flood)
  const date = new Date().toISOString().slice(0, 10)
  const title = `PostgreSQL ${serverVersion ?? ''} (${real?.kind === 'url' ? 'given server' : 'throwaway, local TCP'}), ${date}, ${machine}; ${rounds} round(s)`
  let table = `pglisten end-to-end benchmark\n${title}\nlibpq ${libpq?.ok ? libpq.version : `skipped (${libpq?.reason ?? 'not requested'})`}; pg ${version('pg')}; postgres.js ${version('postgres')}\n` +
    formatTable(workloads, rows, goals, rounds)
  if (floodNotes.length > 0) table += '\n\nFlood, per client and round:\n' + floodNotes.map((n) => `  ${clientLabels[n.client]}, round ${n.round + 1}: ${n.flat ? 'flat' : 'GROWS'}: ${n.detail}`).join('\n')
  console.log(table)

  if (!args['no-save']) {
    const dir = args.out ?? join(here, '..', 'results')
    mkdirSync(dir, { recursive: true })
    const kind = args.flood ? 'e2e-flood' : 'e2e'
    let name = `${kind}-${date}`
    for (let n = 2; existsSync(join(dir, `${name}.json`)); n++) name = `${kind}-${date}-${n}`
    const json = jsonByLine({
      date: new Date().toISOString(), machine, server: { kind: real?.kind, version: serverVersion },
      versions: { node: process.version, libpq: libpq?.ok ? libpq.version : null, pg: version('pg'), postgres: version('postgres') },
      libpqSkipped: libpq && !libpq.ok ? libpq.reason : undefined,
      settings: { rounds, clients, workloads }, goals, rows, runs,
    })
    const chartTitle = [`PostgreSQL ${serverVersion ?? ''} ${real?.kind === 'url' ? '(given server)' : '(throwaway, local TCP)'}, ${date}, ${rounds} round(s)`, machine]
    const svg = args.flood ? floodSvg(chartTitle, floodRuns) : mainSvg(chartTitle, rows, clients)
    const complete = !args.url && requested.length === clientNames.length && (args.flood || ['server', 'latency', 'ceiling'].every((k) => kinds.has(k)))
    for (const base of complete ? [name, `${kind}-latest`] : [name]) {
      writeFileSync(join(dir, `${base}.json`), json + '\n')
      writeFileSync(join(dir, `${base}.txt`), table + '\n')
      writeFileSync(join(dir, `${base}.svg`), svg)
    }
    log(`\nsaved ${dir}/${name}.{json,txt,svg}${complete ? ` and ${kind}-latest.*` : ' (a partial run: e2e-latest.* left alone)'}`)
  }
} finally {
  stopAll()
}

/** JSON with each top-level field, and each element of a top-level array, on a line of its own: small, and diffs well. */
function jsonByLine(fields: Record<string, unknown>): string {
  const round = (_: string, v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(6)) : v)
  const lines = Object.entries(fields).filter(([, v]) => v !== undefined).map(([key, value]) =>
    Array.isArray(value) && value.length > 0
      ? `${JSON.stringify(key)}: [\n${value.map((v) => '  ' + JSON.stringify(v, round)).join(',\n')}\n ]`
      : `${JSON.stringify(key)}: ${JSON.stringify(value, round)}`)
  return `{\n ${lines.join(',\n ')}\n}`
}

function mainSvg(title: string[], rows: Row[], clients: ClientName[]): string {
  const group = (workload: string, label: string): BarGroup => {
    const mine = rows.filter((r) => r.workload === workload && r.rate)
    const reference = mine.find((r) => r.client === 'libpq')?.rate?.median
    return {
      label,
      bars: mine.filter((r) => r.client !== 'libpq').map((r) => ({ client: r.client, value: r.rate!.median, low: r.rate!.range[0], high: r.rate!.range[1] })),
      ...(reference !== undefined ? { reference } : {}),
    }
  }
  const size = (p: number) => (p === 0 ? `${counterDigits} B (counter)` : `${p} B`)
  const panels: Panel[] = [
    { title: 'PostgreSQL: 200,000 notifications from one transaction', groups: payloads.map((p) => group(`server-${p}B-1x`, size(p))) },
    { title: 'PostgreSQL: 4 concurrent transactions of 50,000', groups: payloads.map((p) => group(`server-${p}B-4x`, size(p))) },
    { title: "Fake server: each client's ceiling", groups: payloads.map((p) => group(`ceiling-${p}B`, `${p} B`)) },
  ].filter((panel) => panel.groups.some((g) => g.bars.length > 0))
  return barChart('LISTEN/NOTIFY: notifications received per second', [...title, 'Bars: median over rounds; whiskers: slowest and fastest round; one fresh listener process per bar and round.'], panels, clients)
}

function floodSvg(title: string[], runs: Run[]): string {
  const series = runs.filter((r) => r.round === 0).map((r) => ({ client: r.client, samples: r.samples! }))
  return floodChart('Resident memory of the listener process during a flood of notifications', [...title, 'Sampled 100 times, evenly by notifications received; the points at 0 are before the flood reached the listener.'], series)
}
