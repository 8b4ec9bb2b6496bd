/**
 * Opens a Link with node:net, over TCP or a Unix socket, and negotiates TLS the PostgreSQL way:
 * an SSLRequest, one byte of answer, then the TLS handshake on the same socket.
 * The I/O edge: the only file that touches node:net and node:tls.
 */
import net from 'node:net'
import tls from 'node:tls'
import { AuthenticationRefusedError, ConnectionLostError, ProtocolViolationError } from '../errors.ts'
import { sslRequest } from '../frontend.ts'
import type { Endpoint, Link, TlsSettings } from './link.ts'

export function isUnixSocket(host: string): boolean {
  return host.startsWith('/')
}

/** The socket file a server listening on `port` creates in folder `dir`. */
export function unixSocketPath(dir: string, port: number): string {
  return `${dir.replace(/\/+$/, '')}/.s.PGSQL.${port}`
}

/**
 * Connects and, where the settings ask for it, upgrades to TLS. The returned link has not
 * read anything beyond the SSLRequest answer. `signal` aborts the attempt (connect_timeout).
 */
export async function openNodeLink(endpoint: Endpoint, settings: TlsSettings, signal?: AbortSignal): Promise<Link> {
  const unix = isUnixSocket(endpoint.host)
  const socket = unix
    ? net.connect({ path: unixSocketPath(endpoint.host, endpoint.port) })
    : net.connect({ host: endpoint.host, port: endpoint.port })
  const abort = () => {
    const timedOut = (signal?.reason as Error | undefined)?.name === 'TimeoutError'
    socket.destroy(new ConnectionLostError(timedOut ? 'the connection attempt timed out' : 'the connection attempt was aborted', { cause: signal?.reason }))
  }
  signal?.addEventListener('abort', abort, { once: true })
  try {
    await settle(socket, 'connect')
    socket.setNoDelay(true)
    // libpq never uses TLS over a Unix socket: the kernel already guards that path.
    const wantTls = !unix && settings.mode !== 'disable' && settings.mode !== 'allow'
    if (!wantTls) return new NodeLink(socket, false)
    socket.write(sslRequest)
    const answer = await readSslAnswer(socket)
    if (answer === 'N') {
      if (settings.mode !== 'prefer') {
        socket.destroy()
        throw new AuthenticationRefusedError(`the server does not accept TLS, and sslmode=${settings.mode} requires it`)
      }
      return new NodeLink(socket, false)
    }
    const secure = tls.connect({ socket, ...nodeTlsOptions(endpoint, settings) })
    await settle(secure, 'secureConnect')
    return new NodeLink(secure, true)
  } catch (error) {
    socket.destroy()
    throw translate(error, endpoint)
  } finally {
    signal?.removeEventListener('abort', abort)
  }
}

/**
 * The answer to SSLRequest is exactly one byte. Anything sent along with it arrived before
 * the handshake, unencrypted and unauthenticated, and must not be read as if it came through
 * TLS (CVE-2021-23222): more than one byte aborts.
 */
function readSslAnswer(socket: net.Socket): Promise<'S' | 'N'> {
  return new Promise((resolve, reject) => {
    const onData = (chunk: Uint8Array) => {
      cleanup()
      socket.pause()
      if (chunk.length !== 1) {
        reject(new ProtocolViolationError('the server sent more than one byte in answer to SSLRequest (a possible injection, CVE-2021-23222)'))
      } else if (chunk[0] === 0x53 /* S */ || chunk[0] === 0x4e /* N */) {
        resolve(chunk[0] === 0x53 ? 'S' : 'N')
      } else if (chunk[0] === 0x45 /* E */) {
        // An old or overloaded server. Its text is unauthenticated; show only our own words
        // (CVE-2024-10977).
        reject(new ConnectionLostError('the server answered SSLRequest with an error'))
      } else {
        reject(new ProtocolViolationError(`the server answered SSLRequest with byte 0x${chunk[0]!.toString(16)}`))
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
function nodeTlsOptions(endpoint: Endpoint, settings: TlsSettings): tls.ConnectionOptions {
  const name = settings.serverName ?? endpoint.host
  // require verifies the chain when a root certificate is given, as libpq does.
  const verifyChain = settings.mode === 'verify-ca' || settings.mode === 'verify-full' || settings.ca !== undefined
  return {
    // SNI carries host names only (RFC 6066 section 3), never IP addresses.
    ...(net.isIP(name) === 0 ? { servername: name } : {}),
    rejectUnauthorized: verifyChain,
    ...(settings.ca !== undefined ? { ca: toPem(settings.ca) } : {}),
    ...(settings.cert !== undefined ? { cert: toPem(settings.cert) } : {}),
    ...(settings.key !== undefined ? { key: toPem(settings.key) } : {}),
    checkServerIdentity: settings.mode === 'verify-full'
      ? (_host, certificate) => tls.checkServerIdentity(name, certificate)
      : () => undefined,
  }
}

function toPem(value: string | Uint8Array): string {
  return typeof value === 'string' ? value : new TextDecoder().decode(value)
}

/** Waits for `event`, or rejects with the error or close that comes first. */
function settle(socket: net.Socket, event: 'connect' | 'secureConnect'): Promise<void> {
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

/** Socket and TLS failures in pglisten's vocabulary, with the original as the cause. */
function translate(error: unknown, endpoint: Endpoint): Error {
  if (error instanceof AuthenticationRefusedError || error instanceof ProtocolViolationError || error instanceof ConnectionLostError) {
    return error
  }
  const code = (error as { code?: unknown } | null)?.code
  const where = isUnixSocket(endpoint.host) ? unixSocketPath(endpoint.host, endpoint.port) : `${endpoint.host}:${endpoint.port}`
  if (typeof code === 'string' && (code.startsWith('ERR_TLS_') || /CERT|SELF_SIGNED|UNABLE_TO_/.test(code))) {
    return new AuthenticationRefusedError(`the server's TLS certificate was refused (${code}) at ${where}`, { cause: error })
  }
  const reason = error instanceof Error ? error.message : String(error)
  return new ConnectionLostError(`cannot connect to ${where}: ${reason}`, { cause: error })
}

class NodeLink implements Link {
  onData: (chunk: Uint8Array) => void = () => {}
  onClose: (error: Error | undefined) => void = () => {}
  #error: Error | undefined

  constructor(readonly socket: net.Socket, readonly encrypted: boolean) {
    socket.on('data', (chunk: Uint8Array) => this.onData(chunk))
    socket.on('error', (error) => {
      this.#error ??= error
    })
    socket.on('close', () => this.onClose(this.#error))
    // Attaching 'data' starts the flow; hold it until the connection has set its handlers.
    socket.pause()
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes)
  }

  pause(): void {
    this.socket.pause()
  }

  resume(): void {
    this.socket.resume()
  }

  end(): void {
    // Flush what is written (Terminate), then close without waiting for the server's FIN:
    // a dead peer must not keep close() waiting.
    this.socket.destroySoon()
  }

  destroy(): void {
    this.socket.destroy()
  }
}
