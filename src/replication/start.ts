/**
 * Each connection of a replication stream, from its start to its end: the replication
 * connection opened, the first look at the slot (slot-check.ts), START_REPLICATION, on a
 * reconnect the second look (resume-check.ts); and which failures are worth reconnecting for.
 * What the copy carries is the stream's (stream.ts), handed in as a CopyLoop. Imports the
 * protocol's Connection, errors and replication commands, the ledger's type and the slot checks.
 */
import type { Connection } from '../protocol/io/connection.ts'
import { AttemptSignal } from '../protocol/io/attempt-signal.ts'
import { ConnectionLostError, DatabaseError, type NoticeFields } from '../protocol/errors.ts'
import { startReplication, type PgoutputOptions } from '../protocol/replication/commands.ts'
import type { Lsn } from '../protocol/replication/lsn.ts'
import { listeningKeepAlive } from '../listener/connect-options.ts'
import { ReplicationError } from './errors.ts'
import type { AckLedger } from './ledger.ts'
import type { Settings } from './options.ts'
import { checkSlot, makeSlot, slotGone } from './slot-check.ts'
import { confirmResume, movedPast } from './resume-check.ts'
import { watchConnection } from './watch.ts'

/**
 * Before the stream has ever started, a failure is the caller's to see at once (a wrong
 * password, no such slot), as libpq's first connection is, with one exception: a slot still
 * in use (55006) is most often this program's own previous walsender, not yet aware that its
 * client was killed, and is tried this many times.
 */
const busySlotAttempts = 5

/** The longest message the protocol can frame (its length is an Int32): the replication connection's default maxMessageLength. */
const largestMessage = 2 ** 31 - 1

/** The stream's side of one copy (stream.ts): what it reads, and when it may report. */
export interface CopyLoop {
  /** One CopyData from the server (XLogData or a primary keepalive), from the read loop. */
  data(data: Uint8Array): void
  /** A reconnect's second look at the slot is under way: no standby status update until streaming(). */
  holdStatus(): void
  /** START_REPLICATION (and on a reconnect the second look) is done: the stream is under way from `start`. */
  streaming(start: Lsn): void
  /** The connection is done with. */
  end(): void
}

/** What one connection needs of its stream, passed in. */
export interface StreamState {
  /** START_REPLICATION has succeeded on an earlier connection: this one resumes the stream. */
  started: boolean
  /** What was acknowledged: where to start, and how far the slot may be found. */
  ledger: AckLedger
  /** The copy loop for `connection`, made before START_REPLICATION is sent. */
  copy(connection: Connection, walSenderTimeout: number): CopyLoop
}

/**
 * One connection: connect, check (or make) the slot, start streaming, and read until the
 * copy ends. Connecting and checking the slot is one attempt, and START_REPLICATION up to
 * the server's CopyBothResponse (on a reconnect, up to the second look at the slot that
 * follows it) another, each bounded by attemptTimeout; making a slot is
 * not (it waits for every transaction running at the time to end). `stop` (close()) ends any
 * of them at once.
 */
export async function streamOnce(s: Settings, stop: AbortSignal, { started, ledger, copy: copyOn }: StreamState): Promise<void> {
  let attempt = new AttemptSignal(stop, s.attemptTimeout)
  const lost = (bound: AttemptSignal) => () => new ConnectionLostError(bound.timedOut ? `the attempt did not finish within ${s.attemptTimeout} ms` : 'the replication stream is closed', { cause: bound.signal.reason })
  let connection: Connection | undefined
  let copy: CopyLoop | undefined
  let unguard = (): void => undefined
  /** This connection is done with: a look at the slot answering late starts nothing. */
  let over = false
  /** START_REPLICATION is sent and its CopyBothResponse not yet come: the walsender is taking the slot. */
  let acquiring = false
  /** Ends a look at the slot still under way when this connection is done with (close(), a failure). */
  const looking = new AbortController()
  /**
   * One look at the publications at a time: each missing publication has its own WARNING, and
   * any change to pg_publication repeats them, so a look each would pile up connections.
   * `heard` is a WARNING that came during the look under way, which may have read the catalog
   * before that drop: it is looked into once that look is done.
   */
  let lookUnderWay = false
  let heard: NoticeFields | undefined
  const lookAtPublications = (fields: NoticeFields): void => {
    if (lookUnderWay) return void (heard = fields)
    lookUnderWay = true
    const look = new AttemptSignal(looking.signal, s.attemptTimeout)
    publicationGone(s, look.signal, fields)
      .catch(() => undefined) // a look that cannot be made proves nothing
      .then((gone) => {
        look.dispose()
        if (gone) return void (!over && connection?.abort(gone)) // the stream ends: no more looks
        lookUnderWay = false
        const again = heard
        heard = undefined
        if (again && !over) lookAtPublications(again)
      })
  }
  try {
    // TCP keepalive on, as for a listening connection: a server gone without a word is noticed.
    // No message refused for its length unless the user sets one: a change is as large as its
    // values, and one refused would stop the stream at it on every restart. (A text value
    // longer than the runtime's strings, about 512 MiB in V8, still cannot be handed on.)
    const maxMessageLength = s.connection.maxMessageLength ?? largestMessage
    const onNotice = s.connection.onNotice
    connection = await s.connect({
      ...s.connection,
      keepAlive: s.connection.keepAlive ?? listeningKeepAlive,
      maxMessageLength,
      replication: 'database',
      signal: attempt.signal,
      onNotice: (notice) => {
        // Before the user's handler, which may throw.
        if (notice.fields.routine === 'LoadPublications') lookAtPublications(notice.fields)
        // Its promise handed back, so that an async one's rejection reaches onHandlerError, as without this wrapper.
        return typeof onNotice === 'function' ? onNotice(notice) : undefined
      },
    })
    unguard = abortOn(attempt.signal, connection, lost(attempt))
    const serverVersion = parseInt(connection.parameters.get('server_version') ?? '0', 10)
    if (serverVersion > 0 && serverVersion < 14) throw new ReplicationError(`logical replication through pglisten needs PostgreSQL 14 or later; this server is ${serverVersion}`)
    const protocolVersion = s.protocolVersion ?? (serverVersion >= 16 ? 4 : serverVersion === 15 ? 3 : 2)
    const slot = await checkSlot(connection, s.slot, s.publications)
    // Once started, the slot is where this stream last reported it, or behind: further on,
    // someone else moved it (another consumer, pg_replication_slot_advance) or dropped and
    // made it again, and what lay between was never handed out here. Looked at again once
    // START_REPLICATION holds the slot (resume-check.ts), for a move made in between.
    if (started && slot.confirmed !== undefined && slot.confirmed > ledger.flushed) throw movedPast(s.slot, ledger.flushed, slot.confirmed)
    unguard()
    attempt.dispose()
    let confirmed = slot.confirmed
    if (s.temporary || confirmed === undefined) {
      unguard = abortOn(stop, connection, () => new ConnectionLostError('the replication stream is closed', { cause: stop.reason }))
      confirmed = await makeSlot(connection, s, { firstStart: !started, serverVersionNum: serverVersion * 10000 })
      unguard()
    }
    // The slot has everything before its confirmed position confirmed already: reporting less
    // would be wrong (and before PostgreSQL 17 could even move the slot back).
    ledger.resumeAt(confirmed)
    const open = connection
    const loop = (copy = copyOn(open, slot.walSenderTimeout))
    const options: PgoutputOptions = {
      protocolVersion,
      publications: s.publications,
      messages: s.messages,
      twoPhase: s.twoPhase,
      streaming: s.streaming && protocolVersion >= 2 ? 'on' : 'off',
    }
    const start = ledger.flushed
    attempt = new AttemptSignal(stop, s.attemptTimeout)
    unguard = abortOn(attempt.signal, connection, lost(attempt))
    const streaming = () => {
      unguard() // streaming: the attempt is over, and close() ends the copy cleanly from here
      attempt.dispose()
      loop.streaming(start)
    }
    acquiring = true
    const copying = connection.copyBoth(startReplication(s.slot, start, options), (data) => loop.data(data), () => {
      acquiring = false
      // A first start takes the slot where it is (the later of it and `start` wins). A
      // reconnect first looks at the slot again, now that the walsender holds it
      // (resume-check.ts), and until that answers reads nothing (so hands out no change and
      // answers no keepalive) and sends no status update: one would set confirmed_flush_lsn,
      // forward past the move or (before PostgreSQL 17) back to `start`, and hide the move.
      // The look is part of this attempt: bounded by attemptTimeout, ended by close().
      if (!started) return streaming()
      loop.holdStatus()
      open.pause()
      // Only a slot seen moved ends the stream. A look that cannot be made or proves nothing (no
      // connection free under max_connections or a role's limit, a pooler's process ID, a
      // password asked again and refused, no answer within half the attempt's time) leaves the
      // stream guarded by the first look alone, rather than keep it from resuming for good.
      // Not on attempt.signal: the clean-up below disposes of that, after which it never aborts.
      const look = new AttemptSignal(looking.signal, s.attemptTimeout / 2)
      confirmResume((signal) => s.connect({ ...watchConnection(s.connection), signal }), look.signal, { slot: s.slot, walsender: open.processId, acknowledged: start })
        .catch((error: unknown) => {
          if (error instanceof ReplicationError) throw error
        })
        .then(() => {
          if (over || attempt.signal.aborted) return // close() or the attempt's time ended it: its copy is failing
          streaming()
          open.resume()
        })
        .catch((error: unknown) => open.abort(error as ReplicationError))
        .finally(() => look.dispose())
    })
    await copying
  } catch (error) {
    if (attempt.timedOut && !(error instanceof DatabaseError)) throw lost(attempt)()
    // The slot the look above found was dropped before START_REPLICATION could take it
    // (slot.c, ReplicationSlotAcquire: 42704 "does not exist"; the routine, never translated,
    // tells it from pgoutput's 42704 for a missing publication): gone, as when the look finds none.
    // Without a routine (an optional field, "Error and Notice Message Fields"), a 42704 before
    // CopyBothResponse: until then the walsender has only taken the slot and made the decoding
    // context (walsender.c, StartLogicalReplication), and only the first answers 42704.
    const acquire = error instanceof DatabaseError && (error.routine === 'ReplicationSlotAcquire' || (error.routine === undefined && acquiring))
    if (started && acquire && error.code === '42704') throw slotGone(s.slot, { cause: error })
    throw error
  } finally {
    over = true
    looking.abort()
    unguard()
    attempt.dispose()
    copy?.end()
    await connection?.close().catch(() => undefined)
  }
}

/**
 * PostgreSQL 18's pgoutput, meeting a publication that does not exist at that point of the WAL,
 * skips it with only a WARNING (LoadPublications in pgoutput.c, SQLSTATE 55000; matched by the
 * routine, which is never translated). Dropped and made again, it is read again from where it
 * was made, as PostgreSQL 18 means it to be; but dropped for good (the check before
 * START_REPLICATION saw it), its changes would never arrive and the stream would go on handing
 * out nothing of them. Older servers end the walsender with an ERROR, and the reconnect's check
 * fails the stream; so, when a look over an ordinary connection finds it gone now, does this.
 */
async function publicationGone(s: Settings, signal: AbortSignal, fields: NoticeFields): Promise<ReplicationError | undefined> {
  const sql = await s.connect({ ...watchConnection(s.connection), signal })
  // Once connected too, close() and attemptTimeout end the look (as resume-check.ts's): its
  // connection is not left open after the stream, on a server slow to answer.
  const abort = () => sql.abort(new ConnectionLostError('the look at the publications was stopped', { cause: signal.reason }))
  signal.addEventListener('abort', abort, { once: true })
  try {
    if (signal.aborted) abort()
    await checkSlot(sql, s.slot, s.publications)
    return undefined
  } catch (error) {
    if (!(error instanceof ReplicationError)) throw error
    return new ReplicationError(`a publication was dropped while the stream ran, and the server skips it ("${fields.message ?? ''}"): ${error.message}`, { cause: new DatabaseError(fields) })
  } finally {
    signal.removeEventListener('abort', abort)
    await sql.close().catch(() => undefined)
  }
}

/**
 * Lost connections and the server's own restarts are worth another attempt once the stream
 * has started; a slot in use (55006) may be our own previous walsender, not yet gone. Anything
 * else (no such slot or publication, no permission, a protocol violation) would fail the same
 * way again.
 */
export function retryable(error: Error, started: boolean, failures: number): boolean {
  if (error instanceof DatabaseError && error.code === '55006') return started || failures < busySlotAttempts - 1
  if (!started) return false
  if (error instanceof ConnectionLostError) return true
  if (error instanceof DatabaseError) return ['57P01', '57P02', '57P03', '53300'].includes(error.code ?? '')
  return false
}

/**
 * While a step runs, `signal` aborting ends `connection` (its query rejects at once, with
 * `why()`); returns the function that stops watching.
 */
function abortOn(signal: AbortSignal, connection: Connection, why: () => Error): () => void {
  const abort = () => connection.abort(why())
  if (signal.aborted) {
    abort()
    return () => undefined
  }
  signal.addEventListener('abort', abort, { once: true })
  return () => signal.removeEventListener('abort', abort)
}
