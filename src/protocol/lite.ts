/**
 * pglisten/lite's connection: the full client's Session and its startup and query exchanges
 * over one socket, with settings given as an object and nothing else: no libpq option layer,
 * no environment, files, multiple hosts or channel binding. For bundles where every kilobyte
 * counts (README, "Size"). Portable: the socket comes from the `open` function of the entry
 * point (io/lite-node-link.ts for Node, Bun and Deno).
 */
import type { NoticeResponse, NotificationResponse } from './backend/messages.ts'
import { ConnectionLostError } from './errors.ts'
import { simpleQuery, type QueryResult } from './exchange/query.ts'
import { startup } from './exchange/startup.ts'
import { terminate } from './frontend.ts'
import { Session } from './session.ts'
import type { Link } from './io/link.ts'

export interface LiteOptions {
  /** Host name or IP address, or a folder holding the server's Unix socket (it starts with '/'). Default 'localhost'. */
  host?: string
  /** Default 5432. */
  port?: number
  user: string
  /** The password, or a function asked for it only when the server wants one. */
  password?: string | (() => string | Promise<string>)
  /** Default: the user's name. */
  database?: string
  /**
   * 'verify-full' (the default): TLS, the server's certificate checked against `ca` (or the
   * runtime's trust store) and the host name by the runtime's rules. 'require': TLS, nothing
   * checked. 'disable': no TLS. A Unix socket never uses TLS, as in libpq.
   */
  sslmode?: 'disable' | 'require' | 'verify-full'
  /** The root certificates to trust, as PEM text (not a file name); default the runtime's store. */
  ca?: string
  /** Give up on connecting and starting up after this many milliseconds. Default 10,000. */
  connectTimeout?: number
}

/** What the connection tells its owner, as it happens. */
export interface LiteHandlers {
  onNotification?(message: NotificationResponse): void
  onNotice?(message: NoticeResponse): void
  /** The connection ended: `error` says why, undefined after close(). Not called if the attempt fails. */
  onClose?(error: Error | undefined): void
}

/** How the entry point opens a socket; `signal` aborts the attempt. */
export type LiteOpen = (options: LiteOptions, signal: AbortSignal) => Promise<Link>

export interface LiteConnection {
  /** The backend's process ID, from BackendKeyData (to recognise one's own notifications). */
  readonly processId: number | undefined
  /** Runs SQL as a simple query: one result per statement, every value as text. */
  query(sql: string): Promise<QueryResult[]>
  /** Sends Terminate and closes; resolves once the socket is closed. onClose hears `reason` (undefined: none). */
  close(reason?: Error): Promise<void>
}

/**
 * Connects, authenticates, and resolves the connection once the server is ready for queries.
 * `signal` (and connectTimeout) stops the attempt in any phase; once it has settled, neither is watched.
 */
export async function connectLite(open: LiteOpen, options: LiteOptions, handlers: LiteHandlers = {}, signal?: AbortSignal): Promise<LiteConnection> {
  if (typeof options?.user !== 'string') throw new TypeError('options.user must be a string')
  const timeout = options.connectTimeout ?? 10_000
  if (!(timeout > 0 && timeout < 2 ** 31)) throw new RangeError(`connectTimeout must be from 1 to 2^31 - 1 ms, not ${timeout}`)
  // A mode not listed must not be read as one that checks less (verify-ca, prefer, a typo).
  if (!['disable', 'require', 'verify-full', undefined].includes(options.sslmode)) {
    throw new RangeError(`sslmode must be 'disable', 'require' or 'verify-full', not ${JSON.stringify(options.sslmode)}`)
  }
  const stop = new AbortController()
  const timer = setTimeout(() => stop.abort(new ConnectionLostError(`could not connect within ${timeout} ms`)), timeout)
  const stopped = () => stop.abort(signal!.reason)
  if (signal?.aborted) stopped()
  signal?.addEventListener('abort', stopped)
  /** Returned to the caller: from then on, the connection's end is the caller's to hear. */
  let opened = false
  let closing = false
  let reason: Error | undefined
  let done: () => void
  const closed = new Promise<void>((resolve) => (done = resolve))
  try {
    const link = await open(options, stop.signal)
    const session = new Session(
      { write: (bytes) => link.write(bytes), abort: () => link.destroy() },
      { onNotification: handlers.onNotification, onNotice: handlers.onNotice },
    )
    const drop = () => session.fail(stop.signal.reason)
    stop.signal.addEventListener('abort', drop)
    link.onData = (chunk) => session.receive(chunk)
    link.onClose = (error) => {
      session.fail(new ConnectionLostError('the connection closed', { cause: error }))
      done()
      if (opened) handlers.onClose?.(closing ? reason : session.failure)
    }
    link.resume()
    try {
      const { backendKey } = await session.run(
        startup({ user: options.user, database: options.database, password: options.password, channelBinding: 'disable', transport: { encrypted: link.encrypted } }),
      )
      if (session.failure) throw session.failure
      opened = true
      return {
        processId: backendKey?.processId,
        query: async (sql) => (await session.run(simpleQuery(sql))).results,
        close: (why) => {
          if (!closing) {
            closing = true
            reason = why
            session.send(terminate)
            link.end()
          }
          return closed
        },
      }
    } catch (error) {
      link.destroy()
      throw error
    } finally {
      stop.signal.removeEventListener('abort', drop)
    }
  } finally {
    clearTimeout(timer)
    signal?.removeEventListener('abort', stopped)
  }
}
