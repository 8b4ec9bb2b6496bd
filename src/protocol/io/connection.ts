/**
 * A connection to PostgreSQL: a Link (the socket) joined to a Session (the protocol), started
 * with the startup exchange. This is the protocol layer's public face; it decides nothing about
 * reconnecting (that is the listener's business).
 */
import type { NoticeResponse, NotificationResponse, ParameterStatus, TransactionStatus } from '../backend/messages.ts'
import { ByteWriter } from '../bytes/writer.ts'
import { ConnectionLostError } from '../errors.ts'
import { simpleQuery, type QueryResult } from '../exchange/query.ts'
import { startup, type AuthenticationMethod, type StartupOptions } from '../exchange/startup.ts'
import { terminate, writeCancelRequest, type ProtocolVersion } from '../frontend.ts'
import { Session, type SessionHandlers } from '../session.ts'
import type { Link, TlsSettings } from './link.ts'
import { openNodeLink } from './node-link.ts'
import { allocateBuffer, decodeUtf8Fast } from './node-bytes.ts'

export interface ConnectOptions extends StartupOptions, SessionHandlers {
  /** Host name, IP address, or a Unix socket folder (starting with '/'). Default 'localhost'. */
  host?: string
  /** Default 5432. */
  port?: number
  /** TLS as libpq's sslmode and friends; default { mode: 'prefer' }. */
  tls?: TlsSettings
  /** Give up on connecting and starting up after this many milliseconds. Default: never. */
  connectTimeout?: number
  /** The largest message length accepted from the server; see FramerOptions. */
  maxMessageLength?: number
  /** The connection has ended; `error` says why (a ConnectionLostError unless close() was called). */
  onClose?(error: Error | undefined): void
}

export class Connection {
  readonly #link: Link
  readonly #session: Session
  readonly #closed: Promise<Error | undefined>
  #closing = false
  #protocolVersion: ProtocolVersion = (3 << 16) | 2
  #backendKey: { processId: number; secretKey: Uint8Array } | undefined
  #authentication: AuthenticationMethod = 'trust'
  readonly #endpoint: { host: string; port: number; tls: TlsSettings }

  private constructor(link: Link, options: ConnectOptions, endpoint: Connection['endpoint']) {
    this.#link = link
    this.#endpoint = endpoint
    this.#session = new Session(
      { write: (bytes) => link.write(bytes), abort: () => link.destroy() },
      { ...options, decodeText: decodeUtf8Fast, allocate: allocateBuffer },
    )
    let closed!: (error: Error | undefined) => void
    this.#closed = new Promise((resolve) => (closed = resolve))
    link.onData = (chunk) => this.#session.receive(chunk)
    link.onClose = (error) => {
      const lost = this.#closing && error === undefined
        ? undefined
        : new ConnectionLostError(error ? `the connection was lost: ${error.message}` : 'the server closed the connection', { cause: error })
      this.#session.fail(lost ?? new ConnectionLostError('the connection was closed'))
      const reason = lost === undefined ? undefined : this.#session.failure
      closed(reason)
      try {
        options.onClose?.(reason)
      } catch (handlerError) {
        options.onHandlerError?.(handlerError)
      }
    }
    link.resume()
  }

  /** Opens a connection and completes startup; rejects with a typed error on any failure. */
  static async connect(options: ConnectOptions): Promise<Connection> {
    const endpoint = {
      host: options.host ?? 'localhost',
      port: options.port ?? 5432,
      tls: options.tls ?? { mode: 'prefer' as const },
    }
    const timeout = options.connectTimeout
    const signal = timeout === undefined ? undefined : AbortSignal.timeout(timeout)
    const link = await openNodeLink(endpoint, endpoint.tls, signal)
    const connection = new Connection(link, options, endpoint)
    const onTimeout = () => connection.#session.fail(new ConnectionLostError(`startup did not finish within ${timeout} ms`))
    signal?.addEventListener('abort', onTimeout, { once: true })
    try {
      const result = await connection.#session.run(startup(options))
      connection.#protocolVersion = result.protocolVersion
      connection.#backendKey = result.backendKey
      connection.#authentication = result.authentication
      return connection
    } catch (error) {
      link.destroy()
      throw error
    } finally {
      signal?.removeEventListener('abort', onTimeout)
    }
  }

  get endpoint(): { host: string; port: number; tls: TlsSettings } {
    return this.#endpoint
  }

  /** The backend's process ID, as in pg_backend_pid() and NotificationResponse.processId. */
  get processId(): number | undefined {
    return this.#backendKey?.processId
  }

  get protocolVersion(): ProtocolVersion {
    return this.#protocolVersion
  }

  get authentication(): AuthenticationMethod {
    return this.#authentication
  }

  get encrypted(): boolean {
    return this.#link.encrypted
  }

  /** The server's parameters (server_version, client_encoding, ...), kept current by ParameterStatus. */
  get parameters(): ReadonlyMap<string, string> {
    return this.#session.parameters
  }

  /** From the last ReadyForQuery. */
  get transactionStatus(): TransactionStatus {
    return this.#session.transactionStatus
  }

  /** Resolves when the connection ends: undefined after close(), else why it was lost. */
  get closed(): Promise<Error | undefined> {
    return this.#closed
  }

  /** Runs SQL with the simple query protocol; one result per statement, values as text. */
  async query(sql: string): Promise<QueryResult[]> {
    const outcome = await this.#session.run(simpleQuery(sql))
    return outcome.results
  }

  /** Stops reading from the socket; notifications wait in the kernel's and the server's buffers. */
  pause(): void {
    this.#link.pause()
  }

  resume(): void {
    this.#link.resume()
  }

  /**
   * Asks the server to cancel the running query, over a new connection of its own, as
   * CancelRequest requires. Success says nothing about whether anything was cancelled.
   */
  async cancel(): Promise<void> {
    const key = this.#backendKey
    if (!key) throw new TypeError('the server sent no BackendKeyData, so its queries cannot be cancelled')
    const link = await openNodeLink(this.#endpoint, this.#endpoint.tls)
    const closed = new Promise<void>((resolve) => (link.onClose = () => resolve()))
    link.resume()
    link.write(writeCancelRequest(new ByteWriter(), key.processId, key.secretKey).toBytes())
    link.end()
    await closed
  }

  /** Sends Terminate and closes. Pending and queued requests reject with ConnectionLostError. */
  async close(): Promise<void> {
    if (!this.#closing && this.#session.failure === undefined) {
      this.#closing = true
      this.#link.write(terminate)
      this.#link.end()
    } else this.#closing = true
    await this.#closed
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}
