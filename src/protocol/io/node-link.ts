/**
 * Opens a Link with node:net, over TCP or a Unix socket, and negotiates TLS the PostgreSQL way:
 * an SSLRequest, one byte of answer, then the TLS handshake on the same socket.
 * Node's I/O edge (Bun and Deno run it through their node: modules): the only file that
 * touches node:net and node:tls. Reached only through io/node-platform.ts. The words for an
 * attempt that failed (tls-failures.ts) are loaded when one fails.
 */
import { Buffer } from 'node:buffer'
import net from 'node:net'
import tls from 'node:tls'
import { ConnectionLostError } from '../errors.ts'
import { sslRequest } from '../frontend.ts'
import { traced } from '../session.ts'
import { stoppedError } from './attempt-signal.ts'
import { describeEndpoint, isUnixSocket, unixSocketPath } from './endpoint.ts'
import { isUnixSocketPath } from '../options/defaults.ts'
import { endGrace, type Endpoint, type Link, type LinkOptions, type TlsSettings } from './link.ts'
import { judgeSslAnswer } from './ssl-answer.ts'

/**
 * Connects and, when `tls` is true, brings TLS up: after an SSLRequest (answered 'S'), or at once
 * with ALPN "postgresql" under sslnegotiation=direct. An 'N' answer gives a plain link only where
 * sslmode allows it (allow, prefer). Under TLS, the protocol starts only after the handshake.
 */
export async function openNodeLink(endpoint: Endpoint, settings: TlsSettings, tls: boolean, options: LinkOptions = {}): Promise<Link> {
  const { signal, keepAlive, trace } = options
  const stopped = () => stoppedError(signal)
  if (signal?.aborted) throw stopped()
  const unix = isUnixSocket(endpoint)
  // A plain link reads into one buffer of ours, again and again, instead of Node allocating
  // 64 KiB per read: the framer copies out whatever it keeps, before the next read (see
  // Framer.push). TLS needs the stream's own reads.
  const reads = (unix || !tls) ? new ReusedReads() : undefined
  const where = unix ? { path: unixSocketPath(endpoint.host, endpoint.port) } : { host: endpoint.hostaddr ?? endpoint.host, port: endpoint.port }
  const socket = net.connect({ ...where, ...(reads ? { onread: reads.option } : {}) })
  const abort = () => socket.destroy(stopped())
  signal?.addEventListener('abort', abort, { once: true })
  try {
    await settle(socket, 'connect')
    socket.setNoDelay(true)
    // The kernel's probes find a peer that vanished while the connection was idle.
    if (keepAlive !== undefined) socket.setKeepAlive(true, keepAlive)
    // libpq never uses TLS over a Unix socket: the kernel already guards that path.
    if (reads) return new NodeLink(socket, undefined, reads)
    if (settings.negotiation === 'direct') return new NodeLink(socket, await handshake(socket, endpoint, settings, true))
    if (trace) traced(() => trace.sent?.(sslRequest))
    socket.write(sslRequest)
    const answer = await readSslAnswer(socket, trace && ((byte) => traced(() => trace.receivedByte?.('SSLResponse', byte))))
    if (answer === 'N') {
      if (settings.mode !== 'prefer' && settings.mode !== 'allow') {
        socket.destroy()
        throw (await import('./tls-failures.ts')).tlsRefused(settings.mode)
      }
      return new NodeLink(socket, undefined)
    }
    return new NodeLink(socket, await handshake(socket, endpoint, settings, false))
  } catch (error) {
    socket.destroy()
    // Aborted mid-handshake, TLS may report the torn socket in its own words: say why it tore.
    // Any other failure is told in pglisten's words (tls-failures.ts, loaded only for a failure).
    throw signal?.aborted ? stopped() : (await import('./tls-failures.ts')).translate(error, describeEndpoint(endpoint))
  } finally {
    signal?.removeEventListener('abort', abort)
  }
}

/**
 * The TLS handshake on `socket`. Every attempt offers ALPN "postgresql", as libpq 17 does;
 * under direct negotiation the server must select it, since a server that does not speak direct
 * TLS would otherwise read our handshake as a startup packet.
 */
async function handshake(socket: net.Socket, endpoint: Endpoint, settings: TlsSettings, direct: boolean): Promise<tls.TLSSocket> {
  // verify-full's name check follows libpq's rules, not node:tls's (certificate-name.ts): loaded when asked for.
  const names = settings.mode === 'verify-full' ? await import('./certificate-name.ts') : undefined
  const secure = tls.connect({ socket, ...nodeTlsOptions(endpoint, settings, names?.verifyServerName) })
  try {
    await settle(secure, 'secureConnect')
  } catch (error) {
    // A server that does not speak direct TLS closes at our ClientHello, or answers it in
    // something else: Node's words for that ("socket disconnected") do not say why.
    if (!direct) throw error
    throw (await import('./tls-failures.ts')).directTlsRefused(error, describeEndpoint(endpoint)) ?? error
  }
  if (direct && secure.alpnProtocol !== alpnProtocol) throw (await import('./tls-failures.ts')).alpnNotSelected(secure.alpnProtocol)
  return secure
}

/** The ALPN protocol name PostgreSQL registered (protocol docs, "SSL Session Encryption"). */
const alpnProtocol = 'postgresql'

/**
 * The answer to SSLRequest: the first read after it, judged by judgeSslAnswer (one byte, or the
 * read is refused). `onAnswer` sees the first byte, whatever it is, before it is judged (the
 * trace shows what the server answered even when it is refused).
 */
export function readSslAnswer(socket: net.Socket, onAnswer?: (byte: number) => void): Promise<'S' | 'N'> {
  return new Promise((resolve, reject) => {
    const onData = (chunk: Uint8Array) => {
      cleanup()
      socket.pause()
      if (chunk.length > 0) onAnswer?.(chunk[0]!)
      try {
        resolve(judgeSslAnswer(chunk))
      } catch (error) {
        reject(error)
      }
    }
    const onEnd = (error?: Error) => {
      cleanup()
      // Our own abort (connect timeout) says what happened; anything else is the server's doing.
      reject(error instanceof ConnectionLostError ? error : new ConnectionLostError('the server closed the connection in answer to SSLRequest', { cause: error }))
    }
    const cleanup = () => {
      socket.off('data', onData).off('error', onEnd).off('close', onEnd)
    }
    socket.on('data', onData).on('error', onEnd).on('close', onEnd)
  })
}

/** libpq's sslmode in node:tls terms. */
function nodeTlsOptions(
  endpoint: Endpoint,
  settings: TlsSettings,
  verifyName?: (name: string, der: Uint8Array) => Error | undefined,
): tls.ConnectionOptions {
  const name = settings.serverName ?? endpoint.host
  // require verifies the chain when a root certificate is given, as libpq does with any mode.
  const verifyChain = settings.mode === 'verify-ca' || settings.mode === 'verify-full' || settings.ca !== undefined
  // In an array, so that an empty root file trusts nothing: node:tls reads a `ca` of '' as none
  // given and trusts its whole store; libpq refuses such a file (SSL_CTX_load_verify_locations).
  const ca = settings.ca === undefined || settings.ca === 'system' ? {} : { ca: [toPem(settings.ca)] }
  return {
    // SNI carries host names only (RFC 6066 section 3), never IP addresses nor a socket folder
    // named as host beside a hostaddr; sslsni=0 turns it off. An address by libpq's test
    // (initialize_SSL): digits and dots only ("127.1", inet_aton's), or a colon.
    ...(!/^[\d.]*$|:/.test(name) && !isUnixSocketPath(name) && settings.sni !== false ? { servername: name } : {}),
    ALPNProtocols: [alpnProtocol],
    // libpq's ssl_min_protocol_version defaults to TLSv1.2 (fe-connect.c), whatever OpenSSL allows;
    // node:tls's floor is the process's (--tls-min-v1.0 lowers it): a lower one is raised, a higher kept.
    minVersion: tls.DEFAULT_MIN_VERSION < 'TLSv1.2' ? 'TLSv1.2' : tls.DEFAULT_MIN_VERSION,
    rejectUnauthorized: verifyChain,
    ...ca, // 'system' leaves node:tls with its own trust store
    ...(settings.cert !== undefined ? { cert: toPem(settings.cert) } : {}),
    ...(settings.key !== undefined ? { key: toPem(settings.key) } : {}),
    // Called after the chain is verified: with verifyName under verify-full, else to check nothing.
    checkServerIdentity: (_host, certificate) => verifyName?.(name, certificate.raw),
  }
}

export function toPem(value: string | Uint8Array): string {
  return typeof value === 'string' ? value : new TextDecoder().decode(value)
}

/** Waits for `event`, or rejects with the error or close that comes first. */
export function settle(socket: net.Socket, event: 'connect' | 'secureConnect'): Promise<void> {
  return new Promise((resolve, reject) => {
    const onEvent = () => {
      cleanup()
      resolve()
    }
    const onError = (error: Error) => {
      cleanup()
      reject(error)
    }
    const onClose = () => {
      cleanup()
      reject(new ConnectionLostError('the connection closed during setup'))
    }
    const cleanup = () => {
      socket.off(event, onEvent).off('error', onError).off('close', onClose)
    }
    socket.on(event, onEvent).on('error', onError).on('close', onClose)
  })
}

/** net.connect's `onread`: one 64 KiB buffer, each read handed on as a view of its filled part. */
class ReusedReads {
  deliver: (chunk: Uint8Array) => void = () => {}
  readonly option = {
    buffer: Buffer.allocUnsafe(64 * 1024),
    callback: (length: number, buffer: Uint8Array): boolean => {
      this.deliver((buffer as Buffer).subarray(0, length))
      return true
    },
  }
}

export class NodeLink implements Link {
  onData: (chunk: Uint8Array) => void = () => {}
  onClose: (error: Error | undefined) => void = () => {}
  readonly socket: net.Socket
  readonly encrypted: boolean
  readonly peerCertificate: Uint8Array | undefined
  #error: Error | undefined

  constructor(plain: net.Socket, secure: tls.TLSSocket | undefined, reads?: ReusedReads) {
    const socket = secure ?? plain
    this.socket = socket
    this.encrypted = secure !== undefined
    const der = secure?.getPeerX509Certificate()?.raw
    this.peerCertificate = der ? new Uint8Array(der) : undefined
    if (reads) reads.deliver = (chunk) => this.onData(chunk)
    else socket.on('data', (chunk: Uint8Array) => this.onData(chunk))
    socket.on('error', (error) => {
      this.#error ??= error
    })
    socket.on('close', () => this.onClose(this.#error))
    // Attaching 'data' starts the flow; hold it until the connection has set its handlers.
    socket.pause()
  }

  write(bytes: Uint8Array): void {
    // Not once the socket is ended, by end() or by the server: Node would fail the socket with
    // "write after end", and that error would replace why it ended (a clean close, the server's FATAL).
    if (this.socket.writable) this.socket.write(bytes)
  }

  pause(): void {
    this.socket.pause()
  }

  resume(): void {
    this.socket.resume()
  }

  end(): void {
    // Flush what is written (Terminate), then close without waiting for the server's FIN:
    // a dead peer must not keep close() waiting, nor one that no longer reads (endGrace).
    this.socket.destroySoon()
    const grace = setTimeout(() => this.socket.destroy(), endGrace)
    grace.unref?.()
    this.socket.once('close', () => clearTimeout(grace))
  }

  destroy(): void {
    this.socket.destroy()
  }
}
