/**
 * sslmode's second chance (libpq's "retry with/without SSL") is taken only when the second
 * attempt would differ from the first: prefer drops TLS only if the refused login used it,
 * allow adds TLS only after a refused plain login. Another attempt just like the one refused
 * would log a second failed login on the server and count twice towards a lockout.
 */
import { readFile } from 'node:fs/promises'
import { describe, expect, test } from 'vitest'
import { DatabaseError } from '../../src/protocol/errors.ts'
import { connect, type ConnectOptions } from '../../src/protocol/index.ts'
import { fakeServersClosedAfterEach, type FakeClient, type FakeServer } from '../support/fake-server.ts'
import { isolated, server as testServer } from '../support/connect.ts'
import { backend, loginAccepted } from '../support/wire.ts'

const serve = fakeServersClosedAfterEach()

function options(server: FakeServer, extra: Partial<ConnectOptions> = {}): ConnectOptions {
  return { ...isolated, host: '127.0.0.1', port: server.port, user: 'ann', database: 'db', password: 'wrong', connectTimeout: 5, ...extra }
}

/** Once the StartupMessage is read: ask for a password, read it, refuse it as PostgreSQL does. */
async function refusesPassword(client: FakeClient): Promise<void> {
  client.write(backend.authenticationCleartextPassword())
  await client.readMessage() // PasswordMessage
  client.write(backend.errorResponse({ S: 'FATAL', V: 'FATAL', C: '28P01', M: 'password authentication failed for user "ann"' }))
  client.end()
}

/** TLS when asked for (SSLRequest, answered 'S'), plain otherwise; either way the login is refused. */
async function acceptsAnyTransportThenRefuses(client: FakeClient): Promise<void> {
  if ((await client.readPacket()).length === 8) {
    await client.startTls()
    await client.readPacket() // StartupMessage
  }
  await refusesPassword(client)
}

describe('sslmode=prefer', () => {
  test("a server that answers 'N' and refuses the login sees one login attempt, not two", async () => {
    const server = await serve(async (client) => {
      if ((await client.readPacket()).length === 8) {
        client.write(Uint8Array.of(0x4e)) // 'N' to SSLRequest: go on in plain text, on this same connection
        await client.readPacket() // StartupMessage
      }
      await refusesPassword(client)
    })
    const error = await connect(options(server, { sslmode: 'prefer' })).catch((e) => e)
    expect(error).toBeInstanceOf(DatabaseError)
    expect(error.code).toBe('28P01')
    expect(server.clients).toHaveLength(1)
  })

  test('a login refused over TLS is tried once more in plain text, as libpq does', async () => {
    const server = await serve(acceptsAnyTransportThenRefuses)
    const error = await connect(options(server, { sslmode: 'prefer' })).catch((e) => e)
    expect(error).toBeInstanceOf(DatabaseError)
    expect(server.clients).toHaveLength(2)
    expect(server.clients[0]!.alpn).toBeDefined() // the first attempt brought TLS up
    expect(server.clients[1]!.alpn).toBeUndefined() // the second stayed plain
  })
})

describe('sslmode=allow', () => {
  test('a refused plain login is tried once more over TLS', async () => {
    const server = await serve(async (client) => {
      const first = await client.readPacket()
      if (first.length !== 8) {
        // Plain startup: refused as pg_hba's hostnossl ... reject would.
        client.write(backend.errorResponse({ S: 'FATAL', V: 'FATAL', C: '28000', M: 'no encryption' }))
        client.end()
        return
      }
      await client.startTls()
      await client.readPacket()
      client.write(loginAccepted())
      await client.closed
    })
    const c = await connect(options(server, { sslmode: 'allow' }))
    try {
      expect(c.encrypted).toBe(true)
      expect(server.clients).toHaveLength(2)
    } finally {
      c.abort(new Error('done'))
    }
  })
})

describe('sslmode=require', () => {
  test('a login refused over TLS is not tried again: never in plain text, which require forbids', async () => {
    const server = await serve(acceptsAnyTransportThenRefuses)
    const error = await connect(options(server, { sslmode: 'require' })).catch((e) => e)
    expect(error).toBeInstanceOf(DatabaseError)
    expect(error.code).toBe('28P01')
    expect(server.clients).toHaveLength(1)
    expect(server.clients[0]!.alpn).toBeDefined() // over TLS
  })
})

const pg = testServer()

describe.skipIf(!pg.logFile || !pg.tls || !pg.users)('against the real server, which has TLS', () => {
  test('prefer with a wrong password logs two failed logins, one over TLS and one plain: libpq retries without TLS when TLS was in use', async () => {
    // A database name of its own marks this test's lines in the server log (log_line_prefix %u@%d);
    // password authentication fails before the database is looked up.
    const database = `pglisten_prefer_${process.pid}_${Date.now()}`
    const user = pg.users!.scram.user
    const error = await connect({ ...isolated, host: pg.host, port: pg.port, user, password: 'wrong', database, sslmode: 'prefer', connectTimeout: 10 }).catch((e) => e)
    expect(error).toBeInstanceOf(DatabaseError)
    expect(error.code).toBe('28P01')
    const failedLogins = async () => (await readFile(pg.logFile!, 'utf8'))
      .split('\n')
      .filter((line) => line.includes(`${user}@${database} FATAL:`) && line.includes('password authentication failed'))
      .length
    // The log is written by the server, maybe a moment after the client heard the error.
    let count = await failedLogins()
    for (let tries = 0; count < 2 && tries < 50; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      count = await failedLogins()
    }
    expect(count).toBe(2)
  })
})

describe('a host that names a socket folder, beside a hostaddr', () => {
  // libpq (pqConnectOptions2): a hostaddr makes the target an address, whatever host says. Before,
  // the folder won: no TCP, no TLS whatever sslmode asked, and the password to whatever listened
  // on that folder's socket file (with PGHOST=/tmp and hostaddr=... sslmode=verify-full, say).
  test('the connection goes over TCP to the hostaddr, and sslmode=require asks for TLS', async () => {
    const first: number[] = []
    const server = await serve(async (client) => {
      first.push((await client.readPacket()).length)
      client.write(Uint8Array.of(0x4e)) // 'N': no TLS here, which require refuses
      await client.closed
    })
    const error = await connect(options(server, { host: '/nonexistent-pglisten-dir', hostaddr: '127.0.0.1', sslmode: 'require' })).catch((e) => e)
    expect(server.clients).toHaveLength(1)
    expect(first).toEqual([8]) // an SSLRequest
    expect(String(error)).toMatch(/does not accept TLS/)
  })
})
