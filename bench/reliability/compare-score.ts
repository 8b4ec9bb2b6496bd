/**
 * Judges one (client, fault) case of compare.ts from its record: when the client noticed the
 * fault and listened again, whether it said that notifications may have been lost, and which
 * of the numbered notifications went missing with or without such a signal; and writes the
 * table's cell. Pure: records in, figures and text out. Imports types only.
 */
import type { FaultName } from '../../test/support/faults.ts'
import type { ClientName, Signal } from './compare-clients.ts'

export interface CaseRecord {
  client: ClientName
  fault: FaultName
  /** Whether the client was given the second host too (failover), and could use it. */
  multiHost: boolean
  /** How long the case waited for the client to listen again, in ms. */
  boundMs: number
  /** Date.now() just before inject(); undefined if the case never got that far. */
  injectedAt: number | undefined
  /** The highest number the writer had tried at injection. */
  seqAtInjection: number
  /** The first number tried once the client listened again; undefined if it never did. */
  afterRecovery: number | undefined
  /** What the client's process reported, in order. */
  signals: Signal[]
  /** The writer's numbers whose NOTIFY was answered, and those whose query failed (sent or not: unknown). */
  succeeded: number[]
  failed: number[]
  /** What went wrong with the case itself (setup, a timeout, the client's process dying). */
  problems: string[]
  durationMs: number
}

export interface Losses {
  /** Answered numbers never heard. */
  total: number
  /** ... with a loss signal (a Gap) between their neighbours. */
  announced: number
  /** ... with only a "listening again" signal between their neighbours. */
  atReconnect: number
  /** ... with nothing at all. */
  silent: number
  /** The missing numbers, as ranges ("12-40"), each with its class. */
  ranges: string[]
}

export interface Verdict {
  noticedMs: number | undefined
  noticedBy: string | undefined
  listeningMs: number | undefined
  listeningBy: string | undefined
  /** The explicit signal that notifications may have been lost, as given; undefined: none. */
  lossSignal: string | undefined
  losses: Losses
  /** Answered numbers sent once it listened again that it never heard. */
  missingAfterRecovery: number | undefined
  /** Numbers heard long after the fault without any "listening again" signal (a silent recovery). */
  heardLater: boolean
  duplicated: number
  reordered: number
  crashes: string[]
}

const time = (iso: number) => new Date(iso).toISOString().slice(11, 23)

export function judge(r: CaseRecord): Verdict {
  const t0 = r.injectedAt ?? Infinity
  const after = r.signals.filter((s) => s.at >= t0)
  const first = (types: Signal['type'][]) => after.find((s) => types.includes(s.type))
  const noticed = first(['notice', 'listening', 'loss', 'crash'])
  const listening = first(['listening'])
  const loss = first(['loss'])
  const crashes = r.signals.filter((s) => s.type === 'crash').map((s) => (s as { what: string }).what)

  // Walk what was heard in order; a hole's class is the strongest signal since the last number heard.
  const missingClass = new Map<number, 'announced' | 'atReconnect' | 'silent'>()
  const heard = new Set<number>()
  let duplicated = 0
  let reordered = 0
  let last = 0
  let since: 'announced' | 'atReconnect' | 'silent' = 'silent'
  const answered = new Set(r.succeeded)
  const classify = (upTo: number) => {
    for (let m = last + 1; m < upTo; m++) if (answered.has(m)) missingClass.set(m, since)
  }
  for (const s of r.signals) {
    if (s.type === 'loss') since = 'announced'
    else if (s.type === 'listening' && since === 'silent') since = 'atReconnect'
    if (s.type !== 'notification') continue
    const n = Number(s.payload)
    if (!Number.isInteger(n)) continue
    if (heard.has(n)) duplicated++
    else if (n < last) reordered++
    else {
      classify(n)
      last = n
    }
    heard.add(n)
    since = 'silent'
  }
  classify(Math.max(...r.succeeded, 0) + 1)
  const losses: Losses = { total: 0, announced: 0, atReconnect: 0, silent: 0, ranges: [] }
  let run: { from: number; to: number; kind: string } | undefined
  const close = () => run && losses.ranges.push(`${run.from === run.to ? run.from : `${run.from}-${run.to}`} ${run.kind}`)
  for (const [n, kind] of [...missingClass].sort(([a], [b]) => a - b)) {
    if (heard.has(n)) continue
    losses.total++
    losses[kind]++
    if (run && run.to === n - 1 && run.kind === kind) run.to = n
    else close(), (run = { from: n, to: n, kind })
  }
  close()
  const from = r.afterRecovery
  const lateHeard = [...heard].some((n) => n > r.seqAtInjection + 40)
  return {
    noticedMs: noticed && noticed.at - t0,
    noticedBy: noticed && ('what' in noticed ? noticed.what : noticed.type),
    listeningMs: listening && listening.at - t0,
    listeningBy: listening && 'what' in listening ? listening.what : undefined,
    lossSignal: loss?.type === 'loss' ? `${loss.what} ${time(loss.from)}–${time(loss.to)}` : undefined,
    losses,
    missingAfterRecovery: from === undefined ? undefined : r.succeeded.filter((n) => n >= from && !heard.has(n)).length,
    heardLater: !listening && lateHeard,
    duplicated,
    reordered,
    crashes,
  }
}

const seconds = (ms: number) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`)

/** The table's cell: recovery; the loss signal; what went missing; anything else amiss. */
export function cell(r: CaseRecord, v: Verdict): string {
  if (r.injectedAt === undefined) return `not run: ${r.problems.join('; ')}`
  const parts: string[] = []
  const bound = seconds(r.boundMs)
  if (v.listeningMs !== undefined) {
    const early = v.noticedMs !== undefined && v.noticedMs < v.listeningMs
    parts.push(`${early ? `noticed ${seconds(v.noticedMs!)}, ` : ''}reconnects ${seconds(v.listeningMs)}`)
  } else if (v.heardLater) {
    parts.push(`no reconnect signal, yet hears again`)
  } else if (v.noticedMs !== undefined) {
    const why = r.fault === 'failover' && !r.multiHost ? ' (no multi-host)' : ''
    parts.push(`noticed ${seconds(v.noticedMs)} (${v.noticedBy}); not listening after ${bound}${why}`)
  } else {
    parts.push(`deaf after ${bound}, noticed nothing`)
  }
  if (v.lossSignal) parts.push(v.lossSignal.split(' ')[0]!)
  else if (v.listeningBy) parts.push(`only ${v.listeningBy}, no loss window`)
  else parts.push('no signal')
  const l = v.losses
  if (l.total === 0) parts.push('0 lost')
  else if (l.announced === l.total) parts.push(`${l.total} lost, all inside the Gap`)
  else {
    const where = l.atReconnect && !l.silent ? ` (at the ${v.listeningBy})` : ''
    parts.push(`${l.silent + l.atReconnect} lost unannounced${where}${l.announced ? `, ${l.announced} inside the Gap` : ''}`)
  }
  if (v.missingAfterRecovery) parts.push(`${v.missingAfterRecovery} sent after recovery missing`)
  if (v.duplicated || v.reordered) parts.push(`${v.duplicated} duplicated, ${v.reordered} reordered`)
  if (v.crashes.length) parts.push(`${v.crashes.length} uncaught error(s)`)
  if (r.problems.length) parts.push(`(${r.problems.join('; ')})`)
  return parts.join('; ')
}
