/**
 * TLS set-up failures in words a person can act on (io/tls-failures.ts): libpq's message for a
 * missing root certificate, and a direct TLS handshake a server did not accept. The original
 * error stays the cause; anything else is left as it was.
 */
import { describe, expect, test } from 'vitest'
import { AuthenticationRefusedError, ConnectionLostError } from '../../../src/protocol/errors.ts'
import { directTlsRefused, isMissingFile, missingRootCertificate } from '../../../src/protocol/io/tls-failures.ts'

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
