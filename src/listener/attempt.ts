/**
 * One attempt at a listening connection: connect, then LISTEN on every channel in one round
 * trip. What the new connection hears before that LISTEN is answered is staged, not delivered,
 * so that the listener can put its Gap first: a Gap must come before anything heard on a new
 * connection. The attempt is bounded (a host that accepts and never answers cannot hold it
 * forever) and abortable (close() stops it at once). Imports the protocol's connect() only.
 */
import { ConnectionLostError } from '../protocol/errors.ts'
import { AttemptSignal, abortedError } from '../protocol/io/attempt-signal.ts'
import { connect, type ConnectOptions } from '../protocol/io/connect.ts'
import type { Connection } from '../protocol/io/connection.ts'
import { quoteIdentifier } from './sql.ts'
import type { Notification } from './subscription.ts'

export interface Attempt {
  connection: Connection
  /**
   * Heard before the LISTEN was answered, in order, up to `stageLimit`: to deliver after the
   * Gap. Each was committed before the LISTEN's answer, so inside the Gap: one dropped here or
   * later for want of room is lost and said so.
   */
  staged: Notification[]
  /** When the LISTEN was sent (or the connection made, with no channels): Gap.from for this connection starts here. */
  confirmedAt: Date
  /** From now on, notifications go to `deliver` instead of being staged. */
  online(deliver: (notification: Notification) => void): void
}

export interface AttemptOptions {
  connect: ConnectOptions
  channels: Iterable<string>
  /** Aborts the attempt (close()). */
  signal: AbortSignal
  /** Abandon the attempt after this many ms; default: only connect_timeout bounds it. */
  timeout?: number
  /** Self-test notifications: consumed here if it says so, never staged or delivered. */
  intercept(notification: Notification): boolean
  /** Stage at most this many (the rest are dropped: see Attempt.staged); default: no limit. */
  stageLimit?: number
  /** The connection ended (after connect() resolved; before that, connect() rejects). */
  onClose(connection: Connection, error: Error | undefined): void
}

export function openListening(options: AttemptOptions): Promise<Attempt> {
  return bounded(options.signal, options.timeout, (signal) => listening(options, signal))
}

async function listening(options: AttemptOptions, signal: AbortSignal): Promise<Attempt> {
  const staged: Notification[] = []
  const limit = options.stageLimit ?? Infinity
  let deliver: (notification: Notification) => void = (notification) => {
    if (staged.length < limit) staged.push(notification)
  }
  const { intercept } = options
  let opened: Connection | undefined
  const connection = await connect({
    ...options.connect,
    signal,
    onNotification: (notification) => {
      if (!intercept(notification)) deliver(notification)
    },
    onClose: (error) => {
      if (opened) options.onClose(opened, error)
    },
  })
  opened = connection
  const channels = [...options.channels]
  const confirmedAt = new Date()
  if (channels.length > 0) {
    const stop = () => connection.abort(abortedError(signal))
    signal.addEventListener('abort', stop, { once: true })
    try {
      if (signal.aborted) throw abortedError(signal)
      await connection.query(channels.map((c) => `LISTEN ${quoteIdentifier(c)}`).join('; '))
    } catch (error) {
      await connection.close()
      throw error
    } finally {
      signal.removeEventListener('abort', stop)
    }
  }
  const online = (direct: (notification: Notification) => void) => {
    deliver = direct
  }
  return { connection, staged, confirmedAt, online }
}

/**
 * Runs an attempt under `signal` and a deadline of `ms` (if given); past the deadline it
 * rejects saying so, whatever phase it was in.
 */
export async function bounded<T>(parent: AbortSignal, ms: number | undefined, attempt: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const bound = new AttemptSignal(parent, ms)
  try {
    return await attempt(bound.signal)
  } catch (error) {
    if (bound.timedOut) throw new ConnectionLostError(`the attempt did not finish within ${ms} ms`, { cause: error })
    throw error
  } finally {
    bound.dispose()
  }
}
