/**
 * One attempt at a listening connection: connect, then LISTEN on every channel in one round
 * trip. What the new connection hears before that LISTEN is answered is staged, not delivered,
 * so that the listener can put its Gap first: a Gap must come before anything heard on a new
 * connection. The attempt is bounded (a host that accepts and never answers cannot hold it
 * forever) and abortable (close() stops it at once). Imports the protocol's connect() only.
 */
import { ConnectionLostError } from '../protocol/errors.ts'
import { connect, type ConnectOptions } from '../protocol/io/connect.ts'
import type { Connection } from '../protocol/io/connection.ts'
import { quoteIdentifier } from './sql.ts'
import type { Notification } from './subscription.ts'

export interface Attempt {
  connection: Connection
  /** Heard before the LISTEN was answered, in order: to deliver after the Gap. */
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
  /** The connection ended (after connect() resolved; before that, connect() rejects). */
  onClose(connection: Connection, error: Error | undefined): void
}

export async function openListening(options: AttemptOptions): Promise<Attempt> {
  const bound = abortable(options.signal, options.timeout)
  const staged: Notification[] = []
  let deliver: (notification: Notification) => void = (notification) => void staged.push(notification)
  const { intercept } = options
  let opened: Connection | undefined
  try {
    const connection = await connect({
      ...options.connect,
      signal: bound.signal,
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
      const stop = () => connection.abort(abortError(bound.signal))
      bound.signal.addEventListener('abort', stop, { once: true })
      try {
        if (bound.signal.aborted) throw abortError(bound.signal)
        await connection.query(channels.map((c) => `LISTEN ${quoteIdentifier(c)}`).join('; '))
      } catch (error) {
        await connection.close()
        throw error
      } finally {
        bound.signal.removeEventListener('abort', stop)
      }
    }
    const online = (direct: (notification: Notification) => void) => {
      deliver = direct
    }
    return { connection, staged, confirmedAt, online }
  } finally {
    bound.done()
  }
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new ConnectionLostError('the connection attempt was aborted', { cause: signal.reason })
}

/** A signal aborted by `parent` or after `ms` (AbortSignal.any is missing from Node 20.0). */
export function abortable(parent: AbortSignal, ms: number | undefined): { signal: AbortSignal; done(): void } {
  const controller = new AbortController()
  const follow = () => controller.abort(parent.reason)
  if (parent.aborted) follow()
  else parent.addEventListener('abort', follow, { once: true })
  const timer = ms === undefined ? undefined : setTimeout(() => controller.abort(new ConnectionLostError(`the attempt did not finish within ${ms} ms`)), ms)
  timer?.unref?.()
  return {
    signal: controller.signal,
    done() {
      clearTimeout(timer)
      parent.removeEventListener('abort', follow)
    },
  }
}
