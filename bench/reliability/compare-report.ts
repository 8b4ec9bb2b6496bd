/**
 * The comparison's results as markdown (the table, then how it was run and each case's
 * timeline) and as JSON (every case's record, its notifications summarised, and its verdict).
 * Pure. Imports types and compare-score.ts.
 */
import type { Fault } from '../../test/support/faults.ts'
import type { ClientName } from './compare-clients.ts'
import { cell, judge, type CaseRecord } from './compare-score.ts'

export interface ReportInput {
  records: CaseRecord[]
  versions: Record<string, string | number>
  settings: Record<ClientName, string>
  command: string
  boundMs: number
  faults: readonly Fault[]
  clients: readonly ClientName[]
  durationMs: number
}

const heading: Record<ClientName, string> = {
  pglisten: 'pglisten',
  'pg-listen': 'pg-listen (on pg)',
  'postgres.js': 'postgres.js `sql.listen`',
}

/** What each client gives the application to say "you may have missed something". */
const signals: Record<ClientName, string> = {
  pglisten:
    "'disconnected' when it finds the loss, 'reconnecting' before each attempt, then 'reconnected' and 'gap' with a Gap " +
    '{ from, to, cause }: notifications committed between from and to may have been lost (also an item in notifications()).',
  'pg-listen':
    "'reconnect' (attempt n) when it starts reconnecting, 'connected' once it LISTENs again, 'error' if it gives up. " +
    'No loss claim and no window: an application must infer from the reconnect that it may have missed something.',
  'postgres.js':
    'onlisten is called again once the re-LISTEN completes (the README suggests re-reading unfinished work there). ' +
    'Nothing when the connection is lost, no loss claim, no window.',
}

const ms = (t: number | undefined) => (t === undefined ? '-' : `${Math.round(t)}`)

export function report(input: ReportInput): { markdown: string; json: unknown } {
  const byCase = new Map(input.records.map((r) => [`${r.fault}/${r.client}`, r]))
  const date = new Date().toISOString().slice(0, 19).replace('T', ' ')
  const lines = [
    '# pglisten, pg-listen and postgres.js under the same faults',
    '',
    `Issue 12 (RELIABILITY.md). Run on ${date} UTC with \`${input.command}\`; ${(input.durationMs / 60_000).toFixed(1)} min in all.`,
    `Faults from test/support/faults.ts, injected by the same code for every client; each client in a process of its own, ` +
      `through a fresh fault proxy to a throwaway PostgreSQL ${input.versions.postgresql} (sslmode disable), with a numbered NOTIFY ` +
      `every 50 ms from a direct connection to whichever server is current. Each case waits at most ${input.boundMs / 1000} s for the client to listen again. ` +
      `One primary and one secondary serve the whole run, one case at a time; the primary is started again after each failover case.`,
    '',
    `| fault | ${input.clients.map((c) => heading[c]).join(' | ')} |`,
    `|---|${input.clients.map(() => '---').join('|')}|`,
  ]
  for (const fault of input.faults) {
    const cells = input.clients.map((client) => {
      const r = byCase.get(`${fault.name}/${client}`)
      return r ? cell(r, judge(r)) : 'not run'
    })
    lines.push(`| **${fault.name}**: ${fault.what} | ${cells.join(' | ')} |`)
  }
  lines.push(
    '',
    'Times are from the fault\'s injection. "noticed": the first event, callback or error the client gave; "reconnects": when it ' +
      "listened again (pglisten 'reconnected', pg-listen 'connected', postgres.js onlisten called again). \"lost\": NOTIFYs whose " +
      'transaction was answered but which never arrived (numbers whose query failed during the fault are left out: nobody knows ' +
      'whether they were sent); "inside the Gap": a Gap came between the neighbours of the missing numbers; "unannounced": only ' +
      'a reconnect signal, or nothing, came between them.',
    '',
    '## Versions',
    '',
    ...Object.entries(input.versions).map(([name, version]) => `- ${name} ${version}`),
    '',
    '## Settings',
    '',
    ...input.clients.map((c) => `- **${heading[c]}**: ${input.settings[c]}`),
    '',
    '## What each client tells the application after a loss',
    '',
    ...input.clients.map((c) => `- **${heading[c]}**: ${signals[c]}`),
    '',
    '## Timelines',
    '',
    'Each case: what the client reported other than notifications, in ms from the injection; then the missing numbers.',
    '',
  )
  for (const r of input.records) {
    const v = judge(r)
    const t0 = r.injectedAt ?? 0
    const events = r.signals.filter((s) => s.type !== 'notification' && s.type !== 'ready' && s.at >= t0)
    const shown = events.slice(0, 8).map((s) => `${ms(s.at - t0)} ${'what' in s ? s.what : s.type}`)
    if (events.length > 8) shown.push(`... ${events.length - 8} more`)
    lines.push(
      `- ${r.fault} / ${r.client}: ${shown.join('; ') || 'nothing'}. ` +
        `Heard ${r.signals.filter((s) => s.type === 'notification').length} of ${r.succeeded.length} answered` +
        `${v.losses.ranges.length ? `; missing ${v.losses.ranges.slice(0, 6).join(', ')}${v.losses.ranges.length > 6 ? ', ...' : ''}` : ''}` +
        `${r.problems.length ? `; problems: ${r.problems.join('; ')}` : ''}.`,
    )
  }

  const json = {
    command: input.command,
    date,
    boundMs: input.boundMs,
    durationMs: input.durationMs,
    versions: input.versions,
    settings: input.settings,
    cases: input.records.map((r) => {
      const notifications = r.signals.filter((s) => s.type === 'notification')
      const t0 = r.injectedAt ?? 0
      return {
        client: r.client,
        fault: r.fault,
        multiHost: r.multiHost,
        verdict: judge(r),
        cell: cell(r, judge(r)),
        injectedAt: r.injectedAt && new Date(r.injectedAt).toISOString(),
        seqAtInjection: r.seqAtInjection,
        afterRecovery: r.afterRecovery,
        answered: r.succeeded.length,
        failedQueries: r.failed,
        heard: notifications.length,
        signals: r.signals.filter((s) => s.type !== 'notification').map((s) => ({ ...s, ms: s.at - t0 })),
        problems: r.problems,
        durationMs: r.durationMs,
      }
    }),
  }
  return { markdown: lines.join('\n') + '\n', json }
}
