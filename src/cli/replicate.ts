/**
 * `pglisten replicate`: streams a logical replication slot's changes and prints each as a JSON
 * line on stdout, status lines on stderr, until SIGINT, SIGTERM or SIGHUP (./stop-signals.ts).
 * Imports pglisten/replication and the command's own modules.
 *
 * A change is acknowledged (stream.ack) once its line is written: once stdout has handed it to
 * the operating system, not when write() returns. The slot moves by whole transactions, so a
 * signal lets the transaction being printed finish before close() sends the last
 * acknowledgement: a clean restart then repeats nothing. After a kill, the slot still has
 * everything not yet reported, and prints it again.
 */
import type { ConnectOptions } from '../protocol/io/connect.ts'
import { formatLsn, replicate as stream, type Lsn, type ReplicationStream } from '../replication.ts'
import type { ReplicateCommand } from './args.ts'
import { describeTarget, openWithPassword } from './connection.ts'
import { describeError } from './errors.ts'
import { exitWithoutStdout, onStdoutClosed, status, writeLineConfirmed } from './output.ts'
import { changeLine, cliValue, publicationList } from './replicate-format.ts'
import { repeatsHangUp, stopSignals } from './stop-signals.ts'

/** What the stream tells onReconnect. */
interface Lost {
  attempt: number
  error: Error
  resumeFrom: Lsn
}

export async function replicate(command: ReplicateCommand): Promise<number> {
  let live: ReplicationStream | undefined
  /** After a first signal, the transaction being printed is finished; after a second, or when stdout is gone, nothing more. */
  let stopping = 'no' as 'no' | 'after-transaction' | 'now' // `as`: the handlers change it, which narrowing cannot see
  /** The xid of the transaction whose Begin was handed over and whose Commit was not. */
  let inTransaction: number | undefined
  /** The loop is waiting for the stream, with nothing in hand to write: only close() wakes it. */
  let waiting = false
  let stdoutGone = false
  /** Stdout failed to take a line (ENOSPC, EIO; not its reader leaving): a failure, whatever comes after. */
  let writeFailed = false
  /** A line is being written: a first signal lets it finish (and be acknowledged), even between transactions. */
  let writing = false
  /** Resolves when stopping at once: a write that stdout's reader is not taking is not waited for. */
  let abandonWrite!: () => void
  const writeAbandoned = new Promise<'abandoned'>((resolve) => (abandonWrite = () => resolve('abandoned')))

  /** Stop at once: close() ends a wait for the next change, and a write still waiting for stdout is given up. */
  const stopNow = (): void => {
    stopping = 'now'
    abandonWrite()
    if (waiting) void live?.close()
  }

  /**
   * A first signal stops after the transaction being printed (or the line being written, a
   * message outside any transaction), or at once between them; a second stops at once (that
   * transaction comes again next time); one more, while closing (stdout not draining, a server
   * not answering), leaves without closing: the slot still has everything not yet reported.
   * After a failed write, whatever the signals, the status is 1. A SIGHUP once stopping is the
   * same hang-up told again, not a second signal (./stop-signals.ts).
   */
  const stop = (signal?: NodeJS.Signals): void => {
    if (stopping !== 'no' && repeatsHangUp(signal)) return
    // Before streaming starts nothing has been printed, so nothing is owed an acknowledgement;
    // and connecting may take long (libpq's default connect_timeout is none): leave at once.
    if (live === undefined || stopping === 'now') {
      stopping = 'now' // a connection made while stderr drains streams nothing
      return void exitWithoutStdout(writeFailed ? 1 : 0)
    }
    if (stopping === 'no' && !writeFailed && (inTransaction !== undefined || writing)) {
      stopping = 'after-transaction'
      const what = inTransaction !== undefined ? `transaction ${inTransaction}` : 'the line being written'
      // A SIGHUP again would be the same hang-up (./stop-signals.ts): another signal is needed.
      status(`stopping after ${what}, so that it is not printed again; ${repeatsHangUp(signal) ? 'SIGINT or SIGTERM' : 'signal again'} to stop at once`)
      return
    }
    stopNow()
  }
  for (const signal of stopSignals) process.on(signal, stop)
  onStdoutClosed(() => {
    stdoutGone = true
    if (live === undefined) {
      stopping = 'now' // a connection made while stderr drains streams nothing
      return void exitWithoutStdout(0)
    }
    stopNow()
  })

  const lost = ({ attempt, error, resumeFrom }: Lost): void => {
    status(`connection lost: ${describeError(error)}; reconnecting (attempt ${attempt}) to resume from ${formatLsn(resumeFrom)}`)
    // The transaction being printed comes again from its Begin, and so does its end: stopping
    // after it would wait for a whole transaction more.
    inTransaction = undefined
    if (stopping === 'after-transaction') stopNow()
  }

  try {
    const { value: opened, settings } = await openWithPassword(command.connection, 'replicate', (options) => openStream(command, options, lost))
    live = opened.stream
    status(`connected to ${describeTarget(settings)}`)
    status(`streaming ${command.temporary ? 'temporary ' : ''}slot "${command.slot}" (${publicationList(command.publications)}) from ${formatLsn(opened.start)}`)

    // After a change is written and acknowledged: stop at once, or the transaction it ended was
    // the last. A function, not an expression: the signal handlers change `stopping` meanwhile.
    const stopsHere = (): boolean => stopping === 'now' || (stopping === 'after-transaction' && inTransaction === undefined)
    // Take a change, write its line, and only once stdout has taken it acknowledge it; then
    // stop if asked to. close() however the loop ends: it tells the server the last
    // acknowledgement before the connection goes.
    const items = live[Symbol.asyncIterator]()
    /** The change's place in its transaction: the same each time the transaction comes. */
    let seq = 0
    /** A line stdout's reader had not taken when the command stopped at once. */
    let stuck = false
    try {
      for (;;) {
        waiting = true
        const next = await items.next()
        waiting = false
        if (next.done || stopping === 'now') break
        const change = next.value
        if (change.kind === 'begin') {
          inTransaction = change.xid
          seq = 0
        } else if (change.kind === 'commit') inTransaction = undefined
        else seq++
        const line = changeLine(change, seq)
        if (line !== undefined) {
          // A line stdout did not take is not acknowledged: the slot keeps it for next time.
          writing = true
          const written = await Promise.race([writeLineConfirmed(line), writeAbandoned])
          writing = false
          stuck = written === 'abandoned'
          writeFailed = written === 'failed'
          if (written !== 'written') break
        }
        live.ack(change)
        if (stopsHere()) break
      }
    } finally {
      await live.close()
    }
    status(command.temporary ? 'stopped; the temporary slot went with the connection' : `stopped; acknowledged up to ${formatLsn(live.flushedLsn)}, where a restart resumes`)
    // Leaving through main would wait for stdout to take that line, which its reader is not doing.
    // Awaited, so that the signal handlers stay while stderr drains: one more signal exits 0 too.
    if (stuck) return await exitWithoutStdout(0)
    // The stream ends without an error only when closed, and this command closes it only when
    // asked to stop: anything else is a failure (stdout refused a line, and said why), even if
    // a signal came while closing.
    return writeFailed || (stopping === 'no' && !stdoutGone) ? 1 : 0
  } finally {
    for (const signal of stopSignals) process.off(signal, stop)
  }
}

/**
 * A stream that has started: START_REPLICATION answered, from the LSN its `ready` gives (the
 * later of --start and the slot's confirmed position). A first connection that fails ends
 * the stream, and its error reaches openWithPassword, which asks for a password if that is
 * what the server wanted; an attempt the stream makes again before it has started (a slot
 * still held by the walsender of a process that just ended) is said.
 */
async function openStream(command: ReplicateCommand, options: ConnectOptions, lost: (info: Lost) => void): Promise<{ stream: ReplicationStream; start: Lsn }> {
  let started = false
  const candidate = stream({
    connection: options,
    slot: command.slot,
    publications: command.publications,
    create: command.create,
    temporary: command.temporary,
    messages: command.messages,
    reconnect: command.reconnect,
    parse: cliValue,
    ...(command.start === undefined ? {} : { start: command.start }),
    onReconnect(info) {
      if (started) lost(info)
      else status(`${describeError(info.error)}; trying again (attempt ${info.attempt})`)
    },
  })
  const start = await candidate.ready
  started = true
  return { stream: candidate, start }
}
