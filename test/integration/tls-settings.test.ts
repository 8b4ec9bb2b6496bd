/**
 * What the TLS layer is told, checked by what happens: a mode that verifies refuses a certificate
 * the trust store does not know, even with no root certificate given; SNI names a host, never an
 * address, and sslsni=0 sends none; verify-full checks the name of the host connected to. And
 * how a connection says it was lost: a reset keeps the socket's error as the cause.
 * The real server where it can show it; a scripted one to see what the client sent by SNI and
 * to reset a connection (a real server does neither on demand).
 */
import { describe, expect, test } from 'vitest'
import { AuthenticationRefusedError, ConnectionLostError } from '../../src/protocol/errors.ts'
import { Connection } from '../../src/protocol/io/connection.ts'
import { nodePlatform } from '../../src/protocol/io/node-platform.ts'
import type { TlsSettings } from '../../src/protocol/io/link.ts'
import { connect as connectLibpq, type ConnectOptions } from '../../src/protocol/index.ts'
import { isolated, server } from '../support/connect.ts'
import { fakeServersClosedAfterEach, type FakeClient, type FakeServer } from '../support/fake-server.ts'
import { loginAccepted } from '../support/wire.ts'

const pg = server()
const serve = fakeServersClosedAfterEach()

/** One attempt below connect(), with these TLS settings exactly: no root certificate loaded for it. */
function open(tls: TlsSettings): Promise<Connection> {
  return Connection.open({
    platform: nodePlatform,
    host: pg.host,
    port: pg.port,
    user: pg.superuser.user,
    database: pg.database,
    ...(pg.superuser.password !== undefined ? { password: pg.superuser.password } : {}),
    tls,
    useTls: true,
    timeoutMs: 10_000,
  })
}

describe.skipIf(!pg.tls)('a mode that verifies, with no root certificate given', () => {
  test.each(['verify-ca', 'verify-full'] as const)('sslmode=%s checks the chain against the trust store, which does not know the test CA', async (mode) => {
    const error = await open({ mode }).catch((e) => e)
    expect(error).toBeInstanceOf(AuthenticationRefusedError)
    expect(error.message).toMatch(/TLS certificate was refused/)
  })

  test('sslmode=require, given no root certificate, does not check the chain', async () => {
    const c = await open({ mode: 'require' })
    try {
      expect(c.encrypted).toBe(true)
    } finally {
      await c.close()
    }
  })
})

// libpq refuses verify-full without a host name ("host name must be specified for a verified SSL
// connection"); pglisten checks the certificate against the address instead, which RFC 6125
// allows (an iPAddress subjectAltName), so an address alone is still verified, never trusted blindly.
describe.skipIf(!pg.tls || !['127.0.0.1', '::1'].includes(pg.host))('verify-full and the name checked', () => {
  test('with only hostaddr, the certificate is checked against that address (the test certificate names 127.0.0.1 and ::1)', async () => {
    const c = await connectLibpq({ ...isolated, hostaddr: pg.host, port: pg.port, user: pg.superuser.user, database: pg.database, ...(pg.superuser.password !== undefined ? { password: pg.superuser.password } : {}), sslmode: 'verify-full', sslrootcert: { pem: pg.tls!.ca } })
    try {
      expect(c.encrypted).toBe(true)
    } finally {
      await c.close()
    }
  })
})

/** Accepts TLS after the SSLRequest, then completes startup; the client then closes. */
async function acceptsTls(client: FakeClient): Promise<void> {
  await client.readPacket() // SSLRequest
  await client.startTls()
  await client.readPacket() // StartupMessage
  client.write(loginAccepted())
  await client.closed
}

function options(server: FakeServer, extra: Partial<ConnectOptions>): ConnectOptions {
  return { ...isolated, port: server.port, user: 'ann', database: 'db', password: 'pw', sslmode: 'require', connectTimeout: 10, ...extra }
}

describe('SNI (RFC 6066 section 3)', () => {
  test.each([
    ['a host name is sent', { host: 'localhost' }, 'localhost'],
    ['an IP address is not', { host: '127.0.0.1' }, false],
    ['sslsni=0 sends none', { host: 'localhost', sslsni: '0' }, false],
  ] as const)('%s', async (_, extra, sent) => {
    const fake = await serve(acceptsTls)
    const c = await connectLibpq(options(fake, extra))
    try {
      expect(c.encrypted).toBe(true)
      expect(fake.clients[0]!.serverName).toBe(sent)
    } finally {
      await c.close()
    }
  })
})

describe('how a lost connection says so', () => {
  /** Completes a plain startup, then ends the connection with `how`. */
  const ends = (how: (client: FakeClient) => void) => async (client: FakeClient) => {
    await client.readPacket()
    client.write(loginAccepted())
    // Not at once: an RST sent with the startup's answer could discard it, and connect() would fail instead.
    await new Promise((resolve) => setTimeout(resolve, 20))
    how(client)
  }

  test('a reset: "the connection was lost", with the socket\'s error as the cause', async () => {
    const fake = await serve(ends((client) => client.reset()))
    const c = await connectLibpq(options(fake, { host: '127.0.0.1', sslmode: 'disable' }))
    const reason = await c.closed
    expect(reason).toBeInstanceOf(ConnectionLostError)
    expect(reason!.message).toMatch(/^the connection was lost: .*ECONNRESET/)
    expect((reason!.cause as { code?: string }).code).toBe('ECONNRESET')
  })

  test('a close by the server: "the server closed the connection", with no cause', async () => {
    const fake = await serve(ends((client) => client.end()))
    const c = await connectLibpq(options(fake, { host: '127.0.0.1', sslmode: 'disable' }))
    const reason = await c.closed
    expect(reason).toBeInstanceOf(ConnectionLostError)
    expect(reason!.message).toBe('the server closed the connection')
    expect(reason!.cause).toBeUndefined()
  })
})
