/**
 * `pglisten notify`: one notification from the command line, or one per line of standard input,
 * over one connection, in order. Imports connect(), the listener's quoting and limits, and the
 * command's own modules.
 *
 * A plain connection, not a Listener: a listener would open a listening connection it never
 * uses before opening its notifier. The statement is the one Listener.notify sends.
 */
import { connect } from '../protocol/index.ts'
import type { Connection } from '../protocol/io/connection.ts'
import { notifySql, payloadLimitBytes } from '../listener/sql.ts'
import type { NotifyCommand } from './args.ts'
import { notUtf8 } from './argument-bytes.ts'
import { openWithPassword } from './connection.ts'
import { InputError, UsageError } from './errors.ts'
import { readLines } from './lines.ts'
import { status } from './output.ts'

/** A line this long is refused without reading the rest of it (8 bytes per character is beyond any encoding). */
const maxLineBytes = payloadLimitBytes * 8

export async function notify(command: NotifyCommand): Promise<number> {
  // Refused as standard input refuses such a line, rather than sent with U+FFFD in it.
  const badBytes = command.payload === undefined ? undefined : notUtf8(command.payload)
  if (badBytes !== undefined) throw new UsageError(`the payload argument is not UTF-8: ${badBytes}; nothing was sent`, 'notify')
  const { value: connection } = await openWithPassword(command.connection, 'notify', connect)
  try {
    const send = sender(connection, command.channel)
    if (command.payload !== undefined) {
      await send(command.payload, (problem) => new UsageError(problem, 'notify'))
      return 0
    }
    if (process.stdin.isTTY) status('reading payloads from standard input, one per line; end with Ctrl-D')
    for await (const line of readLines(process.stdin, maxLineBytes)) {
      const sent = line.number === 1 ? 'nothing was sent' : line.number === 2 ? 'line 1 was sent' : `lines 1 to ${line.number - 1} were sent`
      await send(line.text, (problem) => new InputError(`standard input line ${line.number}: ${problem}; ${sent}`))
    }
    return 0
  } finally {
    await connection.close()
  }
}

/**
 * pg_notify(channel, payload), both as literals quoted for the server's
 * standard_conforming_strings, after the listener's check of the server's payload limit in
 * the server's encoding (so a bad line is refused before it is sent, and named).
 */
function sender(connection: Connection, channel: string) {
  return async (payload: string, refuse: (problem: string) => Error): Promise<void> => {
    let sql: string
    try {
      sql = notifySql(channel, payload, connection.parameters)
    } catch (error) {
      throw refuse((error as Error).message)
    }
    await connection.query(sql)
  }
}
