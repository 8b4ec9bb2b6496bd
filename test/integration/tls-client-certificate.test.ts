/**
 * Whose certificate was refused, against the real server: PostgreSQL with ssl_ca_file checks a
 * client certificate during the TLS handshake and answers one it refuses with a TLS alert
 * (OpenSSL's verify_cb, be-secure-openssl.c). That is the server refusing ours, not node:tls
 * refusing the server's. The handshake is held to TLS 1.2, where the alert ends the handshake
 * itself; under TLS 1.3 the same alert comes after it, while startup reads (noted as open).
 */
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import tls from 'node:tls'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { makeTls } from '../harness/tls.ts'
import { AuthenticationRefusedError, ConnectionLostError } from '../../src/protocol/errors.ts'
import { connect, server } from '../support/connect.ts'

const pg = server()
const users = pg.users
/** The embedded server's own certificate, beside the CA's: signed by the CA the server trusts, but for a server's use. */
const serverFiles = pg.tls && { cert: join(dirname(pg.tls.caFile), 'server.crt'), key: join(dirname(pg.tls.caFile), 'server.key') }
const where = `${pg.host.includes(':') ? `[${pg.host}]` : pg.host}:${pg.port}`

describe.skipIf(!users || !serverFiles || !existsSync(serverFiles.cert))('a client certificate the server refuses, in a TLS 1.2 handshake', () => {
  let savedMax: tls.SecureVersion
  let otherCa: string | undefined
  beforeAll(() => {
    savedMax = tls.DEFAULT_MAX_VERSION
    tls.DEFAULT_MAX_VERSION = 'TLSv1.2'
  })
  afterAll(async () => {
    tls.DEFAULT_MAX_VERSION = savedMax
    if (otherCa) await rm(otherCa, { recursive: true, force: true })
  })

  test("a certificate for a server's use offered as the client's: the server refused the TLS client certificate, not the server's refused", async () => {
    const error = await connect(users!.cert, 'tls', {
      sslcert: { pem: await readFile(serverFiles!.cert, 'utf8') },
      sslkey: { pem: await readFile(serverFiles!.key, 'utf8') },
    }).catch((e) => e)
    expect(error.message).toBe(`the server refused the TLS client certificate (ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE) at ${where}`)
    expect(error).toBeInstanceOf(ConnectionLostError)
    expect(error.cause.code).toBe('ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE')
  })

  test('a client certificate from a CA the server does not trust: the same words, with the alert unknown_ca', async () => {
    otherCa = await mkdtemp(join(tmpdir(), 'pglisten-other-ca-'))
    const other = await makeTls(otherCa, users!.cert.user)
    const error = await connect(users!.cert, 'tls', {
      sslcert: { pem: await readFile(other.clientCertFile, 'utf8') },
      sslkey: { pem: await readFile(other.clientKeyFile, 'utf8') },
    }).catch((e) => e)
    expect(error.message).toBe(`the server refused the TLS client certificate (ERR_SSL_TLSV1_ALERT_UNKNOWN_CA) at ${where}`)
    expect(error).toBeInstanceOf(ConnectionLostError)
  })

  test("the server's certificate refused by us, in the same handshake: still the server's TLS certificate was refused", async () => {
    const error = await connect(users!.scram, 'tls', { sslrootcert: { pem: await readFile(serverFiles!.cert, 'utf8') } }).catch((e) => e)
    expect(error).toBeInstanceOf(AuthenticationRefusedError)
    expect(error.message).toMatch(new RegExp(`^the server's TLS certificate was refused \\([A-Z_]+\\) at ${where.replace(/[.[\]]/g, '\\$&')}$`))
  })

  test('the right client certificate still authenticates over TLS 1.2', async () => {
    const c = await connect(users!.cert, 'tls', {
      sslcert: { pem: await readFile(pg.tls!.clientCertFile, 'utf8') },
      sslkey: { pem: await readFile(pg.tls!.clientKeyFile, 'utf8') },
    })
    try {
      const [result] = await c.query("SELECT current_user, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
      expect(result!.rows).toEqual([[users!.cert.user, 'TLSv1.2']])
    } finally {
      await c.close()
    }
  })
})
