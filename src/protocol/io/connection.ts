/**
 * A connection to PostgreSQL: a Link (the socket) joined to a Session (the protocol), started
 * with the startup exchange. open() makes one attempt with settings already decided;
 * connect.ts (libpq's options, hosts, sslmode fallbacks) decides them. Nothing here reconnects:
 * that is the listener's business. Runtime-neutral: the socket and the byte helpers come from
 * the Platform in the options.
 */
import type { NoticeResponse, NotificationResponse, ParameterStatus, TransactionStatus } from '../backend/messages.ts'
import { ByteWriter } from '../bytes/writer.ts'
import { ConnectionLostError } from '../errors.ts'
import { copyBoth, type CopyBothOutcome } from '../exchange/copy-both.ts'
import { simpleQuery, type QueryResult } from '../exchange/query.ts'
import { syncRoundTrip } from '../exchange/sync.ts'
import { startup, type AuthenticationMethod, type StartupOptions } from '../exchange/startup.ts'
import { copyDone, terminate, writeCancelRequest, type ProtocolVersion } from '../frontend.ts'
import { Session, callHandler, type SessionHandlers, type Tracer } from '../session.ts'
import { AttemptSignal } from './attempt-signal.ts'
import { describeEndpoint } from './endpoint.ts'
import type { Endpoint, Link, TlsSettings } from './link.ts'
import type { Platform } from './platform.ts'

/** One connection attempt, every setting decided. */
export interface OpenOptions extends StartupOptions, SessionHandlers, Endpoint {
  /**
   * The runtime's sockets and byte helpers: nodePlatform from 'pglisten/protocol' under Node,
   * Bun and Deno, workersPlatform under the "workerd" condition. connect() passes its own.
   */
  platform: Platform
  /** TLS settings (libpq's sslmode and friends). */
  tls: TlsSettings
  /** Bring TLS up on this attempt, or stay plain: sslmode's fallbacks are decided by the caller. */
  useTls: boolean
  /** Give up on connecting and starting up after this many milliseconds. Default: never. */
  timeoutMs?: number
  /**
   * Aborts the attempt in any phase (TCP connect, SSLRequest, TLS handshake, startup): open()
   * rejects with a ConnectionLostError caused by `signal.reason`, and the socket is destroyed.
   * Once open() has settled, the signal is no longer watched.
   */
  signal?: AbortSignal
  /**
   * Told, once the link is up and before startup, whether TLS protects it: under sslmode=prefer
   * a server that answers 'N' gives a plain link although TLS was asked for, and connect.ts's
   * second chance depends on which it was.
   */
  onTransport?(transport: { encrypted: boolean }): void
  /** The largest message length accepted from the server; see FramerOptions. */
  maxMessageLength?: number
  /**
   * Sees every message sent and received, the SSLRequest and its one-byte answer included; not
   * cancel()'s CancelRequest, which goes over a connection of its own.
   */
  trace?: Tracer
  /** TCP keepalive: probe an idle connection after this many milliseconds. Default: off. */
  keepAlive?: number
  /**
   * The connection open() returned has ended; `error` says why (a ConnectionLostError unless
   * close() was called). Not called for an attempt that failed: open() rejects instead.
   */
  onClose?(error: Error | undefined): void
}

export class Connection {
  readonly #link: Link
  readonly #session: Session
  readonly #closed: Promise<Error | undefined>
  #closing = false
  #bytesReceived = 0
  #protocolVersion: ProtocolVersion = (3 << 16) | 2
  #backendKey: { processId: number; secretKey: Uint8Array } | undefined
  #authentication: AuthenticationMethod = 'trust'
  readonly #options: OpenOptions
  /** COPY BOTH is under way and neither side has sent CopyDone: CopyData may go out. */
  #copyOpen = false
  /** open() has returned this connection: only then is its end the caller's to hear (onClose). */
  #opened = false

  private constructor(link: Link, options: OpenOptions) {
    this.#link = link
    this.#options = options
    this.#session = new Session(
      { write: (bytes) => link.write(bytes), abort: () => link.destroy() },
      { ...options, ...options.platform.bytes },
    )
    let closed!: (error: Error | undefined) => void
    this.#closed = new Promise((resolve) => (closed = resolve))
    link.onData = (chunk) => {
      this.#bytesReceived += chunk.length
      this.#session.receive(chunk)
    }
    link.onClose = (error) => {
      const lost = this.#closing && error === undefined
        ? undefined
        : new ConnectionLostError(error ? `the connection was lost: ${error.message.trimEnd()}` : 'the server closed the connection', { cause: error })
      this.#session.fail(lost ?? new ConnectionLostError('the connection was closed'))
      const reason = lost === undefined ? undefined : this.#session.failure
      closed(reason)
      if (!this.#opened) return // a failed open() rejects; it has no connection to close
      callHandler(options, options.onClose, reason)
    }
    link.resume()
  }

  /** Makes one connection attempt and completes startup; rejects with a typed error on any failure. */
  static async open(options: OpenOptions): Promise<Connection> {
    if (options.platform === undefined) throw new TypeError("Connection.open needs options.platform: nodePlatform from 'pglisten/protocol' (workersPlatform under the workerd condition)")
    const timeout = options.timeoutMs
    // One signal for both ways an attempt is stopped; disposed below, so no timer outlives it.
    const attempt = new AttemptSignal(options.signal, timeout)
    const signal = attempt.signal
    try {
      const link = await options.platform.openLink(options, options.tls, options.useTls, { signal, keepAlive: options.keepAlive, trace: options.trace })
      // An option the framer refuses (maxMessageLength out of range) must not leave the socket open.
      let connection: Connection
      try {
        connection = new Connection(link, options)
      } catch (error) {
        link.destroy()
        throw error
      }
      const stop = () => connection.#session.fail(attempt.timedOut ? new ConnectionLostError(`startup did not finish within ${timeout} ms`) : signal.reason)
      signal.addEventListener('abort', stop, { once: true })
      try {
        if (signal.aborted) stop() // between the link coming up and now
        options.onTransport?.({ encrypted: link.encrypted })
        const transport = { encrypted: link.encrypted, ...(link.peerCertificate ? { serverCertificate: link.peerCertificate } : {}) }
        const result = await connection.#session.run(startup({ ...options, transport }))
        connection.#protocolVersion = result.protocolVersion
        connection.#backendKey = result.backendKey
        connection.#authentication = result.authentication
        // The link may have closed while startup's last messages were handled: no connection, then.
        if (connection.#session.failure) throw connection.#session.failure
        connection.#opened = true
        return connection
      } catch (error) {
        link.destroy()
        // Under TLS 1.3 the server judges our certificate (sslcert) after the handshake, so its
        // alert ends startup as a lost connection: tls-failures.ts tells it, loaded only for one.
        throw error instanceof ConnectionLostError ? (await import('./tls-failures.ts')).translate(error, describeEndpoint(options)) : error
      } finally {
        signal.removeEventListener('abort', stop)
      }
    } catch (error) {
      // Whatever the phase reported (a torn handshake, a closed socket), the caller's abort is why.
      throw attempt.aborted ? signal.reason : error
    } finally {
      attempt.dispose()
    }
  }

  /** Where this connection goes: host (or socket folder), hostaddr and port. */
  get endpoint(): Endpoint {
    const { host, hostaddr, port } = this.#options
    return { host, port, ...(hostaddr !== undefined ? { hostaddr } : {}) }
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

  /** Resolves when the connection ends: undefined after close() of a connection that had not failed, else why it was lost. */
  get closed(): Promise<Error | undefined> {
    return this.#closed
  }

  /**
   * True once the connection has ended or is ending: the session failed, the socket closed, or
   * close() or abort() was called. A query made now would reject.
   */
  get isClosed(): boolean {
    return this.#closing || this.#session.failure !== undefined
  }

  /**
   * Bytes of the protocol stream received since the connection opened, whether routed yet or
   * not (decrypted bytes under TLS; the one-byte SSLRequest answer is not counted). Only grows.
   */
  get bytesReceived(): number {
    return this.#bytesReceived
  }

  /** Runs SQL with the simple query protocol; one result per statement, values as text. */
  async query(sql: string): Promise<QueryResult[]> {
    // Not coerced: an array's text would be its items joined ([] an empty query, run without a word).
    if (typeof sql !== 'string') throw new TypeError(`a query must be a string, not ${Array.isArray(sql) ? 'an array' : typeof sql}`)
    const outcome = await this.#session.run(simpleQuery(sql))
    return outcome.results
  }

  /**
   * Runs a command that starts COPY BOTH, such as START_REPLICATION on a replication
   * connection (exchange/copy-both.ts). Every CopyData from the server goes to `onData`, in
   * order, synchronously from the read loop (so pause() holds it back); a throw from it ends
   * the connection with that error. `onStarted` is told when CopyBothResponse has come (the
   * command was accepted) and sendCopy() may be used. Resolves when the copy is over, both CopyDones exchanged
   * and ReadyForQuery read; rejects with the server's error (the connection stays usable) or
   * with why the connection was lost.
   */
  async copyBoth(command: string, onData: (data: Uint8Array) => void, onStarted?: () => void): Promise<CopyBothOutcome> {
    // The session routes the copy from its read loop; the exchange gets only what is out of place.
    const route = {
      onStarted: () => {
        this.#copyOpen = true
        onStarted?.()
      },
      onData,
      // The client answers the server's CopyDone with its own (libpq: PQputCopyEnd after PQgetCopyData returns -1).
      onServerDone: () => this.endCopy(),
    }
    try {
      return await this.#session.run(copyBoth(command, { onData }), { copyBoth: route })
    } finally {
      this.#copyOpen = false
    }
  }

  /** COPY BOTH is open: CopyBothResponse has come, and neither side has sent CopyDone since. */
  get copying(): boolean {
    return this.#copyOpen
  }

  /**
   * Sends bytes that already hold one or more whole CopyData messages (a standby status update)
   * while COPY BOTH is open. Returns false, sending nothing, once either side has ended the copy.
   */
  sendCopy(copyData: Uint8Array): boolean {
    if (!this.#copyOpen || this.isClosed) return false
    this.#session.send(copyData)
    return true
  }

  /** Ends the client's half of COPY BOTH with CopyDone; the server ends its half in turn. */
  endCopy(): void {
    if (!this.#copyOpen || this.isClosed) return
    this.#copyOpen = false
    this.#session.send(copyDone)
  }

  /**
   * A round trip that runs nothing: Sync, answered by ReadyForQuery (exchange/sync.ts). It waits
   * behind the queries already sent, and everything committed before it arrives ahead of it.
   */
  async sync(): Promise<void> {
    await this.#session.run(syncRoundTrip())
  }

  /**
   * Hands on nothing more until resume(), from the next message on, even in the middle of a
   * read (Session.pause), and stops reading from the socket: the backlog waits in the kernel's
   * and the server's buffers. A query made while paused waits for resume() too.
   */
  pause(): void {
    this.#session.pause()
    this.#link.pause()
  }

  /**
   * Hands on the messages already read, in order, before returning, then reads from the socket
   * again, unless a handler paused once more meanwhile.
   */
  resume(): void {
    this.#session.resume()
    if (!this.#session.paused) this.#link.resume()
  }

  /**
   * Asks the server to cancel the running query, over a new connection of its own, as
   * CancelRequest requires. Success says nothing about whether anything was cancelled.
   */
  async cancel(): Promise<void> {
    const key = this.#backendKey
    if (!key) throw new TypeError('the server sent no BackendKeyData, so its queries cannot be cancelled')
    // A new connection, with TLS as this one has it (PostgreSQL accepts CancelRequest after
    // SSLRequest), bounded by connect_timeout as the connection was: a server that never
    // answers the SSLRequest must not keep cancel() waiting.
    const attempt = new AttemptSignal(undefined, this.#options.timeoutMs)
    try {
      const link = await this.#options.platform.openLink(this.#options, this.#options.tls, this.#link.encrypted, { signal: attempt.signal })
      const closed = new Promise<void>((resolve) => (link.onClose = () => resolve()))
      link.resume()
      link.write(writeCancelRequest(new ByteWriter(), key.processId, key.secretKey).toBytes())
      link.end()
      await closed
    } finally {
      attempt.dispose()
    }
  }

  /**
   * Drops the connection at once, without Terminate: for a connection that is silently dead
   * (a heartbeat went unanswered). Pending requests reject with `reason`; closed resolves to it.
   */
  abort(reason: Error): void {
    // Every later call rejects with it, and `closed` resolves to it: never a bare string or
    // undefined, which a caller's `catch (e) { e.message }` would trip on. Kept as the cause.
    this.#session.fail(reason instanceof Error ? reason : new ConnectionLostError('the connection was aborted', { cause: reason }))
  }

  /** Sends Terminate and closes. Pending and queued requests reject with ConnectionLostError. */
  async close(): Promise<void> {
    // A connection that failed (abort(), a protocol violation, the server's FATAL) keeps its
    // reason: closed resolves to it, not to a clean close, even if its socket has not closed yet.
    if (!this.isClosed) {
      this.#closing = true
      this.#session.send(terminate)
      this.#link.end()
    }
    await this.#closed
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}
