/**
 * TLS set-up failures in words a person can act on (io/tls-failures.ts): libpq's message for a
 * missing root certificate, a direct TLS handshake a server did not accept, and whose
 * certificate was refused, by whom. The original error stays the cause; anything else is left
 * as it was.
 */
import { describe, expect, test } from 'vitest'
import { AuthenticationRefusedError, ConnectionLostError } from '../../../src/protocol/errors.ts'
import { directTlsRefused, isMissingFile, missingRootCertificate, translate } from '../../../src/protocol/io/tls-failures.ts'

/** An error as node:fs and node:tls make them: a message and a code. */
function systemError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code })
}

describe('a missing root certificate', () => {
  test("libpq's message, on one line, with the path and the three ways out", () => {
    const cause = systemError('ENOENT', "ENOENT: no such file or directory, open '/home/ann/.postgresql/root.crt'")
    const error = missingRootCertificate('/home/ann/.postgresql/root.crt', cause)
    expect(error).toBeInstanceOf(AuthenticationRefusedError)
    expect(error.message).toBe(
      'root certificate file "/home/ann/.postgresql/root.crt" does not exist; either provide the file (or name one with sslrootcert), ' +
        "use the system's trusted roots with sslrootcert=system, or change sslmode to disable server certificate verification",
    )
    expect(error.message).not.toContain('\n')
    expect(error.cause).toBe(cause)
  })

  test.each([
    ['ENOENT', true], // no such file
    ['ENOTDIR', true], // a folder on the way is a file
    ['EACCES', false], // there, but not readable: "cannot read", not "does not exist"
    ['EISDIR', false],
  ])('%s means the file is missing: %s', (code, missing) => {
    expect(isMissingFile(systemError(code, code))).toBe(missing)
  })

  test('a value that is no error, or has no code, is not a missing file', () => {
    expect(isMissingFile(undefined)).toBe(false)
    expect(isMissingFile(null)).toBe(false)
    expect(isMissingFile('ENOENT')).toBe(false)
    expect(isMissingFile(new Error('ENOENT'))).toBe(false)
  })
})

describe('direct TLS that the server did not accept', () => {
  const advice = 'sslnegotiation=direct needs PostgreSQL 17 or later with ssl on; for an older server, or one that is not PostgreSQL, use sslnegotiation=postgres'

  test("the server closed at the ClientHello (Node's ECONNRESET): said so, with what to do", () => {
    const cause = systemError('ECONNRESET', 'Client network socket disconnected before secure TLS connection was established')
    const error = directTlsRefused(cause, 'db.example:5432')
    expect(error).toBeInstanceOf(ConnectionLostError)
    expect(error!.message).toBe(`the server at db.example:5432 did not accept direct TLS (it closed the connection at the TLS handshake): ${advice}`)
    expect(error!.cause).toBe(cause)
  })

  test.each(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_UNKNOWN_PROTOCOL', 'ERR_SSL_HTTP_REQUEST', 'ERR_SSL_RECORD_LAYER_FAILURE'])(
    'the server answered with bytes that are not TLS (%s): said so, with what to do',
    (code) => {
      const cause = systemError(code, 'error:0A00010B:SSL routines:ssl3_get_record:wrong version number')
      const error = directTlsRefused(cause, '127.0.0.1:6543')
      expect(error).toBeInstanceOf(ConnectionLostError)
      expect(error!.message).toBe(`the server at 127.0.0.1:6543 did not accept direct TLS (it answered the TLS handshake with something that is not TLS): ${advice}`)
      expect(error!.cause).toBe(cause)
    },
  )

  test.each([
    ['a refused certificate', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
    ['a name that does not match', 'ERR_TLS_CERT_ALTNAME_INVALID'],
    ["the server's alert", 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION'],
    ['no code at all', undefined],
  ])('%s is another failure: left as it was', (_, code) => {
    const error = code === undefined ? new Error('something else') : systemError(code, code)
    expect(directTlsRefused(error, 'db.example:5432')).toBeUndefined()
  })
})

/**
 * node:tls's errors as a failed handshake gives them: OpenSSL's line for an alert received, with
 * the alert's number; X509 verification's words for a certificate node:tls refused.
 */
function alert(code: string, reason: string, number: number): Error & { code: string } {
  return Object.assign(new Error(`80ACB0091B7F0000:error:0A000413:SSL routines:ssl3_read_bytes:${reason}:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number ${number}\n`), { code })
}

describe('whose certificate was refused (translate)', () => {
  test.each([
    // PostgreSQL (clientcert, ssl_ca_file) given a certificate for a server's use: TLS 1.2's handshake.
    ['unsupported_certificate', alert('ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE', 'sslv3 alert unsupported certificate', 43)],
    // The same, given a certificate from a CA it does not trust.
    ['unknown_ca', alert('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'tlsv1 alert unknown ca', 48)],
    ['bad_certificate', alert('ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'sslv3 alert bad certificate', 42)],
    ['certificate_expired', alert('ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED', 'sslv3 alert certificate expired', 45)],
    ['certificate_revoked', alert('ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED', 'sslv3 alert certificate revoked', 44)],
    ['certificate_unknown', alert('ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN', 'sslv3 alert certificate unknown', 46)],
  ])("the server's alert %s: the server refused the TLS client certificate, not \"the server's TLS certificate was refused\"", (_, cause) => {
    const error = translate(cause, '127.0.0.1:5432')
    expect(error).toBeInstanceOf(ConnectionLostError) // the server's doing, not a check of the client's
    expect(error.message).toBe(`the server refused the TLS client certificate (${cause.code}) at 127.0.0.1:5432`)
    expect(error.cause).toBe(cause)
  })

  test("the server's alert certificate_required (TLS 1.3, a server that requires one and was given none): said so", () => {
    const cause = alert('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'tlsv13 alert certificate required', 116)
    const error = translate(cause, '[::1]:5432')
    expect(error).toBeInstanceOf(ConnectionLostError)
    expect(error.message).toBe('the server requires a TLS client certificate (ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED) at [::1]:5432')
    expect(error.cause).toBe(cause)
  })

  test.each([
    ['SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain'],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate'],
    ['CERT_HAS_EXPIRED', 'certificate has expired'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames: IP: 10.0.0.1 is not in the cert's list: 127.0.0.1"],
  ])("node:tls refused the server's certificate (%s): the server's TLS certificate was refused", (code, message) => {
    const cause = systemError(code, message)
    const error = translate(cause, 'db.example:5432')
    expect(error).toBeInstanceOf(AuthenticationRefusedError)
    expect(error.message).toBe(`the server's TLS certificate was refused (${code}) at db.example:5432`)
    expect(error.cause).toBe(cause)
  })

  test('an alert about no certificate (handshake_failure, what TLS 1.2 sends for a certificate required), and other failures: in their own words', () => {
    const handshake = alert('ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE', 'sslv3 alert handshake failure', 40)
    // OpenSSL's line without its trailing newline.
    expect(translate(handshake, 'db.example:5432')).toEqual(new ConnectionLostError(`cannot connect to db.example:5432: ${handshake.message.slice(0, -1)}`))
    const refused = systemError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1')
    expect(translate(refused, '127.0.0.1:1')).toEqual(new ConnectionLostError('cannot connect to 127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1'))
    expect(translate('not an error', 'h:1').message).toBe('cannot connect to h:1: not an error')
    const ours = new ConnectionLostError('the connection closed during setup')
    expect(translate(ours, 'h:1')).toBe(ours) // already in pglisten's words
  })
})
