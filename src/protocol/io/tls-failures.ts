/**
 * TLS set-up failures in words a person can act on: what went wrong and what to change, the
 * way libpq words it where libpq has words for it. The original error stays as the `cause`.
 * Pure: imports only the error classes; the I/O edge (files.ts, node-link.ts) decides when, and
 * loads this module by dynamic import only then: a connection that comes up never needs it.
 */
import { AuthenticationRefusedError, ConnectionLostError } from '../errors.ts'

/**
 * True when a failed read means the file is not there. libpq only stat()s the root certificate,
 * and any failure there is "does not exist": ENOENT, or ENOTDIR when a folder on the way is a file.
 */
export function isMissingFile(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return code === 'ENOENT' || code === 'ENOTDIR'
}

/**
 * sslmode=verify-ca or verify-full and no root certificate at `path`, the one named by
 * sslrootcert or libpq's default ~/.postgresql/root.crt. libpq's message (fe-secure-openssl.c,
 * initialize_SSL), on one line, and naming sslrootcert: with the default path a person may not
 * know that is where "the file" is given.
 */
export function missingRootCertificate(path: string, cause: unknown): AuthenticationRefusedError {
  return new AuthenticationRefusedError(
    `root certificate file "${path}" does not exist; either provide the file (or name one with sslrootcert), ` +
      "use the system's trusted roots with sslrootcert=system, or change sslmode to disable server certificate verification",
    { cause },
  )
}

/**
 * What node:tls reports when the first bytes back are not TLS at all: OpenSSL's record layer
 * reading a PostgreSQL ErrorResponse, an HTTP answer, or anything else as a TLS record.
 */
const notTls = new Set([
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG',
  'ERR_SSL_UNKNOWN_PROTOCOL',
  'ERR_SSL_HTTP_REQUEST',
  'ERR_SSL_RECORD_LAYER_FAILURE',
])

/**
 * A direct TLS handshake (sslnegotiation=direct) that failed because the server does not speak
 * direct TLS, or undefined for any other handshake failure (a refused certificate, an alert).
 *
 * A server before PostgreSQL 17 reads the TLS ClientHello as a startup packet whose length is
 * hundreds of megabytes ("invalid length of startup packet", only logged) and closes the
 * connection without a word; PostgreSQL 17 and later close it the same way when ssl is off
 * (backend_startup.c, ProcessSSLStartup). Node then says "Client network socket disconnected
 * before secure TLS connection was established" (ECONNRESET). Something that is not PostgreSQL
 * may instead answer with bytes that are not TLS. `where` names the server (describeEndpoint).
 */
export function directTlsRefused(error: unknown, where: string): ConnectionLostError | undefined {
  const code = (error as { code?: unknown } | null)?.code
  const how = code === 'ECONNRESET' || code === 'EPIPE'
    ? 'it closed the connection at the TLS handshake'
    : typeof code === 'string' && notTls.has(code)
      ? 'it answered the TLS handshake with something that is not TLS'
      : undefined
  if (how === undefined) return undefined
  return new ConnectionLostError(
    `the server at ${where} did not accept direct TLS (${how}): sslnegotiation=direct needs PostgreSQL 17 or later with ssl on; ` +
      'for an older server, or one that is not PostgreSQL, use sslnegotiation=postgres',
    { cause: error },
  )
}
