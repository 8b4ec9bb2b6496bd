/**
 * The protocol connection against the real PostgreSQL the harness started: authentication by
 * every method and route, queries, errors, and asynchronous messages.
 */
import { afterEach, describe, expect, test } from 'vitest'
import type { NoticeResponse, NotificationResponse, ParameterStatus } from '../../src/protocol/backend/messages.ts'
import { ConnectionLostError, DatabaseError } from '../../src/protocol/errors.ts'
import { Connection } from '../../src/protocol/io/connection.ts'
import { nodePlatform } from '../../src/protocol/io/node-platform.ts'
import { connect, connectSuperuser, eventually, server, type Route } from '../support/connect.ts'

const pg = server()
const users = pg.users
const open: Connection[] = []
async function track(connection: Promise<Connection>): Promise<Connection> {
  const c = await connection
  open.push(c)
  return c
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()))
})

describe.skipIf(!users)('login by each method and route', () => {
  const cases: [keyof NonNullable<typeof users>, Route, string][] = []
  for (const route of ['tcp', 'tls', 'unix'] as const) {
    // Over TLS, channel_binding=prefer (the default) binds SCRAM to the server's certificate.
    cases.push(['scram', route, route === 'tls' ? 'SCRAM-SHA-256-PLUS' : 'SCRAM-SHA-256'], ['md5', route, 'md5'], ['password', route, 'password'], ['trust', route, 'trust'])
  }
  cases.push(['tlsOnly', 'tls', 'SCRAM-SHA-256-PLUS'])

  test.each(cases)('%s over %s authenticates with %s', async (role, route, method) => {
    const c = await track(connect(users![role], route))
    expect(c.authentication).toBe(method)
    expect(c.encrypted).toBe(route === 'tls')
    const [result] = await c.query('SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')
    expect(result!.rows).toEqual([[users![role].user, route === 'tls' ? 't' : 'f']])
  })

  test('a TLS-only role is refused on plain TCP', async () => {
    const error = await connect(users!.tlsOnly, 'tcp').catch((e) => e)
    expect(error).toBeInstanceOf(DatabaseError)
    expect(error.code).toBe('28000') // invalid_authorization_specification: pg_hba.conf rejects
  })

  test('a client certificate authenticates the cert role', async () => {
    const { readFile } = await import('node:fs/promises')
    const c = await track(connect(users!.cert, 'tls', {
      sslcert: { pem: await readFile(pg.tls!.clientCertFile, 'utf8') },
      sslkey: { pem: await readFile(pg.tls!.clientKeyFile, 'utf8') },
    }))
    const [result] = await c.query('SELECT current_user')
    expect(result!.rows).toEqual([[users!.cert.user]])
  })

  test('sslcertmode=disable presents no certificate, even one given: the cert role is refused', async () => {
    const { readFile } = await import('node:fs/promises')
    const error = await connect(users!.cert, 'tls', {
      sslcert: { pem: await readFile(pg.tls!.clientCertFile, 'utf8') },
      sslkey: { pem: await readFile(pg.tls!.clientKeyFile, 'utf8') },
      sslcertmode: 'disable',
    }).catch((e) => e)
    expect(error).toBeInstanceOf(DatabaseError)
    expect(error.code).toBe('28000')
    expect(error.message).toMatch(/requires a valid client certificate/)
  })

  test.each(['scram', 'md5', 'password'] as const)('a wrong %s password gives a DatabaseError with code 28P01', async (role) => {
    const error = await connect({ ...users![role], password: 'wrong' }, 'tcp').catch((e) => e)
    expect(error).toBeInstanceOf(DatabaseError)
    expect(error.code).toBe('28P01')
    expect(String(error.message)).not.toContain('wrong')
  })

  test('a refused login rejects, and onClose is not called: open() never returned a connection', async () => {
    const closes: unknown[] = []
    const { user } = users!.scram
    const error = await Connection.open({ platform: nodePlatform, host: pg.host, port: pg.port, user, password: 'wrong', tls: { mode: 'disable' }, useTls: false, onClose: (e) => void closes.push(e) }).catch((e) => e)
    expect(error).toMatchObject({ code: '28P01' })
    await new Promise((resolve) => setTimeout(resolve, 50)) // the socket's close comes after the rejection
    expect(closes).toEqual([])
  })
})

describe('queries', () => {
  test('SELECT returns rows as text and NULLs as null', async () => {
    const c = await track(connectSuperuser())
    const [result] = await c.query("SELECT * FROM (VALUES (1, 'one', NULL::text), (2, NULL, 'zwei')) AS t(n, a, b) ORDER BY n")
    expect(result!.command).toBe('SELECT 2')
    expect(result!.fields.map((f) => f.name)).toEqual(['n', 'a', 'b'])
    expect(result!.rows).toEqual([['1', 'one', null], ['2', null, 'zwei']])
  })

  test('an error inside a multi-statement query rejects, and the connection stays usable', async () => {
    const c = await track(connectSuperuser())
    const error = await c.query('SELECT 1; SELECT 1/0; SELECT 3').catch((e) => e)
    expect(error).toBeInstanceOf(DatabaseError)
    expect(error.code).toBe('22012') // division_by_zero
    const [result] = await c.query("SELECT 'still here'")
    expect(result!.rows).toEqual([['still here']])
    expect(c.transactionStatus).toBe('I')
  })

  test('a failed statement inside a transaction block leaves status E until ROLLBACK', async () => {
    const c = await track(connectSuperuser())
    await expect(c.query('BEGIN; SELECT nope')).rejects.toBeInstanceOf(DatabaseError)
    expect(c.transactionStatus).toBe('E')
    await c.query('ROLLBACK')
    expect(c.transactionStatus).toBe('I')
  })

  test('an empty query string gives no results', async () => {
    const c = await track(connectSuperuser())
    expect(await c.query('')).toEqual([])
  })

  test('cancel() stops a running query with 57014', async () => {
    const c = await track(connectSuperuser())
    // The rejection can arrive while cancel() is still closing its own connection: catch now.
    const sleeping = c.query('SELECT pg_sleep(30)').catch((e) => e)
    // A cancel that reaches the server before the query starts cancels nothing: wait for it to run.
    const watcher = await track(connectSuperuser())
    await eventually(async () => (await watcher.query(`SELECT state FROM pg_stat_activity WHERE pid = ${c.processId}`))[0]!.rows[0]?.[0] === 'active')
    await c.cancel()
    const error = await sleeping
    expect(error).toBeInstanceOf(DatabaseError)
    expect(error.code).toBe('57014') // query_canceled
    expect((await c.query('SELECT 1'))[0]!.rows).toEqual([['1']])
  })
})

describe('asynchronous messages', () => {
  test('a NOTIFY from the same connection and from another one arrives with channel, payload and process ID', async () => {
    const heard: NotificationResponse[] = []
    const listener = await track(connectSuperuser({ onNotification: (n) => heard.push(n) }))
    const other = await track(connectSuperuser())
    await listener.query('LISTEN "Jobs Channel"')
    await listener.query(`NOTIFY "Jobs Channel", 'from myself'`)
    await other.query(`SELECT pg_notify('Jobs Channel', 'from ' || 'another é🔔')`)
    await eventually(() => heard.length === 2)
    expect(heard).toEqual([
      { type: 'NotificationResponse', processId: listener.processId, channel: 'Jobs Channel', payload: 'from myself' },
      { type: 'NotificationResponse', processId: other.processId, channel: 'Jobs Channel', payload: 'from another é🔔' },
    ])
    expect(listener.processId).not.toBe(other.processId)
  })

  test('a notification sent while a query runs is handed on before the query completes', async () => {
    const heard: string[] = []
    const listener = await track(connectSuperuser({ onNotification: (n) => heard.push(n.payload) }))
    const other = await track(connectSuperuser())
    await listener.query('LISTEN busy')
    // The query waits for a lock the other session holds; the NOTIFY commits while it waits
    // (seen in pg_locks), and only then is the lock let go: no timing decides the order.
    const key = 4242_0158
    await other.query(`SELECT pg_advisory_lock(${key})`)
    const running = listener.query(`SELECT pg_advisory_lock(${key}), pg_advisory_unlock(${key})`).then(() => heard.length)
    await eventually(async () => Number((await other.query(`SELECT count(*) FROM pg_locks WHERE pid = ${listener.processId} AND NOT granted`))[0]!.rows[0]![0]) === 1)
    await other.query("NOTIFY busy, 'during'")
    await other.query(`SELECT pg_advisory_unlock(${key})`)
    expect(await running).toBe(1)
    expect(heard).toEqual(['during'])
  })

  test('paused, the connection reads nothing; resumed, everything arrives in order', async () => {
    const heard: string[] = []
    const listener = await track(connectSuperuser({ onNotification: (n) => heard.push(n.payload) }))
    const other = await track(connectSuperuser())
    await listener.query('LISTEN paused')
    listener.pause()
    await other.query("SELECT pg_notify('paused', g::text) FROM generate_series(1, 100) g")
    await new Promise((r) => setTimeout(r, 200))
    expect(heard).toEqual([])
    listener.resume()
    await eventually(() => heard.length === 100)
    expect(heard).toEqual(Array.from({ length: 100 }, (_, i) => String(i + 1)))
  })

  test('notices and parameter changes reach their handlers', async () => {
    const notices: NoticeResponse[] = []
    const parameters: ParameterStatus[] = []
    const c = await track(connectSuperuser({ onNotice: (n) => notices.push(n), onParameterStatus: (p) => parameters.push(p) }))
    expect(c.parameters.get('client_encoding')).toBe('UTF8')
    await c.query("DO $$ BEGIN RAISE NOTICE 'look: %', 42; END $$")
    expect(notices.map((n) => [n.fields.severity, n.fields.message])).toEqual([['NOTICE', 'look: 42']])
    await c.query("SET application_name = 'pglisten test'")
    expect(parameters).toContainEqual({ type: 'ParameterStatus', name: 'application_name', value: 'pglisten test' })
    expect(c.parameters.get('application_name')).toBe('pglisten test')
  })
})

describe('session life', () => {
  test('the negotiated protocol and cancel key match the server version', async () => {
    const c = await track(connectSuperuser())
    const version = Number(c.parameters.get('server_version')!.split('.')[0])
    expect(c.protocolVersion).toBe(version >= 18 ? (3 << 16) | 2 : 3 << 16)
    expect(c.processId).toBeGreaterThan(0)
  })

  test('close() ends the connection; later queries reject with ConnectionLostError', async () => {
    const c = await connectSuperuser()
    await c.close()
    expect(await c.closed).toBeUndefined()
    await expect(c.query('SELECT 1')).rejects.toBeInstanceOf(ConnectionLostError)
  })

  test('close() called twice at once sends one Terminate: both resolve, and the connection ends cleanly', async () => {
    const c = await connectSuperuser()
    await Promise.all([c.close(), c.close()])
    expect(await c.closed).toBeUndefined() // a second Terminate, written after the socket's end, would have been an error
    expect(c.isClosed).toBe(true)
  })

  test('endpoint says where the connection goes: hostaddr only when one was given', async () => {
    const plain = await track(connectSuperuser({ sslmode: 'disable' }))
    expect(plain.endpoint).toStrictEqual({ host: pg.host, port: pg.port })
    const byAddress = await track(connectSuperuser({ sslmode: 'disable', host: 'pglisten-test.invalid', hostaddr: pg.host }))
    expect(byAddress.endpoint).toStrictEqual({ host: 'pglisten-test.invalid', hostaddr: pg.host, port: pg.port })
  })

  test('pg_terminate_backend ends the connection with a ConnectionLostError caused by 57P01', async () => {
    const victim = await connectSuperuser()
    const admin = await track(connectSuperuser())
    await admin.query(`SELECT pg_terminate_backend(${victim.processId})`)
    const reason = await victim.closed
    expect(reason).toBeInstanceOf(ConnectionLostError)
    expect((reason as Error).cause).toBeInstanceOf(DatabaseError)
    expect(((reason as Error).cause as DatabaseError).code).toBe('57P01') // admin_shutdown
    await expect(victim.query('SELECT 1')).rejects.toBeInstanceOf(ConnectionLostError)
  })
})

describe('timeouts', () => {
  test.each([
    ['startup', 'disable', /startup did not finish within 300 ms/],
    ['the SSLRequest answer', 'prefer', /connection attempt timed out/],
  ] as const)('a server that accepts but never answers trips connectTimeout during %s', async (_, mode, message) => {
    const { createServer } = await import('node:net')
    const silent = createServer(() => {}) // accepts, reads nothing, says nothing
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const port = (silent.address() as { port: number }).port
    const { Connection } = await import('../../src/protocol/io/connection.ts')
    const error = await Connection.open({ platform: nodePlatform, host: '127.0.0.1', port, user: 'x', tls: { mode }, useTls: mode !== 'disable', timeoutMs: 300 }).catch((e) => e)
    silent.close()
    expect(error).toBeInstanceOf(ConnectionLostError)
    expect(error.message).toMatch(message)
  })
})

describe('misuse', () => {
  // Every failure of connect() reaches the caller through its promise: a TypeError for options
  // that are not an object, never a throw at the call ("Cannot read properties of null").
  test.each([
    ['null', null],
    ['a number', 5],
  ])('options that are %s reject with a TypeError', async (_, options) => {
    const { connect: connectAsGiven } = await import('../../src/protocol/index.ts')
    let connecting: Promise<unknown> | undefined
    expect(() => (connecting = connectAsGiven(options as never))).not.toThrow()
    await expect(connecting).rejects.toThrow(new TypeError('options must be an object or a connection string'))
  })
})
