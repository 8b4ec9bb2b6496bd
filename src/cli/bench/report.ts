/**
 * The bench's results as a table (psql's aligned format, for people) or as JSON (--json, for
 * machines). Pure: imports the bench's result types and the stop signals' names only.
 */
import type { StopSignal } from '../stop-signals.ts'
import type { PhaseResult } from './stats.ts'

/** A phase's figures; partial when a signal stopped its sending early. */
export type ReportedPhase = PhaseResult & { partial?: boolean }

export interface BenchReport {
  server: { version: string | undefined; address: string }
  listeners: number
  notifiers: number
  amount: { count: number } | { seconds: number }
  warmup: number
  /** The signal that stopped the bench before it measured every payload size in full. */
  interrupted?: StopSignal
  results: ReportedPhase[]
}

/** What the figures mean, said once, in both outputs. */
export const definitions = {
  latency:
    "from the notifier calling query() with the NOTIFY (which writes it to the socket at once) to the listener process's iterator handing the notification over; both ends read process.hrtime, the machine's monotonic clock, so it includes the NOTIFY's trip to the server, its execution and commit, the listening backend's wake-up and send, the trip back, and decoding",
  throughput:
    'notifications per second from the first NOTIFY sent to the last notification received by any listener; deliveries per second counts each listener\'s copy (notifications × listeners when none is lost)',
  cpu: "user + system CPU time of the listener processes between the phase's start and its end marker, divided by the notifications they received",
} as const

export function formatJson(report: BenchReport): string {
  const round = (value: number, digits: number) => (Number.isFinite(value) ? Number(value.toFixed(digits)) : null)
  return `${JSON.stringify(
    {
      server: report.server,
      listeners: report.listeners,
      notifiers: report.notifiers,
      per_payload_size: 'count' in report.amount ? { notifications: report.amount.count } : { seconds: report.amount.seconds },
      warmup_notifications: report.warmup,
      interrupted: report.interrupted ?? null,
      definitions: report.results.length > 0 ? definitions : undefined,
      results: report.results.map((r) => ({
        payload_bytes: r.payloadBytes,
        partial: r.partial === true,
        notifications: r.notifications,
        deliveries: r.deliveries,
        lost: r.lost,
        gaps: r.gaps,
        seconds: round(r.seconds, 6),
        notifications_per_second: round(r.notificationsPerSecond, 1),
        deliveries_per_second: round(r.deliveriesPerSecond, 1),
        latency_ms: { p50: round(r.latency.p50, 3), p90: round(r.latency.p90, 3), p99: round(r.latency.p99, 3), max: round(r.latency.max, 3) },
        listener_cpu_us_per_notification: round(r.listenerCpuMicrosPerNotification, 2),
      })),
    },
    null,
    2,
  )}\n`
}

export function formatTable(report: BenchReport): string {
  const { server, listeners, notifiers, amount, warmup, interrupted } = report
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`
  const per = 'count' in amount ? `${plural(amount.count, 'NOTIFY')} per payload size` : `${amount.seconds} s per payload size`
  const title = `pglisten bench: PostgreSQL ${server.version ?? '(version unknown)'} at ${server.address}; ${plural(listeners, 'listener')}, ${plural(notifiers, 'notifier')}; ${per}${warmup > 0 ? `, after ${warmup} to warm up` : ''}${interrupted ? `; interrupted by ${interrupted}` : ''}`
  const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : '-')
  const rows = report.results.map((r) => [
    `${r.payloadBytes} B${r.partial ? ' (partial)' : ''}`,
    String(r.notifications),
    String(r.lost),
    fixed(r.notificationsPerSecond, 0),
    fixed(r.deliveriesPerSecond, 0),
    fixed(r.latency.p50, 3),
    fixed(r.latency.p90, 3),
    fixed(r.latency.p99, 3),
    fixed(r.latency.max, 3),
    fixed(r.listenerCpuMicrosPerNotification, 1),
  ])
  const headers = ['payload', 'sent', 'lost', 'notify/s', 'deliveries/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'CPU µs/notif']
  const lines = [title, '', ...alignedTable(headers, rows), '']
  // The table's footnotes: the JSON's definitions, shortened, wrapped for a terminal.
  lines.push(...wrap("latency: from the notifier's query() call with the NOTIFY to the listener process's iterator handing it over, both ends reading the machine's monotonic clock: the trip to the server, NOTIFY and its commit, the listening backend's wake-up and send, the trip back, decoding."))
  lines.push(...wrap("notify/s: NOTIFYs per second, from the first sent to the last received by any listener; deliveries/s counts each listener's copy; lost: copies not received."))
  lines.push(...wrap("CPU µs/notif: the listener processes' user + system CPU time during the phase, per notification received."))
  if (report.results.some((r) => r.partial)) lines.push(...wrap(`(partial): ${interrupted ?? 'a signal'} came while this size was being sent; its figures cover the NOTIFYs sent until then.`))
  const lost = report.results.reduce((sum, r) => sum + r.lost, 0)
  if (lost > 0) lines.push(`${lost} notifications were not delivered (gaps: ${report.results.reduce((sum, r) => sum + r.gaps, 0)}): a listener reconnected, or the queue overflowed.`)
  return `${lines.join('\n')}\n`
}

/** Lines of at most `width` characters, broken at spaces, the ones after the first indented. */
export function wrap(text: string, width = 96, indent = '  '): string[] {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line)
      line = indent + word
    } else line = line === '' ? word : `${line} ${word}`
  }
  if (line !== '') lines.push(line)
  return lines
}

/** psql's aligned format: headers centred, values right-aligned, columns split by " | ". */
export function alignedTable(headers: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => row[column]!.length)))
  const centre = (text: string, width: number) => {
    const left = Math.floor((width - text.length) / 2)
    return `${' '.repeat(left)}${text}${' '.repeat(width - text.length - left)}`
  }
  const line = (cells: readonly string[]) => ` ${cells.join(' | ')} `.trimEnd()
  return [
    line(headers.map((header, column) => centre(header, widths[column]!))),
    widths.map((width) => '-'.repeat(width + 2)).join('+'),
    ...rows.map((row) => line(row.map((cell, column) => cell.padStart(widths[column]!)))),
  ]
}
