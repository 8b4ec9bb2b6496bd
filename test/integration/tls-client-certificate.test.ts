/**
 * Whose certificate was refused, against the real server: PostgreSQL with ssl_ca_file checks a
 * client certificate during the TLS handshake and answers one it refuses with a TLS alert
 * (OpenSSL's verify_cb, be-secure-openssl.c). That is the server refusing ours, not node:tls
 * refusing the server's. Under TLS 1.2 the alert ends the handshake itself; under TLS 1.3 the
 * client's certificate goes in its last flight, after the server's Finished (RFC 8446, section
 * 2), so the same alert comes after node:tls has finished the handshake, while startup reads.
 * Both are told in the same words.
 */
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import tls from 'node:tls'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { makeTls } from '../harness/tls.ts'
import { AuthenticationRefusedError, ConnectionLostError, DatabaseError } from '../../src/protocol/errors.ts'
import { connect, server } from '../support/connect.ts'

const pg = server()
const users = pg.users
/** The embedded server's own certificate, beside the CA's: signed by the CA the server trusts, but for a server's use. */
const serverFiles = pg.tls && { cert: join(dirname(pg.tls.caFile), 'server.crt'), key: join(dirname(pg.tls.caFile), 'server.key') }
const where = `${pg.host.includes(':') ? `[${pg.host}]` : pg.host}:${pg.port}`

/** Connects as the `cert` user offering the server's own certificate (signed by the trusted CA, for a server's use). */
async function offeringServersOwn(): Promise<unknown> {
  return connect(users!.cert, 'tls', {
    sslcert: { pem: await readFile(serverFiles!.cert, 'utf8') },
    sslkey: { pem: await readFile(serverFiles!.key, 'utf8') },
  }).catch((e) => e)
}

/** Connects as the `cert` user offering a client certificate of a CA made in `folder`, one the server does not trust. */
async function offeringOtherCas(folder: string): Promise<unknown> {
  const other = await makeTls(folder, users!.cert.user)
  return connect(users!.cert, 'tls', {
    sslcert: { pem: await readFile(other.clientCertFile, 'utf8') },
    sslkey: { pem: await readFile(other.clientKeyFile, 'utf8') },
  }).catch((e) => e)
}

/** The server refused our certificate: said so, with OpenSSL's alert as the cause. */
function expectRefusedByServer(error: unknown, code: string): void {
  expect(error).toBeInstanceOf(ConnectionLostError)
  expect((error as Error).message).toBe(`the server refused the TLS client certificate (${code}) at ${where}`)
  expect(((error as Error).cause as { code?: string }).code).toBe(code)
}

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
    expectRefusedByServer(await offeringServersOwn(), 'ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE')
  })

  test('a client certificate from a CA the server does not trust: the same words, with the alert unknown_ca', async () => {
    otherCa = await mkdtemp(join(tmpdir(), 'pglisten-other-ca-'))
    expectRefusedByServer(await offeringOtherCas(otherCa), 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA')
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

describe.skipIf(!users || !serverFiles || !existsSync(serverFiles.cert))('a client certificate the server refuses, or requires, in a TLS 1.3 handshake', () => {
  let savedMin: tls.SecureVersion
  let otherCa: string | undefined
  beforeAll(() => {
    savedMin = tls.DEFAULT_MIN_VERSION
    tls.DEFAULT_MIN_VERSION = 'TLSv1.3'
  })
  afterAll(async () => {
    tls.DEFAULT_MIN_VERSION = savedMin
    if (otherCa) await rm(otherCa, { recursive: true, force: true })
  })

  test("a certificate for a server's use offered as the client's: the alert comes during startup, in the same words as under TLS 1.2", async () => {
    // Not "the connection was lost: ...:SSL alert number 43" and a newline: OpenSSL's words.
    expectRefusedByServer(await offeringServersOwn(), 'ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE')
  })

  test('a client certificate from a CA the server does not trust: the same words, with the alert unknown_ca', async () => {
    otherCa = await mkdtemp(join(tmpdir(), 'pglisten-other-ca-'))
    expectRefusedByServer(await offeringOtherCas(otherCa), 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA')
  })

  test('no client certificate for `cert` authentication: PostgreSQL asks for one but lets the handshake finish, and refuses at startup in its own words', async () => {
    // be-secure-openssl.c sets SSL_VERIFY_PEER without SSL_VERIFY_FAIL_IF_NO_PEER_CERT: no alert;
    // the `cert` method (auth.c) then answers the startup with FATAL 28000.
    const error = await connect(users!.cert, 'tls', { sslcertmode: 'disable' }).catch((e) => e)
    expect(error).toBeInstanceOf(DatabaseError)
    expect(error.code).toBe('28000')
    expect(error.message).toBe('connection requires a valid client certificate')
  })

  test('the right client certificate still authenticates, over TLS 1.3', async () => {
    const c = await connect(users!.cert, 'tls', {
      sslcert: { pem: await readFile(pg.tls!.clientCertFile, 'utf8') },
      sslkey: { pem: await readFile(pg.tls!.clientKeyFile, 'utf8') },
    })
    try {
      const [result] = await c.query("SELECT current_user, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
      expect(result!.rows).toEqual([[users!.cert.user, 'TLSv1.3']])
    } finally {
      await c.close()
    }
  })
})

/**
 * What PostgreSQL never sends, a TLS front that requires a client certificate may (a proxy that
 * terminates TLS): with none, OpenSSL's server answers the client's last flight with the alert
 * certificate_required (RFC 8446, section 4.4.2.4). This one answers SSLRequest with 'S', then
 * shakes hands with the test server's certificate, requiring a client certificate.
 */
describe.skipIf(!users || !serverFiles || !existsSync(serverFiles.cert))('a TLS front that requires a client certificate, under TLS 1.3', () => {
  let savedMin: tls.SecureVersion
  let front: net.Server
  const sockets = new Set<net.Socket>()
  beforeAll(async () => {
    savedMin = tls.DEFAULT_MIN_VERSION
    tls.DEFAULT_MIN_VERSION = 'TLSv1.3'
    const context = tls.createSecureContext({ cert: await readFile(serverFiles!.cert, 'utf8'), key: await readFile(serverFiles!.key, 'utf8'), ca: pg.tls!.ca })
    front = net.createServer((socket) => {
      sockets.add(socket)
      socket.on('error', () => {}) // the client's side of the story is the test's
      socket.once('data', () => {
        socket.pause()
        socket.write('S') // SSLResponse: TLS accepted
        const secure = new tls.TLSSocket(socket, { isServer: true, secureContext: context, requestCert: true, rejectUnauthorized: true })
        secure.on('error', () => {}) // "peer did not return a certificate": ours to cause
      })
    })
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve))
  })
  afterAll(async () => {
    tls.DEFAULT_MIN_VERSION = savedMin
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => front.close(resolve))
  })

  test('no client certificate: the server requires a TLS client certificate, said during startup', async () => {
    const { port } = front.address() as net.AddressInfo
    const error = await connect(users!.cert, 'tls', { host: '127.0.0.1', port, sslcertmode: 'disable' }).catch((e) => e)
    expect(error.message).toBe(`the server requires a TLS client certificate (ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED) at 127.0.0.1:${port}`)
    expect(error).toBeInstanceOf(ConnectionLostError)
    expect(error.cause.code).toBe('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED')
  })
})
