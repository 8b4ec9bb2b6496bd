/**
 * Opens a Link over a Cloudflare Workers socket (cloudflare:sockets) and negotiates TLS the
 * PostgreSQL way: an SSLRequest, one byte of answer, then startTls() on the same socket.
 * Runtime-neutral: the socket factory is handed in (src/protocol/workers.ts passes
 * cloudflare:sockets' connect), so tests drive it with a fake made of web streams.
 *
 * What such a socket cannot do: show the server's certificate (peerCertificate stays
 * undefined), trust any root but the runtime's own, present a client certificate, offer ALPN
 * (so no sslnegotiation=direct), reach a Unix socket, or set TCP keepalive (ignored here).
 */
import { AuthenticationRefusedError, ConnectionLostError, PgListenError } from '../errors.ts'
import { sslRequest } from '../frontend.ts'
import { traced } from '../session.ts'
import { stoppedError } from './attempt-signal.ts'
import { describeEndpoint, isUnixSocket } from './endpoint.ts'
import { isUnixSocketPath } from '../options/defaults.ts'
import { endGrace, type Endpoint, type Link, type LinkOptions, type TlsSettings } from './link.ts'
import { judgeSslAnswer } from './ssl-answer.ts'

/** What pglisten uses of a cloudflare:sockets Socket (see cloudflare-sockets.d.ts). */
export interface WorkersSocket {
  readonly readable: ReadableStream<Uint8Array>
  readonly writable: WritableStream<Uint8Array>
  readonly opened: Promise<unknown>
  readonly closed: Promise<void>
  close(): Promise<void>
  startTls(options?: { expectedServerHostname?: string }): WorkersSocket
}

type ReadResult = Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']>>

/** cloudflare:sockets' connect(). */
export type SocketFactory = (
  address: { hostname: string; port: number },
  options: { secureTransport: 'off' | 'starttls'; allowHalfOpen: boolean },
) => WorkersSocket

/**
 * Connects and, when `useTls` is true, sends SSLRequest: 'S' brings TLS up with startTls(),
 * which verifies the server against the runtime's trust store and host name whatever the
 * sslmode; 'N' gives a plain link only where sslmode allows it (allow, prefer).
 */
export async function openWorkersLink(
  connectSocket: SocketFactory,
  endpoint: Endpoint,
  settings: TlsSettings,
  useTls: boolean,
  options: LinkOptions = {},
): Promise<Link> {
  const { signal, trace } = options
  if (signal?.aborted) throw stoppedError(signal)
  if (isUnixSocket(endpoint)) {
    throw new TypeError(`Cloudflare Workers have no Unix sockets: cannot reach ${describeEndpoint(endpoint)}; give a host name or IP address`)
  }
  if (useTls && settings.negotiation === 'direct') {
    throw new TypeError('sslnegotiation=direct is not available on Cloudflare Workers: their sockets offer no ALPN; use sslnegotiation=postgres')
  }
  // connect() refuses these first (workers-platform.ts); Connection.open's TlsSettings come here
  // unchecked. Ignored, a root of one's own would let any CA workerd trusts stand in for it.
  if (useTls && ((settings.ca !== undefined && settings.ca !== 'system') || settings.cert !== undefined || settings.key !== undefined)) {
    throw new AuthenticationRefusedError('tls.ca, tls.cert and tls.key cannot be used on Cloudflare Workers: they verify servers against their own trust store only (ca may be "system"), and present no client certificate')
  }
  const hostname = endpoint.hostaddr ?? endpoint.host
  // The name to verify, when the socket went to hostaddr's IP rather than to that name. A
  // socket folder beside a hostaddr names no server: libpq checks no name under verify-ca or
  // below, so workerd, which always checks one, checks the address it went to; verify-full
  // compares the folder, as libpq does, and fails.
  const name = settings.serverName ?? endpoint.host
  // No name to check (Connection.open's tls.serverName: ''): refused in libpq's words, as
  // certificate-name.ts refuses it, rather than have workerd check the address in its place.
  if (useTls && settings.mode === 'verify-full' && name === '') throw new AuthenticationRefusedError('host name must be specified for a verified SSL connection')
  const named = name && name !== hostname && (settings.mode === 'verify-full' || !isUnixSocketPath(name))
  // startTls() sends the name it verifies in SNI, always; sslsni=0 asks for none (libpq's sslsni),
  // so refused rather than ignored: the name would go out in clear. An IP address, which libpq
  // never sends, tells no more than the connection itself does.
  if (useTls && settings.sni === false && !/^[\d.]*$|:/.test(named ? name : hostname)) {
    throw new AuthenticationRefusedError('sslsni=0 cannot be honoured on Cloudflare Workers: their TLS always sends the server\'s host name (SNI); remove sslsni=0')
  }
  // connect() may throw at once (an address it refuses): pglisten's words, with it as the cause.
  let socket: WorkersSocket
  try {
    socket = quiet(connectSocket({ hostname, port: endpoint.port }, { secureTransport: useTls ? 'starttls' : 'off', allowHalfOpen: false }))
  } catch (error) {
    throw translate(error, endpoint)
  }
  // An abort settles whatever phase is waiting, at once: the socket's own promises may never.
  let stop!: (error: Error) => void
  const stopped = new Promise<never>((_, reject) => (stop = reject))
  stopped.catch(() => {}) // only ever raced
  const abort = () => stop(stoppedError(signal))
  signal?.addEventListener('abort', abort, { once: true })
  const phase = <T>(promise: Promise<T>): Promise<T> => Promise.race([promise, stopped])
  try {
    await phase(socket.opened)
    if (!useTls) return new WorkersLink(socket)
    if (trace) traced(() => trace.sent?.(sslRequest))
    const answer = await phase(readSslAnswer(socket, trace && ((byte) => traced(() => trace.receivedByte?.('SSLResponse', byte)))))
    if (answer === 'N') {
      if (settings.mode !== 'prefer' && settings.mode !== 'allow') {
        throw new AuthenticationRefusedError(`the server does not accept TLS, and sslmode=${settings.mode} requires it`)
      }
      return new WorkersLink(socket)
    }
    socket = quiet(socket.startTls(named ? { expectedServerHostname: name } : undefined))
    // `opened` resolves before the handshake is over: the link learns how it went (see WorkersLink).
    await phase(socket.opened)
    return new WorkersLink(socket, describeEndpoint(endpoint))
  } catch (error) {
    void socket.close().catch(() => {})
    throw signal?.aborted ? stoppedError(signal) : translate(error, endpoint)
  } finally {
    signal?.removeEventListener('abort', abort)
  }
}

/**
 * `closed` rejects when the socket fails: a socket given up while opening (refused, a failed
 * handshake, an abort) would leave that rejection unhandled. A WorkersLink hears the end through
 * its reads instead, so `closed` is only ever watched for nothing.
 */
function quiet(socket: WorkersSocket): WorkersSocket {
  socket.closed.catch(() => {})
  return socket
}

/**
 * Writes SSLRequest and reads the first chunk back, judged by judgeSslAnswer (exactly one byte,
 * CVE-2021-23222). The stream locks are released after, as startTls() needs.
 */
async function readSslAnswer(socket: WorkersSocket, onAnswer?: (byte: number) => void): Promise<'S' | 'N'> {
  const writer = socket.writable.getWriter()
  try {
    await writer.write(sslRequest)
  } finally {
    writer.releaseLock()
  }
  const reader = socket.readable.getReader()
  let read: ReadResult
  try {
    // An empty chunk carries no answer: wait for the byte itself.
    do read = await reader.read()
    while (!read.done && read.value.length === 0)
  } finally {
    reader.releaseLock()
  }
  if (read.done) throw new ConnectionLostError('the server closed the connection in answer to SSLRequest')
  if (read.value.length > 0) onAnswer?.(read.value[0]!)
  return judgeSslAnswer(read.value)
}

/** Socket failures in pglisten's vocabulary, with the original as the cause. */
function translate(error: unknown, endpoint: Endpoint): Error {
  if (error instanceof PgListenError) return error // already in pglisten's words (ours, or the server's answer judged)
  const reason = error instanceof Error ? error.message : String(error)
  return new ConnectionLostError(`cannot connect to ${describeEndpoint(endpoint)}: ${reason}`, { cause: error })
}

/**
 * What workerd (2026-04-26) does when the TLS handshake after startTls() fails, as when the
 * server's certificate is not signed by a CA in workerd's trust store or is for another name:
 * `opened` has already resolved, reads end as if the server had closed, and writes reject with
 * an Error whose whole message is "internal error; reference = …" (the reason, "TLS peer's
 * certificate is not trusted", goes only to workerd's log). That error, on a TLS link from which
 * nothing has been read yet, is the handshake failing; other errors keep their own words.
 */
function untrustedCertificate(error: Error, where: string): Error {
  if (!/^internal error\b/.test(error.message)) return error
  return new ConnectionLostError(
    `the Workers runtime did not trust the TLS certificate of the server at ${where} (workerd says only "${error.message}"): ` +
      'Cloudflare Workers check a certificate and its host name only against their own trust store, under every sslmode (require as verify-full), and sslrootcert cannot add to it; ' +
      "give the server a certificate from a public certificate authority for the host name connected to (in local development, wrangler has workerd trust the CAs in NODE_EXTRA_CA_CERTS)",
    { cause: error },
  )
}

/**
 * A Link over a socket's two streams. Reading is a loop of read() calls that runs only while
 * resumed: pause() lets the pending read finish and starts no other, so the backlog waits in
 * the runtime's and the server's buffers, as with a paused node:net socket.
 */
class WorkersLink implements Link {
  onData: (chunk: Uint8Array) => void = () => {}
  onClose: (error: Error | undefined) => void = () => {}
  readonly encrypted: boolean
  /** Workers expose no certificate: channel_binding=prefer falls back to SCRAM-SHA-256. */
  readonly peerCertificate: Uint8Array | undefined = undefined
  readonly #socket: WorkersSocket
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>
  #paused = true // until the connection has set its handlers and calls resume()
  #reading = false
  /** A chunk that arrived after pause(), handed on at resume(). */
  #held: Uint8Array | undefined
  #finished = false
  /** end() or destroy() was called: nothing more is written. */
  #ending = false
  /**
   * destroy() was called: the end is ours, and what fails after it is its doing, no reason to
   * report (workerd rejects the read under way with "Stream was cancelled.", the writes with undefined).
   */
  #destroyed = false
  /**
   * The server's address while its TLS handshake may yet fail (nothing read since startTls()),
   * for untrustedCertificate(); undefined on a plain link and after the first byte.
   */
  #handshaking: string | undefined
  /** The last write, settled once a failure of it has been reported. */
  #written: Promise<void> = Promise.resolve()

  /** `tlsTo`: the server's address (describeEndpoint) when startTls() brought the link up. */
  constructor(socket: WorkersSocket, tlsTo?: string) {
    this.#socket = socket
    this.encrypted = tlsTo !== undefined
    this.#handshaking = tlsTo
    this.#reader = socket.readable.getReader()
    this.#writer = socket.writable.getWriter()
    // The end is heard through the reads, after every byte before it: `closed` may settle while
    // the last bytes (an ErrorResponse, say) still wait to be read (see quiet()).
  }

  write(bytes: Uint8Array): void {
    if (this.#finished || this.#ending) return
    this.#written = this.#writer.write(bytes).catch((error: unknown) => this.#fail(asError(error)))
  }

  pause(): void {
    this.#paused = true
  }

  resume(): void {
    this.#paused = false
    void this.#pump()
  }

  end(): void {
    // Flush what is written (Terminate), then close without waiting for the server; nor, past
    // endGrace, for a flush that a server reading nothing more never lets finish.
    if (this.#finished || this.#ending) return
    this.#ending = true
    const grace = setTimeout(() => this.destroy(), endGrace)
    this.#writer.close().catch(() => {}).finally(() => {
      clearTimeout(grace)
      this.destroy()
    })
  }

  destroy(): void {
    if (this.#finished || this.#destroyed) return
    this.#ending = this.#destroyed = true
    this.#teardown()
    // Not after close(): workerd's never settles while a write the server has not taken is under
    // way, as with a stalled server, which is when a heartbeat gives up on it.
    void Promise.resolve().then(() => this.#finish(undefined))
  }

  /** Ends the reads and drops the writes under way (close() waits for those until aborted). */
  #teardown(): void {
    this.#reader.cancel().catch(() => {})
    this.#writer.abort().catch(() => {})
    this.#socket.close().catch(() => {})
  }

  async #pump(): Promise<void> {
    if (this.#reading) return
    this.#reading = true
    try {
      while (!this.#paused && !this.#finished) {
        const chunk = this.#held ?? (await this.#next())
        this.#held = undefined
        // A read that finished after the link failed (onClose was the last word), or was destroyed.
        if (chunk === undefined || this.#finished || this.#destroyed) return
        if (this.#paused) {
          this.#held = chunk // arrived after pause(): resume() hands it on first
          return
        }
        try {
          this.onData(chunk)
        } catch (error) {
          // The Link contract: a failure ends the link, reported once through onClose.
          this.#fail(asError(error))
        }
      }
    } finally {
      this.#reading = false
    }
  }

  /** The next non-empty chunk, or undefined once the stream has ended or failed (the link is then finished). */
  async #next(): Promise<Uint8Array | undefined> {
    for (;;) {
      let read: ReadResult
      try {
        read = await this.#reader.read()
      } catch (error) {
        this.#fail(asError(error))
        return undefined
      }
      if (read.done) {
        // A failed handshake also ends the reads, and its words come only with a write's failure.
        if (this.#handshaking !== undefined) await this.#written
        this.#finish(undefined)
        return undefined
      }
      if (read.value.length > 0) {
        this.#handshaking = undefined // the server answered through TLS: the handshake succeeded
        return read.value
      }
    }
  }

  #fail(error: Error): void {
    if (this.#finished) return
    if (this.#destroyed) return this.#finish(undefined)
    this.#teardown()
    this.#finish(this.#handshaking === undefined ? error : untrustedCertificate(error, this.#handshaking))
  }

  /** onClose, exactly once, however many ways the end is heard. */
  #finish(error: Error | undefined): void {
    if (this.#finished) return
    this.#finished = true
    this.onClose(error)
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error))
}
