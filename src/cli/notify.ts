/**
 * `pglisten notify`: one notification from the command line, or one per line of standard input,
 * over one connection, in order. Imports connect() and its errors, the listener's quoting and
 * limits, and the command's own modules.
 *
 * A plain connection, not a Listener: a listener would open a listening connection it never
 * uses before opening its notifier. The statement is the one Listener.notify sends.
 */
import { connect } from '../protocol/index.ts'
import { ConnectionLostError } from '../protocol/errors.ts'
import type { Connection } from '../protocol/io/connection.ts'
import { notifySql, payloadLimitBytes } from '../listener/sql.ts'
import type { NotifyCommand } from './args.ts'
import { openWithPassword } from './connection.ts'
import { describeError, InputError, UsageError } from './errors.ts'
import { readLines } from './lines.ts'
import { status } from './output.ts'

/** A line this long is refused without reading the rest of it (8 bytes per character is beyond any encoding). */
const maxLineBytes = payloadLimitBytes * 8

export async function notify(command: NotifyCommand): Promise<number> {
  const { value: connection } = await openWithPassword(command.connection, 'notify', connect)
  try {
    const send = sender(connection, command.channel)
    if (command.payload !== undefined) {
      await send(command.payload, (problem) => new UsageError(problem, 'notify'))
      return 0
    }
    if (process.stdin.isTTY) status('reading payloads from standard input, one per line; end with Ctrl-D')
    // A line is sent before the next is read: when one fails (refused here, refused by the
    // server, or its connection lost), every line before it has been sent, and none after it.
    let sent = 0
    /** The connection had ended before the line was sent: it was not sent, rather than perhaps. */
    let lostBefore = false
    try {
      for await (const line of readLines(process.stdin, maxLineBytes)) {
        lostBefore = connection.isClosed
        await send(line.text, (problem) => new InputError(`standard input line ${line.number}: ${problem}`))
        sent = line.number
      }
    } catch (error) {
      throw afterLines(error, sent, lostBefore)
    }
    return 0
  } finally {
    await connection.close()
  }
}

/**
 * The error that stopped standard input's lines, saying what was sent: `sent` lines, the one
 * that failed being the next. A refused line (an InputError, from here or ./lines.ts) names
 * itself already; anything else is named after the line it came with. Whether a line whose
 * connection was lost while it was being sent was committed, only the server knows; one whose
 * connection was already lost (`lostBefore`, while idle between lines) was not sent at all.
 */
function afterLines(error: unknown, sent: number, lostBefore: boolean): Error {
  const before = sent === 0 ? 'nothing was sent' : sent === 1 ? 'line 1 was sent' : `lines 1 to ${sent} were sent`
  if (error instanceof InputError) return new InputError(`${error.message}; ${before}`)
  const line = sent + 1
  // Lost before the line went: it was not sent ("nothing was sent" says so of line 1 already).
  const fate = !(error instanceof ConnectionLostError) ? '' : !lostBefore ? `; whether line ${line} was is not known` : sent === 0 ? '' : `; line ${line} was not`
  return new Error(`standard input line ${line}: ${describeError(error)}; ${before}${fate}`, { cause: error })
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
