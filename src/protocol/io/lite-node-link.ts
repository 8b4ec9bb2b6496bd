/**
 * pglisten/lite's socket under Node, Bun and Deno: node:net, and TLS negotiated the PostgreSQL
 * way (SSLRequest, one byte of answer, the handshake on the same socket), verified by node:tls's
 * own rules. Borrows node-link.ts's pieces; none of the full client's options or files.
 */
import net from 'node:net'
import tls from 'node:tls'
import { AuthenticationRefusedError, ConnectionLostError, PgListenError } from '../errors.ts'
import { sslRequest } from '../frontend.ts'
import type { LiteOptions } from '../lite.ts'
import type { Link } from './link.ts'
import { NodeLink, readSslAnswer, settle } from './node-link.ts'

export async function openLiteNodeLink(options: LiteOptions, signal: AbortSignal): Promise<Link> {
  if (signal.aborted) throw signal.reason
  const host = options.host ?? 'localhost'
  const port = options.port ?? 5432
  const mode = options.sslmode ?? 'verify-full'
  const unix = host.startsWith('/')
  const socket = net.connect(unix ? { path: `${host}/.s.PGSQL.${port}` } : { host, port })
  let secure: tls.TLSSocket | undefined
  const abort = () => socket.destroy(signal.reason)
  signal.addEventListener('abort', abort)
  try {
    await settle(socket, 'connect')
    socket.setNoDelay(true)
    // The kernel's probes find a peer that vanished while the connection was idle.
    socket.setKeepAlive(true, 10_000)
    // libpq never uses TLS over a Unix socket: the kernel already guards that path.
    if (unix || mode === 'disable') return new NodeLink(socket, undefined)
    socket.write(sslRequest)
    if ((await readSslAnswer(socket)) === 'N') throw new AuthenticationRefusedError(`the server does not accept TLS, and sslmode=${mode} requires it`)
    secure = tls.connect({
      socket,
      // The name the certificate must match; SNI carries host names only (RFC 6066 section 3).
      host,
      ...(net.isIP(host) ? {} : { servername: host }),
      ALPNProtocols: ['postgresql'],
      // libpq's floor (ssl_min_protocol_version), unless the process's own is higher.
      minVersion: tls.DEFAULT_MIN_VERSION < 'TLSv1.2' ? 'TLSv1.2' : tls.DEFAULT_MIN_VERSION,
      // require encrypts without checking anything; node:tls then checks nothing either.
      rejectUnauthorized: mode === 'verify-full',
      // In an array, so that an empty text trusts nothing (node:tls reads '' as no ca given).
      ...(options.ca !== undefined ? { ca: [options.ca] } : {}),
    })
    await settle(secure, 'secureConnect')
    return new NodeLink(socket, secure)
  } catch (error) {
    socket.destroy()
    if (signal.aborted) throw signal.reason
    if (error instanceof PgListenError) throw error
    // Node's own errors in pglisten's vocabulary, the original as the cause: a certificate
    // node:tls refused (authorizationError is set) is the client refusing the server.
    const why = `${host}:${port}: ${(error as Error).message}`
    throw secure?.authorizationError ? new AuthenticationRefusedError(`the certificate of the server at ${why}`, { cause: error }) : new ConnectionLostError(`cannot connect to ${why}`, { cause: error })
  } finally {
    signal.removeEventListener('abort', abort)
  }
}
