/**
 * `pglisten listen`: LISTENs on channels and prints each notification as a JSON line on stdout,
 * status lines on stderr, until SIGINT or SIGTERM. The listener reconnects by itself; the gaps
 * it reports are printed. Imports the listener and the command's own modules.
 */
import { ListenerError } from '../listener/errors.ts'
import { Listener } from '../listener/listener.ts'
import type { ListenCommand } from './args.ts'
import { describeTarget, endpointText, openWithPassword } from './connection.ts'
import { describeError } from './errors.ts'
import { channelList, gapLine, gapStatus, notificationLine } from './format.ts'
import { onStdoutClosed, status, writeLine } from './output.ts'

export async function listen(command: ListenCommand): Promise<number> {
  let listener: Listener | undefined
  let stopped = false
  const stop = (): void => {
    // Before the listener is up there is nothing to close cleanly, and connecting may take
    // long (libpq's default connect_timeout is none): leave at once.
    if (listener === undefined) process.exit(0)
    stopped = true
    void listener.close()
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  onStdoutClosed(stop)

  const { value, settings } = await openWithPassword(command.connection, 'listen', async (options) => {
    const candidate = new Listener(options)
    await candidate.start()
    return candidate
  })
  listener = value
  // The iterator exists before the first LISTEN, so that nothing heard is missed.
  const items = listener.notifications()
  listener.on('disconnected', ({ error, at }) => {
    status(`connection lost at ${at.toISOString()}${error ? `: ${describeError(error)}` : ''}; reconnecting`)
  })
  listener.on('error', (error) => status(describeError(error)))
  listener.on('notice', ({ fields }) => status(`${fields.severity ?? 'NOTICE'}: ${fields.message ?? ''}`))
  // The host it really reached (of several, perhaps), and what the server says it is.
  const where = listener.endpoint ? endpointText(listener.endpoint) : describeTarget(settings)
  const version = listener.parameters.get('server_version')
  status(`connected to ${where}${version ? ` (PostgreSQL ${version})` : ''}, database "${settings.database}" as "${settings.user}" (backend pid ${listener.processId})`)

  try {
    for (const channel of command.channels) await listener.listen(channel)
  } catch (error) {
    if (stopped) return 0 // a signal closed the listener while it was subscribing
    await listener.close()
    throw error
  }
  status(`listening on ${channelList(command.channels)}`)

  try {
    for await (const item of items) {
      if (item.type === 'Gap') {
        status(gapStatus(item, listener.processId))
        if (command.gaps) await writeLine(gapLine(item))
        continue
      }
      // Taken as the iterator hands it over, which is as the listener decodes it unless stdout
      // is holding us back (then the listener has stopped reading, and the time says so).
      await writeLine(notificationLine(item, new Date(), command.jsonPayload))
    }
  } catch (error) {
    // The iterator throws if the listener gives up; it has said why on the 'error' event.
    if (!(error instanceof ListenerError)) throw error
    return 1
  }
  return stopped ? 0 : 1
}
