/**
 * target_session_attrs asks a server without in_hot_standby (PostgreSQL 13, or a pooler that
 * does not pass it on) with a query. When that query fails, libpq closes the connection, with
 * Terminate, and tries the next host. A real server cannot be made to fail `SHOW
 * transaction_read_only` on demand, so a scripted server does.
 */
import { describe, expect, test } from 'vitest'
import { DatabaseError } from '../../src/protocol/errors.ts'
import { connect, type ConnectOptions } from '../../src/protocol/index.ts'
import { fakeServersClosedAfterEach, type FakeClient, type FakeServer } from '../support/fake-server.ts'
import { isolated, server as testServer } from '../support/connect.ts'
import { within } from '../support/listener-world.ts'
import { backend, concat, loginAccepted } from '../support/wire.ts'

const serve = fakeServersClosedAfterEach()

/**
 * Startup without the parameters that answer target_session_attrs, then the check query refused
 * with an ErrorResponse and ReadyForQuery, as a server says no to a query it will not run.
 */
async function refusesTheCheck(client: FakeClient): Promise<void> {
  await client.readPacket() // StartupMessage
  client.write(loginAccepted())
  await client.readMessage() // Query: SHOW transaction_read_only
  client.write(concat(backend.errorResponse({ S: 'ERROR', V: 'ERROR', C: '42501', M: 'permission denied for parameter transaction_read_only' }), backend.readyForQuery()))
}

/** The message types the client sent, in order, from everything the server received. */
function messageTypesAfterStartup(client: FakeClient): string[] {
  const bytes = client.received()
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let at = view.getInt32(0) // the StartupMessage: Int32 length, no type byte
  const types: string[] = []
  while (at + 5 <= bytes.length) {
    types.push(String.fromCharCode(bytes[at]!))
    at += 1 + view.getInt32(at + 1)
  }
  return types
}

function options(server: FakeServer, extra: Partial<ConnectOptions> = {}): ConnectOptions {
  return { ...isolated, host: '127.0.0.1', port: server.port, user: 'ann', database: 'db', password: 'pw', sslmode: 'disable', connectTimeout: 10, targetSessionAttrs: 'read-write', ...extra }
}

describe('a target_session_attrs check query that fails', () => {
  test('rejects with the server\'s error and closes that connection with Terminate; onClose is not told of it', async () => {
    const server = await serve(refusesTheCheck)
    const closes: unknown[] = []
    const error = await connect(options(server, { onClose: (e) => void closes.push(e) })).catch((e) => e)
    expect(error).toBeInstanceOf(DatabaseError)
    expect(error.code).toBe('42501')
    const client = server.clients[0]!
    await within(client.closed, 2000, 'the client closing its socket')
    expect(messageTypesAfterStartup(client)).toEqual(['Q', 'X']) // the check query, then Terminate
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(closes).toEqual([]) // the caller never had that connection
  })

  test('the next host is tried, and the first connection does not stay open; onClose hears of the returned one only', async () => {
    const server = await serve(refusesTheCheck)
    const pg = testServer()
    const closes: unknown[] = []
    const c = await connect({
      ...options(server),
      onClose: (e) => void closes.push(e),
      host: `127.0.0.1,${pg.host}`,
      port: `${server.port},${pg.port}`,
      user: pg.superuser.user,
      database: pg.database,
      ...(pg.superuser.password !== undefined ? { password: pg.superuser.password } : {}),
    })
    try {
      expect(c.endpoint.port).toBe(pg.port)
      await within(server.clients[0]!.closed, 2000, 'the client closing its socket')
      expect(messageTypesAfterStartup(server.clients[0]!)).toEqual(['Q', 'X'])
      await new Promise((resolve) => setTimeout(resolve, 20))
      expect(closes).toEqual([]) // the first host's connection was closed by connect(), not the caller's
    } finally {
      await c.close()
    }
    expect(closes).toEqual([undefined]) // close() called: no error
  })
})

describe('a target_session_attrs check query that is never answered', () => {
  // libpq's connect_timeout covers its CONNECTION_CHECK_* states; before, only startup was bounded,
  // and connect() waited for the answer for good, never trying the next host.
  test('connect_timeout gives it up, and the next host is tried', async () => {
    const silent = await serve(async (client) => {
      await client.readPacket() // StartupMessage
      client.write(loginAccepted())
      await client.readMessage() // Query: SHOW transaction_read_only, never answered
      await client.closed
    })
    const pg = testServer()
    const c = await connect({
      ...options(silent, { connectTimeout: 1 }),
      host: `127.0.0.1,${pg.host}`,
      port: `${silent.port},${pg.port}`,
      user: pg.superuser.user,
      database: pg.database,
      ...(pg.superuser.password !== undefined ? { password: pg.superuser.password } : {}),
    })
    try {
      expect(c.endpoint.port).toBe(pg.port)
      await within(silent.clients[0]!.closed, 2000, 'the client closing the silent host\'s socket')
    } finally {
      await c.close()
    }
  })

  test('with one host, it rejects saying so', async () => {
    const silent = await serve(async (client) => {
      await client.readPacket()
      client.write(loginAccepted())
      await client.readMessage()
      await client.closed
    })
    const error = await connect(options(silent, { connectTimeout: 1 })).catch((e: unknown) => e)
    expect(String(error)).toMatch(/the target_session_attrs check did not finish within 1000 ms/)
  })
})
