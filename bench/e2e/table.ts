/**
 * The benchmark's printed table: one block per workload, one line per client, then the goals.
 * Pure: formats the summary's rows as text.
 */
import { si } from './chart.ts'
import type { Goal, Row } from './summary.ts'
import { clientLabels, counterDigits, type Workload, workloadId } from './workloads.ts'

export function workloadTitle(w: Workload): string {
  const payload = (p: number) => (p < counterDigits ? `${counterDigits} B payloads (the counter alone)` : `${p} B payloads`)
  switch (w.kind) {
    case 'server':
      return `PostgreSQL, ${w.count.toLocaleString('en')} notifications from ${w.senders === 1 ? 'one transaction' : `${w.senders} concurrent transactions`}, ${payload(w.payload)}`
    case 'latency':
      return `PostgreSQL, one NOTIFY at a time, ${w.count.toLocaleString('en')} round trips: latency from NOTIFY sent to payload in user code`
    case 'ceiling':
      return `fake server (the client's ceiling), ${w.count.toLocaleString('en')} notifications, ${w.payload} B payloads`
    case 'flood':
      return `PostgreSQL, flood of ${w.count.toLocaleString('en')} notifications from one transaction, ${payload(w.payload)}: resident memory`
  }
}

const ratio = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '-' : `${n.toFixed(2)}x`)
const ratioRange = (r: [number, number] | undefined) => (r === undefined || Number.isNaN(r[0]) ? '-' : `${r[0].toFixed(2)}-${r[1].toFixed(2)}`)
const fixed = (n: number | undefined, digits: number) => (n === undefined || Number.isNaN(n) ? '-' : n.toFixed(digits))

function grid(header: string[], lines: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)))
  const format = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')
  return [format(header), ...lines.map(format)].join('\n')
}

const legend = `What the columns mean (every figure is taken in the listener's own process):
  notif/s       notifications in the measured batch ÷ the time from the first to the last of them reaching
                user code (the handler, the for-await body, the PQnotifies loop); median over rounds
  rounds        the slowest and the fastest round
  ÷pglisten, ÷libpq   this client's figure ÷ that client's in the same round; the median over rounds
                (÷libpq rounds: the lowest and highest of those per-round ratios)
  CPU µs/notif  user + system CPU of the whole listener process (all threads: GC, JIT) from the end of
                warm-up to the last notification, ÷ notifications; equals CPU seconds per million
  peak RSS MB   the listener process's ru_maxrss (getrusage), over its whole life
  p50, p99 µs   latency: from the runner's CLOCK_MONOTONIC just before it hands one
                SELECT pg_notify(...) to its connection, to the listener's callback reading the same
                clock; the next NOTIFY goes only once the listener has answered; all clients' listeners
                run at once and take turns, one round trip each; percentiles of one round's
                round trips, then the median over rounds`

export function formatTable(workloads: Workload[], rows: Row[], goals: Goal[], rounds: number): string {
  const out: string[] = []
  for (const w of workloads) {
    const mine = rows.filter((r) => r.workload === workloadId(w))
    if (mine.length === 0) continue
    out.push('', `${workloadTitle(w)}  [${workloadId(w)}]`)
    const runs = (r: Row) => `${r.runs - r.failures.length}/${r.runs}`
    if (w.kind === 'latency') {
      out.push(grid(
        ['client', 'p50 µs', 'p99 µs', 'p99 rounds', 'p50 ÷pglisten', 'p99 ÷pglisten', 'p99 ÷libpq', 'peak RSS MB', 'ok'],
        mine.map((r) => [
          clientLabels[r.client], fixed(r.p50Us?.median, 0), fixed(r.p99Us?.median, 0),
          r.p99Us ? `${r.p99Us.range[0].toFixed(0)}-${r.p99Us.range[1].toFixed(0)}` : '-',
          ratio(r.p50Us?.vsPglisten), ratio(r.p99Us?.vsPglisten), ratio(r.p99Us?.vsLibpq), fixed(r.maxRssMB?.median, 1), runs(r),
        ]),
      ))
    } else if (w.kind === 'flood') {
      out.push(grid(
        ['client', 'notif/s', 'RSS ready MB', 'peak RSS MB', 'ok'],
        mine.map((r) => [clientLabels[r.client], r.rate ? si(r.rate.median) : '-', fixed(r.readyRssMB?.median, 1), fixed(r.maxRssMB?.median, 1), runs(r)]),
      ))
    } else {
      out.push(grid(
        ['client', 'notif/s', 'rounds', '÷pglisten', '÷libpq', '÷libpq rounds', 'CPU µs/notif', 'CPU ÷libpq', 'peak RSS MB', 'ok'],
        mine.map((r) => [
          clientLabels[r.client], r.rate ? si(r.rate.median) : '-', r.rate ? `${si(r.rate.range[0])}-${si(r.rate.range[1])}` : '-',
          ratio(r.rate?.vsPglisten), ratio(r.rate?.vsLibpq), ratioRange(r.rate?.vsLibpqRange), fixed(r.cpuUs?.median, 3), ratio(r.cpuUs?.vsLibpq), fixed(r.maxRssMB?.median, 1), runs(r),
        ]),
      ))
    }
    for (const r of mine) for (const failure of r.failures) out.push(`  ! ${clientLabels[r.client]}, ${failure}`)
  }
  out.push('', legend)
  out.push('', `Goals (pglisten = the listener.on('notification') row; medians over ${rounds} round(s), ratios within a round):`)
  for (const g of goals) out.push(`  [${g.verdict.toUpperCase()}] ${g.goal}${g.detail ? `\n      ${g.detail}` : ''}`)
  return out.join('\n')
}
