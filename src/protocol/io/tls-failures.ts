/**
 * TLS set-up failures in words a person can act on: what went wrong and what to change, the
 * way libpq words it where libpq has words for it; and any other failure to connect, with
 * where it happened. The original error stays as the `cause`.
 * Pure: imports only the error classes; the I/O edge (files.ts, node-link.ts) decides when, and
 * loads this module by dynamic import only then: a connection that comes up never needs it.
 */
import { AuthenticationRefusedError, ConnectionLostError, PgListenError } from '../errors.ts'

/**
 * A failed connection attempt (node-link.ts) in pglisten's vocabulary; `where` names the server
 * (describeEndpoint). A certificate refused is the server's when node:tls refused it: Node's
 * ERR_TLS_* codes and X509 verification's (CERT_HAS_EXPIRED, SELF_SIGNED_CERT_IN_CHAIN,
 * UNABLE_TO_VERIFY_LEAF_SIGNATURE...). A TLS alert (OpenSSL's ERR_SSL_*_ALERT_*) is the server's
 * word instead, and one about a certificate, or an unknown CA, during the handshake can only be
 * about ours, the client certificate (sslcert): the server refused it, or, for
 * certificate_required (RFC 8446, section 4.4.2.4), the lack of one. Under TLS 1.3 the client
 * sends its certificate in its last flight, after the server's Finished (RFC 8446, section 2), so
 * node:tls has finished the handshake before the server judges it, and the alert ends startup
 * instead: connection.ts hands that lost connection here, and its cause, the alert, is what is
 * told; any other lost connection stays as it was.
 */
export function translate(error: unknown, where: string): Error {
  if (error instanceof ConnectionLostError && /_ALERT_/.test(String((error.cause as { code?: unknown } | undefined)?.code))) error = error.cause
  if (error instanceof PgListenError) return error // already in pglisten's words (ours, or the server's answer judged)
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code === 'string' && /_ALERT_.*(CERT|UNKNOWN_CA)/.test(code)) {
    const refusal = code.endsWith('_REQUIRED') ? 'the server requires a TLS client certificate' : 'the server refused the TLS client certificate'
    return new ConnectionLostError(`${refusal} (${code}) at ${where}`, { cause: error })
  }
  if (typeof code === 'string' && (code.startsWith('ERR_TLS_') || /CERT|SELF_SIGNED|UNABLE_TO_/.test(code))) {
    return new AuthenticationRefusedError(`the server's TLS certificate was refused (${code}) at ${where}`, { cause: error })
  }
  // OpenSSL's lines end in a newline, which would end the message mid-line.
  const reason = (error instanceof Error ? error.message : String(error)).trimEnd()
  return new ConnectionLostError(`cannot connect to ${where}: ${reason}`, { cause: error })
}

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

/** An SSLRequest answered 'N' under an sslmode that allows no plain connection. */
export function tlsRefused(mode: string): AuthenticationRefusedError {
  return new AuthenticationRefusedError(`the server does not accept TLS, and sslmode=${mode} requires it`)
}

/**
 * A direct TLS handshake (sslnegotiation=direct) that completed without the server selecting
 * ALPN "postgresql" (node-link.ts): `selected` is what it chose instead, or false for nothing.
 */
export function alpnNotSelected(selected: string | false | null): AuthenticationRefusedError {
  return new AuthenticationRefusedError(selected
    ? `the server selected ALPN protocol ${JSON.stringify(selected)}, not "postgresql"`
    : 'the server completed direct TLS without ALPN negotiation (sslnegotiation=direct needs PostgreSQL 17 or later)')
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
