/**
 * `pglisten bench`: N listener processes, M notifier connections, one phase per payload size;
 * a table or JSON at the end. Imports connect(), the command's connection handling, and the
 * bench's parts beside it.
 *
 * A phase: every listener process resets its counters (and says so), the notifiers send until
 * the count or the time runs out, then one more NOTIFY, "end <phase>", is sent once every
 * other has committed. PostgreSQL delivers notifications in commit order, so a listener that
 * reads the marker has read the whole phase, and reports.
 *
 * SIGINT, SIGTERM or SIGHUP ends a phase the same way, only sooner (./interruption.ts): the
 * notifiers stop taking NOTIFYs, the marker follows the ones in flight, and the phase is reported
 * as partial after those before it. No phase starts after the signal.
 */
import { connect } from '../../protocol/index.ts'
import type { ConnectOptions } from '../../protocol/io/connect.ts'
import type { Connection } from '../../protocol/io/connection.ts'
import { quoteIdentifier } from '../../listener/sql.ts'
import { connectOptionsFrom } from '../connection-args.ts'
import { warning } from '../output.ts'
import { endpointText, openWithPassword, stderrTracer } from '../connection.ts'
import { terminalSafeLines } from '../terminal.ts'
import type { BenchCommand } from './args.ts'
import { ListenerProcess } from './listeners.ts'
import { countQuota, sendNotifications, timeQuota } from './notifiers.ts'
import { endMarker, nanosSince } from './payload.ts'
import { Progress } from './progress.ts'
import { Interruption } from './interruption.ts'
import { formatJson, formatTable, type ReportedPhase } from './report.ts'
import { benchReplication, formatReplicationTable } from './replication.ts'
import { phaseResult } from './stats.ts'

/** How long a stopped phase's listeners get to report after the signal before it is left out. */
const reportGraceMs = 5_000

export async function bench(command: BenchCommand): Promise<number> {
  // The first notifier settles the password (a prompt, if the server wants one); the other
  // notifiers and the listener processes then connect with it.
  const { value: first, password } = await openWithPassword(command.connection, 'bench', connect)
  const options = connectOptionsFrom(command.connection, password)
  const notifiers: Connection[] = [first]
  const listeners: ListenerProcess[] = []
  const progress = new Progress(command.progressInterval * 1000)
  // Ctrl-C reaches the listener processes too (one process group): they ignore it, and stop
  // when the bench lets them go, after their last report.
  const interruption = new Interruption((signal) => {
    progress.log(`pglisten: bench: ${signal}: stopping; the results so far follow (${signal === 'SIGHUP' ? 'SIGINT or SIGTERM' : `${signal} again`} to quit at once)`)
  })
  try {
    const more = Array.from({ length: command.notifiers - 1 }, () => connect({ ...options, onWarning: warning, ...(command.connection.trace ? { trace: stderrTracer() } : {}) }))
    keep(await Promise.allSettled(more), notifiers)
    if (command.replication) return await replicationMode(command, notifiers, options, progress, interruption)
    const channel = `pglisten bench ${process.pid}`
    const epoch = process.hrtime.bigint()
    progress.update(`starting ${command.listeners} listener process${command.listeners === 1 ? '' : 'es'}`)
    const init = { type: 'init', options, channel, epoch: String(epoch), trace: command.connection.trace } as const
    keep(await Promise.allSettled(Array.from({ length: command.listeners }, (_, i) => ListenerProcess.start(i, init))), listeners)

    const phase = phaseRunner(notifiers, listeners, channel, epoch, progress, interruption)
    if (command.warmup > 0 && !interruption.signal) await phase(0, 'warm-up', command.payloads[0]!, { count: command.warmup })
    const results: ReportedPhase[] = []
    for (const [i, size] of command.payloads.entries()) {
      if (interruption.signal) break
      const result = await phase(i + 1, `${size} B (${i + 1}/${command.payloads.length})`, size, command.amount)
      if (result === undefined) continue
      const partial = result.partial ? ' (partial)' : ''
      progress.log(`pglisten: bench: ${size} B${partial}: ${result.notifications} notifications, ${Math.round(result.notificationsPerSecond)}/s, p50 ${result.latency.p50.toFixed(3)} ms`)
      results.push(result)
    }
    progress.clear()
    if (results.length === 0) {
      progress.log(`pglisten: bench: ${interruption.signal} before any payload size was measured: no results`)
      return interruption.status
    }
    const report = {
      server: { version: first.parameters.get('server_version'), address: endpointText(first.endpoint) },
      listeners: command.listeners,
      notifiers: command.notifiers,
      amount: command.amount,
      warmup: command.warmup,
      ...(interruption.signal ? { interrupted: interruption.signal } : {}),
      results,
    }
    // The server's version is the server's text: as every line the command writes, made safe for a terminal.
    process.stdout.write(terminalSafeLines(command.json ? formatJson(report) : formatTable(report)))
    return interruption.status
  } finally {
    progress.clear()
    for (const listener of listeners) listener.stop()
    await Promise.all(notifiers.map((connection) => connection.close()))
    interruption.remove()
  }
}

/** --replication: the writers insert, one replicate() stream decodes; a table or JSON at the end. */
async function replicationMode(command: BenchCommand, writers: Connection[], options: ConnectOptions, progress: Progress, interruption: Interruption): Promise<number> {
  const phases = await benchReplication({
    connect,
    options: { ...options, onWarning: warning, ...(command.connection.trace ? { trace: stderrTracer() } : {}) },
    writers,
    payloads: command.payloads,
    amount: command.amount,
    stopped: () => interruption.signal !== undefined,
    progress: (line) => progress.log(line),
  })
  progress.clear()
  const first = writers[0]!
  const server = { version: first.parameters.get('server_version'), address: endpointText(first.endpoint) }
  const per = 'count' in command.amount ? `${command.amount.count} rows per payload size` : `${command.amount.seconds} s per payload size`
  const title = `pglisten bench --replication: PostgreSQL ${server.version ?? '(version unknown)'} at ${server.address}; ${writers.length} writer${writers.length === 1 ? '' : 's'}; ${per}${interruption.signal ? `; interrupted by ${interruption.signal}` : ''}`
  process.stdout.write(terminalSafeLines(command.json ? `${JSON.stringify({ server, writers: writers.length, amount: command.amount, interrupted: interruption.signal ?? null, results: phases }, null, 2)}\n` : formatReplicationTable(title, phases)))
  return interruption.status
}

/**
 * Adds what opened to `into`, then throws the first failure if there was one: the caller's
 * `finally` closes the connections (and stops the processes) in `into` either way.
 */
function keep<T>(outcomes: PromiseSettledResult<T>[], into: T[]): void {
  for (const outcome of outcomes) if (outcome.status === 'fulfilled') into.push(outcome.value)
  const failure = outcomes.find((outcome) => outcome.status === 'rejected')
  if (failure) throw failure.reason
}

/**
 * Runs one phase; its result is partial if a signal stopped the sending, and undefined if the
 * signal left nothing to report (no NOTIFY sent, or listeners that did not report in time).
 */
function phaseRunner(notifiers: Connection[], listeners: ListenerProcess[], channel: string, epoch: bigint, progress: Progress, interruption: Interruption) {
  return async (id: number, label: string, size: number, amount: BenchCommand['amount']): Promise<ReportedPhase | undefined> => {
    await Promise.all(listeners.map((listener) => listener.start(id)))
    let sent = 0
    const start = nanosSince(epoch)
    const quota = 'count' in amount ? countQuota(amount.count) : timeQuota(epoch, start + amount.seconds * 1e9)
    let cut = false
    const forget = interruption.onStop(() => {
      cut = true
      quota.stop()
    })
    const show = () => {
      const seconds = (nanosSince(epoch) - start) / 1e9
      const received = listeners.reduce((sum, listener) => sum + listener.received, 0)
      progress.update(`${label}: ${sent} sent, ${received} received, ${Math.round(sent / Math.max(seconds, 1e-3))}/s, ${seconds.toFixed(1)} s`)
    }
    const ticker = setInterval(show, 200)
    try {
      await sendNotifications(notifiers, channel, size, quota, epoch, () => sent++)
      forget() // a signal from here on lets the phase finish: every NOTIFY it counts is sent
      const sending = (nanosSince(epoch) - start) / 1e6
      await notifiers[0]!.query(`NOTIFY ${quoteIdentifier(channel)}, '${endMarker(id)}'`)
      // A listener that is behind gets as long again as the sending took, and 30 s more; after
      // a signal, a few seconds.
      const reports = await interruption.within(Promise.all(listeners.map((listener) => listener.done(30_000 + sending))), reportGraceMs)
      if (reports === undefined) {
        progress.log(`pglisten: bench: ${label}: the listeners did not report within ${reportGraceMs / 1000} s of ${interruption.signal}; left out`)
        return undefined
      }
      if (cut && sent === 0) return undefined
      const partial = cut && !('count' in amount && sent === amount.count)
      return { ...phaseResult(size, sent, start, reports), ...(partial ? { partial } : {}) }
    } finally {
      forget()
      clearInterval(ticker)
    }
  }
}
