/**
 * The soak's figures and verdict, from the samples and events soak.ts collected: memory at the
 * start and at the end, the "within noise" rule (see soak.ts), the other checks, and the text
 * summary. Pure: no I/O. Imports types only.
 */
import type { Counters, Sample } from './soak-child.ts'
import type { WriterCounters } from './soak-writer.ts'

export type Phase = 'idle' | 'load' | 'drain' | 'settle' | 'rest' | 'after'
export interface TaggedSample extends Sample {
  /** What the parent was doing when the sample arrived. */
  phase: Phase
}
export interface SoakEvent {
  at: number
  kind: string
  detail: string
}
export interface LoadSample {
  at: number
  /** os.loadavg()[0]: the machine's 1-minute load average. */
  load1: number
}
export interface RestartRecord {
  at: number
  tookMs: number
}

export interface Run {
  date: string
  machine: string
  cores: number
  seed: number
  serverVersion: string
  settings: {
    duration: number; rate: number; restarts: number; writers: number; tick: number
    stallEvery: number; stallMin: number; stallMax: number; stallTimeout: number
    warmup: number; window: number; settle: number; gc: boolean
  }
  /** Date.now() when the load began. */
  t0: number
  sentSeconds: number
  caughtUp: boolean
  writer: WriterCounters
  listener: Counters
  restarts: RestartRecord[]
  events: SoakEvent[]
  loads: LoadSample[]
  samples: TaggedSample[]
  parentCpuMs: number
}

/** The growth allowed over the start: max(10 % of it, 5 MB). */
export const allowance = (start: number) => Math.max(0.1 * start, 5 * 2 ** 20)

export interface MemoryFigures {
  idle: number
  start: number
  loadEnd: number
  end: number
  min: number
  max: number
  /** Least-squares slope over the load after the warm-up, in bytes per minute. */
  trendPerMinute: number
  limit: number
  pass: boolean
  /** The same rule between the start and the load's last window: like for like, both under load. */
  loadEndPass: boolean
}

export interface Check {
  name: string
  pass: boolean
  detail: string
}

export interface Analysis {
  heap: MemoryFigures
  rss: MemoryFigures
  windows: { start: [number, number]; loadEnd: [number, number]; samples: { start: number; loadEnd: number; end: number } }
  listenerBackAfterMs: (number | null)[]
  load: { mean: number; max: number }
  checks: Check[]
  pass: boolean
}

export function analyse(run: Run): Analysis {
  const { warmup, window, duration, restarts } = run.settings
  const t = (s: { at: number }) => (s.at - run.t0) / 1000
  const inPhase = (...phases: Phase[]) => run.samples.filter((s) => phases.includes(s.phase))
  const load = inPhase('load')
  const start = load.filter((s) => t(s) >= warmup && t(s) < warmup + window)
  const loadEnd = load.filter((s) => t(s) >= duration - window && t(s) < duration)
  const end = inPhase('rest')
  const idle = inPhase('idle').slice(1) // the first may predate the gc()
  const measured = inPhase('load', 'drain', 'settle', 'rest')
  const trendSamples = load.filter((s) => t(s) >= warmup)

  const figures = (key: 'heapUsed' | 'rss'): MemoryFigures => {
    const values = (xs: Sample[]) => xs.map((s) => s[key])
    const f = {
      idle: median(values(idle)), start: median(values(start)), loadEnd: median(values(loadEnd)), end: median(values(end)),
      min: Math.min(...values(measured)), max: Math.max(...values(measured)),
      trendPerMinute: 60 * slope(trendSamples.map(t), values(trendSamples)),
    }
    const limit = f.start + allowance(f.start)
    return { ...f, limit, pass: f.end <= limit, loadEndPass: f.loadEnd <= limit }
  }
  const heap = figures('heapUsed')
  const rss = figures('rss')

  const reconnected = run.events.filter((e) => e.kind === 'reconnected')
  const listenerBackAfterMs = run.restarts.map((r) => {
    const back = reconnected.find((e) => e.at >= r.at)
    return back ? back.at - r.at : null
  })
  const loads = run.loads.filter((l) => t(l) >= 0 && t(l) < duration).map((l) => l.load1)
  const l = run.listener
  const checks: Check[] = [
    { name: 'heap ended within noise', pass: heap.pass, detail: verdict('heap', heap) },
    { name: 'RSS ended within noise', pass: rss.pass, detail: verdict('RSS', rss) },
    { name: 'the consumer caught up', pass: run.caughtUp, detail: run.caughtUp ? 'backlog 0 and nothing more arriving after the load' : 'still behind 60 s after the load' },
    {
      name: 'the listener came back after every restart', pass: listenerBackAfterMs.every((ms) => ms !== null) && l.reconnects >= restarts,
      detail: `${l.reconnects} reconnect(s) for ${restarts} restart(s)`,
    },
    {
      name: 'nothing lost without a Gap', pass: l.unannouncedLosses === 0 && l.outOfOrder === 0,
      detail: `${l.unannouncedLosses} missing with no Gap before the next, ${l.outOfOrder} out of order or repeated`,
    },
    { name: 'samples in every window', pass: start.length >= window / 2 && loadEnd.length >= window / 2 && end.length >= window / 2, detail: `${start.length}, ${loadEnd.length}, ${end.length}` },
  ]
  return {
    heap, rss,
    windows: { start: [warmup, warmup + window], loadEnd: [duration - window, duration], samples: { start: start.length, loadEnd: loadEnd.length, end: end.length } },
    listenerBackAfterMs,
    load: { mean: loads.length ? loads.reduce((a, b) => a + b, 0) / loads.length : NaN, max: Math.max(...loads) },
    checks,
    pass: checks.every((c) => c.pass),
  }
}

function verdict(what: string, f: MemoryFigures): string {
  const growth = f.end - f.start
  const pct = (100 * growth) / f.start
  const how = growth <= 0 ? `${Math.abs(pct).toFixed(1)}% / ${mb(-growth)} MB below` : `within +${pct.toFixed(1)}% / +${mb(growth)} MB of`
  return `${what} ended ${how} where it started (${mb(f.start)} -> ${mb(f.end)} MB; allowed up to ${mb(f.limit)} MB)`
}

export function formatSummary(run: Run, a: Analysis): string {
  const s = run.settings
  const w = run.writer
  const l = run.listener
  const sent = w.committed
  const lostAtGaps = sent - l.received
  const restartsAt = run.restarts.map((r, i) => `${((r.at - run.t0) / 1000).toFixed(0)} s (pg_ctl ${r.tookMs} ms, listener back after ${a.listenerBackAfterMs[i] === null ? 'never' : `${((a.listenerBackAfterMs[i] as number) / 1000).toFixed(1)} s`})`)
  const cell = (x: string | number) => (typeof x === 'number' ? mb(x) : x).padStart(11)
  const row = (name: string, f: MemoryFigures) =>
    name.padEnd(12) + [f.idle, f.start, f.loadEnd, f.end, f.min, f.max].map(cell).join('') + cell(`${f.trendPerMinute >= 0 ? '+' : ''}${mb(f.trendPerMinute)}/min`)
  const cpuMs = l.cpuUserMs + l.cpuSystemMs
  return [
    `pglisten soak, ${run.date.slice(0, 19)}Z, PostgreSQL ${run.serverVersion} (throwaway, local TCP)`,
    `machine: ${run.machine}; 1-min load average during the load: mean ${a.load.mean.toFixed(2)}, max ${a.load.max.toFixed(2)} on ${run.cores} cores (shared)`,
    `settings: ${s.duration} s at ${s.rate}/s over ${s.writers} connections (a batch per ${s.tick} ms), ${s.restarts} restart(s); consumer stalls every ~${s.stallEvery / 1000} s for ${s.stallMin / 1000}-${s.stallMax / 1000} s (seed ${run.seed}); stallTimeout ${s.stallTimeout / 1000} s; listener defaults otherwise`,
    '',
    `sent:       ${sent} committed in ${run.sentSeconds.toFixed(1)} s = ${(sent / run.sentSeconds).toFixed(0)}/s achieved; ${w.inDoubt} in doubt and ${w.rolledBack} rolled back at restarts; ${w.skipped} never sent; writer reconnects ${w.reconnects}, longest wait ${(w.longestStallMs / 1000).toFixed(1)} s`,
    `received:   ${l.received} (${lostAtGaps} fewer than committed: lost at announced Gaps${w.inDoubt ? ', plus any in doubt that committed' : ''})`,
    `gaps:       ${l.gapsStall + l.gapsReconnect} (${l.gapsStall} after a stall cut-off, ${l.gapsReconnect} after a reconnect)`,
    `reconnects: ${l.reconnects}; restarts at ${restartsAt.join(', ') || '(none)'}`,
    `stalls:     ${l.stalls} (${(l.stallMs / 1000).toFixed(1)} s in all), ${l.cuts} cut off by stallTimeout; socket paused ${l.pauses} times; stats.maxBacklog ${l.maxBacklog}`,
    `errors:     ${Object.entries(l.errors).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`,
    `cpu:        listener ${(cpuMs / 1000).toFixed(1)} s (${((cpuMs * 1000) / Math.max(1, l.received)).toFixed(1)} µs per notification), writer process ${(run.parentCpuMs / 1000).toFixed(1)} s`,
    '',
    'memory, MB'.padEnd(12) + ['idle', 'start', 'load end', 'end', 'min', 'max', 'trend'].map(cell).join(''),
    ''.padEnd(12) + ['gc', `${a.windows.start.join('-')} s`, `${a.windows.loadEnd.join('-')} s`, s.gc ? 'rest, gc' : 'rest', 'load..rest', 'load..rest', 'under load'].map(cell).join(''),
    row('heapUsed', a.heap),
    row('rss', a.rss),
    `rule: end <= start + max(10% of start, 5 MB), for heapUsed and for RSS (under load, start vs load end: heap ${a.heap.loadEndPass ? 'within' : 'OVER'}, RSS ${a.rss.loadEndPass ? 'within' : 'OVER'})`,
    '',
    ...a.checks.map((c) => `${c.pass ? 'PASS' : 'FAIL'}  ${c.name}: ${c.detail}`),
    a.pass ? 'soak: PASS' : 'soak: FAIL',
  ].join('\n')
}

function median(xs: number[]): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

function slope(xs: number[], ys: number[]): number {
  const n = xs.length
  if (n < 2) return NaN
  const mx = xs.reduce((a, b) => a + b, 0) / n
  const my = ys.reduce((a, b) => a + b, 0) / n
  let num = 0
  let den = 0
  for (let i = 0; i < n; i++) (num += (xs[i]! - mx) * (ys[i]! - my)), (den += (xs[i]! - mx) ** 2)
  return num / den
}

function mb(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1)
}
