/**
 * From runs to the benchmark's figures: per workload and client, the median over rounds of
 * each figure and the median of the per-round ratios to pglisten and to libpq; then the
 * project's goals, each judged from those figures. Pure: imports the statistics only.
 */
import type { Run } from './measure.ts'
import { median, medianRatio, range, roundRatios } from './stats.ts'
import type { ClientName, Sample } from './workloads.ts'

export interface Figure {
  /** The median over successful rounds. */
  median: number
  /** The lowest and highest round. */
  range: [number, number]
  /** Median over rounds of this client's figure ÷ pglisten's (and libpq's) in the same round. */
  vsPglisten: number
  vsLibpq: number
  /** The lowest and highest of the per-round ratios to libpq. */
  vsLibpqRange: [number, number]
  /** The figure of each round (undefined where the run failed). */
  rounds: (number | undefined)[]
}

export interface Row {
  workload: string
  client: ClientName
  runs: number
  failures: string[]
  rate?: Figure
  rateSinceSend?: Figure
  cpuUs?: Figure
  maxRssMB?: Figure
  readyRssMB?: Figure
  p50Us?: Figure
  p99Us?: Figure
}

type Metric = (run: Run) => number | undefined
const metrics = {
  rate: (r) => r.rate,
  rateSinceSend: (r) => r.rateSinceSend,
  cpuUs: (r) => r.cpuUs,
  maxRssMB: (r) => r.maxRssMB,
  readyRssMB: (r) => r.readyRssMB,
  p50Us: (r) => r.latencyUs?.p50,
  p99Us: (r) => r.latencyUs?.p99,
} satisfies Record<string, Metric>

export function summarize(runs: readonly Run[], rounds: number, clients: readonly ClientName[]): Row[] {
  const workloads = [...new Set(runs.map((r) => r.workload))]
  return workloads.flatMap((workload) => {
    // byRound(client, metric)[round]: the figure of that round, undefined where the run failed.
    const byRound = (client: ClientName, metric: Metric) => {
      const values: (number | undefined)[] = Array.from({ length: rounds }, () => undefined)
      for (const r of runs) if (r.workload === workload && r.client === client && r.ok) values[r.round] = metric(r)
      return values
    }
    return clients.map((client) => {
      const mine = runs.filter((r) => r.workload === workload && r.client === client)
      const row: Row = { workload, client, runs: mine.length, failures: mine.filter((r) => !r.ok).map((r) => `round ${r.round + 1}: ${r.error}`) }
      for (const [name, metric] of Object.entries(metrics) as [keyof typeof metrics, Metric][]) {
        const values = byRound(client, metric)
        const present = values.filter((v): v is number => v !== undefined)
        if (present.length === 0) continue
        row[name] = {
          median: median(present),
          range: range(values),
          vsPglisten: medianRatio(values, byRound('pglisten', metric)),
          vsLibpq: medianRatio(values, byRound('libpq', metric)),
          vsLibpqRange: range(roundRatios(values, byRound('libpq', metric))),
          rounds: values,
        }
      }
      return row
    })
  })
}

export interface Goal {
  goal: string
  verdict: 'met' | 'missed' | 'not measured'
  detail: string
}

const find = (rows: readonly Row[], workload: string, client: ClientName) => rows.find((r) => r.workload === workload && r.client === client)
const x = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? 'n/a' : `${n.toFixed(2)}x`)

/** The goals as stated in the project's issue, judged on pglisten's handler row ('pglisten'). */
export function judgeGoals(rows: readonly Row[], flood: FloodVerdict | undefined): Goal[] {
  const goals: Goal[] = []
  const serverRows = rows.filter((r) => r.client === 'pglisten' && r.workload.startsWith('server-'))
  const ratios = serverRows.map((r) => ({ workload: r.workload, ratio: r.rate?.vsLibpq, spread: r.rate?.vsLibpqRange }))
  const measured = ratios.filter((r) => r.ratio !== undefined && !Number.isNaN(r.ratio))
  goals.push({
    goal: 'real server: pglisten ≥ 0.9x libpq notifications/s at every payload size',
    verdict: measured.length === 0 ? 'not measured' : measured.every((r) => r.ratio! >= 0.9) ? 'met' : 'missed',
    detail: ratios.map((r) => `${r.workload} ${x(r.ratio)}${r.spread ? ` (rounds ${r.spread[0].toFixed(2)}-${r.spread[1].toFixed(2)})` : ''}`).join(', '),
  })
  const ceiling = find(rows, 'ceiling-0B', 'pglisten')?.rate
  goals.push({
    goal: 'client ceiling ≥ 3M notifications/s at empty payloads (fake server)',
    verdict: ceiling === undefined ? 'not measured' : ceiling.median >= 3e6 ? 'met' : 'missed',
    detail: ceiling ? `${(ceiling.median / 1e6).toFixed(2)} M/s (rounds ${(ceiling.range[0] / 1e6).toFixed(2)}-${(ceiling.range[1] / 1e6).toFixed(2)} M/s)` : '',
  })
  const cpuFake = find(rows, 'ceiling-0B', 'pglisten')?.cpuUs
  const cpuReal = find(rows, 'server-0B-1x', 'pglisten')?.cpuUs
  goals.push({
    goal: 'CPU ≤ 0.3 µs per notification at empty payloads (judged on the fake server, the only truly empty payloads)',
    verdict: cpuFake === undefined ? 'not measured' : cpuFake.median <= 0.3 ? 'met' : 'missed',
    detail: [
      cpuFake && `fake server, 0 B: ${cpuFake.median.toFixed(3)} µs`,
      cpuReal && `real server, 8-byte counter: ${cpuReal.median.toFixed(3)} µs`,
    ].filter(Boolean).join('; '),
  })
  const p99 = find(rows, 'latency', 'pglisten')?.p99Us
  const others = (['pg', 'postgres.js'] as const).map((client) => {
    const theirs = find(rows, 'latency', client)?.p99Us
    return { client, ratio: p99 && theirs ? medianRatio(p99.rounds, theirs.rounds) : undefined }
  })
  goals.push({
    goal: 'latency p99 no worse than node-postgres or postgres.js',
    verdict: !p99 || others.some((o) => o.ratio === undefined || Number.isNaN(o.ratio)) ? 'not measured' : others.every((o) => o.ratio! <= 1) ? 'met' : 'missed',
    detail: p99
      ? `pglisten p99 ${p99.median.toFixed(0)} µs; pglisten's p99 ÷ theirs, median of per-round ratios: ` +
        others.map((o) => `${o.client} ${x(o.ratio)}`).join(', ')
      : '',
  })
  goals.push(flood
    ? { goal: 'memory flat during a 1,000,000-notification flood', verdict: flood.flat ? 'met' : 'missed', detail: flood.detail }
    : { goal: 'memory flat during a 1,000,000-notification flood', verdict: 'not measured', detail: 'run with --flood' })
  return goals
}

export interface FloodVerdict {
  flat: boolean
  detail: string
}

/**
 * "Flat": the resident set does not grow with the number of notifications received. Judged on
 * the samples of the measured flood, by notifications received (not by time: the flood reaches
 * the listener only once the notifier's transaction commits): the highest RSS while the second
 * half arrived is at most 5% (and at most 4 MiB) above the highest while the first half did.
 */
export function judgeFlood(samples: readonly Sample[]): FloodVerdict {
  const total = samples.at(-1)?.[2] ?? 0
  const peak = (from: number, to: number) => Math.max(...samples.filter(([, , n]) => n > from && n <= to).map(([, kb]) => kb))
  const before = samples.filter(([, , n]) => n === 0).at(-1)?.[1]
  const firstHalf = peak(0, total / 2)
  const secondHalf = peak(total / 2, total)
  if (before === undefined || !Number.isFinite(firstHalf) || !Number.isFinite(secondHalf)) {
    return { flat: false, detail: `too few RSS samples during the flood (${samples.length})` }
  }
  const flat = secondHalf - firstHalf <= Math.min(0.05 * firstHalf, 4096)
  const mb = (kb: number) => `${(kb / 1024).toFixed(1)} MB`
  return {
    flat,
    detail: `RSS ${mb(before)} before the flood, peak ${mb(firstHalf)} while the first half arrived, ${mb(secondHalf)} while the second did ` +
      `(${samples.filter(([, , n]) => n > 0).length} samples during the flood)`,
  }
}
