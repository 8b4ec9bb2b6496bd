/**
 * `pglisten listen`: LISTENs on channels and prints each notification as a JSON line on stdout,
 * status lines on stderr, until SIGINT, SIGTERM or SIGHUP (./stop-signals.ts). The listener
 * reconnects by itself, as --reconnect-delay, --max-attempts and --heartbeat say; its attempts
 * and the gaps it reports are printed. Imports the listener and the command's own modules.
 */
import { Backoff } from '../listener/backoff.ts'
import { ConsumerStalledError, ListenerError } from '../listener/errors.ts'
import { Listener } from '../index.ts'
import type { ListenCommand } from './args.ts'
import { describeTarget, endpointText, openWithPassword } from './connection.ts'
import { describeError } from './errors.ts'
import { channelList, gapLine, gapStatus, notificationLine } from './format.ts'
import { exitWhenWritten, onStdoutClosed, status, writeLine } from './output.ts'
import { ReconnectReport } from './reconnect-report.ts'
import { repeatsHangUp, stopSignals } from './stop-signals.ts'

/**
 * After a signal, how long stdout and stderr have to take the lines their readers have not yet:
 * a reader that keeps up loses none, one that has stopped reading (`| sleep 1000`) does not hold
 * the command.
 */
const afterSignalWaitMs = { stdout: 1_000, stderr: 1_000 }

export async function listen(command: ListenCommand): Promise<number> {
  let listener: Listener | undefined
  let stopped = false
  /** 1 once the listener has given up: the command failed, and a signal after that changes nothing of it. */
  let failed: 1 | undefined
  /**
   * Aborted when the command is stopped: a write waiting for stdout's reader waits no more, and
   * the lines written after it (what the listener still held) do not wait at all, nor leave a
   * 'drain' listener each on stdout (Node's MaxListenersExceededWarning, on stderr).
   */
  const stopWaiting = new AbortController()
  const write = (line: string): Promise<void> => writeLine(line, stopWaiting.signal)
  const stop = (signal?: NodeJS.Signals): void => {
    // Before the listener is up there is nothing to close cleanly, and connecting may take
    // long (libpq's default connect_timeout is none): leave at once. So too at a second signal,
    // while the first waits for stdout and stderr: still status 0 (1 if the listener had given
    // up), not death by the signal; but for a SIGHUP, the same hang-up told again (./stop-signals.ts).
    if (stopped && repeatsHangUp(signal)) return
    if (listener === undefined || stopped) process.exit(failed ?? 0)
    stopped = true
    stopWaiting.abort()
    // The listener gave up and the command has ended, its status 1, leaving once stdout has
    // taken what it holds, which a reader that has stopped reading never does: leave now.
    if (failed !== undefined) return void exitWhenWritten(failed, afterSignalWaitMs)
    void listener.close()
  }
  for (const signal of stopSignals) process.on(signal, stop)
  onStdoutClosed(stop)

  const { value, settings } = await openWithPassword(command.connection, 'listen', async (options) => {
    const heartbeat = command.heartbeat === undefined ? {} : { heartbeat: command.heartbeat }
    // stallTimeout: false. The command has one consumer, its own loop, which stops only while
    // stdout's reader does: cutting it off after 30 s (the library's default, so that one idle
    // iterator cannot hold others back) would hold back nobody here, only drop what the reader
    // will still want. A slow pipe waits, and the backpressure reaches the server, as README says.
    const candidate = new Listener({ ...options, reconnect: command.reconnect, ...heartbeat, stallTimeout: false })
    // Before start(): a NOTICE or WARNING the server sends at login (a database's setting it
    // cannot apply) comes with the first connection, as psql shows it.
    candidate.on('notice', ({ fields }) => status(`${fields.severity ?? 'NOTICE'}: ${fields.message ?? ''}`))
    await candidate.start()
    return candidate
  })
  const live = value
  listener = live
  // The iterator exists before the first LISTEN, so that nothing heard is missed.
  const items = live.notifications()
  const report = new ReconnectReport(status, new Backoff(command.reconnect).maxDelay)
  live.on('disconnected', ({ error, at }) => {
    status(`connection lost at ${at.toISOString()}${error ? `: ${describeError(error)}` : ''}; reconnecting`)
  })
  live.on('reconnecting', (next) => report.reconnecting(next))
  live.on('connected', () => report.connected())
  // The listener's state says whose error this is: while it is lost, a failed attempt's;
  // once it has closed by itself, its giving up; otherwise something to say as it is.
  live.on('error', (error) => {
    const state = live.stats.state
    if (state === 'lost' && !(error instanceof ConsumerStalledError)) report.failed(error)
    else if (state === 'closed' && !stopped && error instanceof ListenerError) report.gaveUp(error)
    else status(describeError(error))
  })
  // The host it really reached (of several, perhaps), and what the server says it is.
  const where = live.endpoint ? endpointText(live.endpoint) : describeTarget(settings)
  const version = live.parameters.get('server_version')
  status(`connected to ${where}${version ? ` (PostgreSQL ${version})` : ''}, database "${settings.database}" as "${settings.user}" (backend pid ${live.processId})`)

  try {
    for (const channel of command.channels) await live.listen(channel)
  } catch (error) {
    if (stopped) return 0 // a signal closed the listener while it was subscribing
    await live.close()
    throw error
  }
  status(`listening on ${channelList(command.channels)}`)

  try {
    for await (const item of items) {
      if (item.type === 'Gap') {
        status(gapStatus(item, live.processId))
        if (command.gaps) await write(gapLine(item))
        continue
      }
      // Taken as the iterator hands it over, which is as the listener decodes it unless stdout
      // is holding us back (then the listener has stopped reading, and the time says so).
      await write(notificationLine(item, new Date(), command.jsonPayload))
    }
  } catch (error) {
    // The iterator throws if the listener gives up; it has said why on the 'error' event.
    if (!(error instanceof ListenerError)) throw error
    failed = 1
    // A signal came while the lines before the failure waited for stdout: it must still end
    // the command at once, as stop() promises, whatever stdout's reader does.
    return stopped ? exitWhenWritten(failed, afterSignalWaitMs) : failed
  }
  // Stopped: leaving through main would wait for stdout as long as it takes, and its reader
  // may have stopped reading; a signal must end the command all the same.
  if (stopped) return exitWhenWritten(0, afterSignalWaitMs)
  return 1
}
