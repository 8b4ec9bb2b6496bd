/**
 * pglisten/lite against the real server: SCRAM over verified TLS, LISTEN, a reconnect's Gap,
 * an iterator that falls behind, what arrives before any consumer, and close().
 */
import { afterEach, describe, expect, test } from 'vitest'
import { connect, createListener, ListenerError, ConnectionLostError, type LiteItem, type LiteListener, type LiteListenerOptions } from '../../src/lite.ts'
import { eventually, server } from '../support/connect.ts'
import { admin, take } from '../support/listener.ts'

/** The SCRAM role over verify-full TLS, as a Worker or a small bundle would connect. */
function options(extra: Partial<LiteListenerOptions> = {}): LiteListenerOptions {
  const pg = server()
  if (!pg.tls || !pg.users) throw new Error('the lite tests need the embedded server, with its CA and roles')
  return { host: pg.host, port: pg.port, user: pg.users.scram.user, password: pg.users.scram.password, database: pg.database, ca: pg.tls.ca, ...extra }
}

const opened: LiteListener[] = []
afterEach(async () => {
  await Promise.all(opened.splice(0).map((l) => l.close()))
})

async function lite(extra: Partial<LiteListenerOptions> = {}): Promise<LiteListener> {
  const l = await createListener(options(extra))
  opened.push(l)
  return l
}

let count = 0
const channel = () => `lite_${process.pid}_${++count}`

/** The backend whose last statement was LISTEN on `name`: the listener's. */
async function backendListeningOn(name: string): Promise<string> {
  const [result] = await (await admin()).query(`SELECT pid FROM pg_stat_activity WHERE query = 'LISTEN "${name}"'`)
  expect(result!.rows).toHaveLength(1)
  return result!.rows[0]![0]!
}

async function notify(name: string, ...payloads: string[]): Promise<void> {
  const a = await admin()
  for (const payload of payloads) await a.query(`SELECT pg_notify('${name}', '${payload}')`)
}

describe('connect', () => {
  test('authenticates with SCRAM over TLS verified against the given CA, and runs a query', async () => {
    const c = await connect(options())
    try {
      const [result] = await c.query("SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
      expect(result!.rows).toEqual([[options().user, 't']])
      expect(c.processId).toBeGreaterThan(0)
    } finally {
      await c.close()
    }
  })

  test('verify-full without the CA refuses the server certificate (the runtime store does not hold the test CA)', async () => {
    const { ca: _, ...rest } = options()
    await expect(connect(rest)).rejects.toThrow(/self-signed|certificate/)
  })

  test("a host that starts with '/' is the folder of the server's Unix socket, never TLS (as in libpq), even under verify-full", async () => {
    const pg = server()
    if (!pg.socketDir) throw new Error('the lite tests need the embedded server, with its Unix socket')
    const c = await connect({ ...options(), host: pg.socketDir, sslmode: 'verify-full' })
    try {
      const [result] = await c.query('SELECT a.client_addr IS NULL, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE pid = pg_backend_pid()')
      expect(result!.rows).toEqual([['t', 'f']])
    } finally {
      await c.close()
    }
  })

  test('require encrypts without checking the certificate', async () => {
    const { ca: _, ...rest } = options()
    const c = await connect({ ...rest, sslmode: 'require' })
    try {
      const [result] = await c.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')
      expect(result!.rows).toEqual([['t']])
    } finally {
      await c.close()
    }
  })

  test('a wrong password is the server\'s error, and no connection', async () => {
    await expect(connect(options({ password: 'not-the-password' }))).rejects.toMatchObject({ code: '28P01' })
  })

  test('notifications reach onNotification, and onClose hears a loss but not close()', async () => {
    const heard: string[] = []
    const closes: (Error | undefined)[] = []
    const c = await connect(options(), { onNotification: (n) => heard.push(n.payload), onClose: (e) => closes.push(e) })
    const name = channel()
    await c.query(`LISTEN "${name}"`)
    await notify(name, 'ü')
    await eventually(() => heard.length === 1)
    expect(heard).toEqual(['ü'])
    await (await admin()).query(`SELECT pg_terminate_backend(${c.processId})`)
    await eventually(() => closes.length === 1)
    expect(closes[0]).toBeInstanceOf(ConnectionLostError)
    const d = await connect(options(), { onClose: (e) => closes.push(e) })
    await d.close()
    expect(closes).toHaveLength(2)
    expect(closes[1]).toBeUndefined()
  })
})

describe('createListener', () => {
  test('an iterator and a handler both get each notification, in order', async () => {
    const l = await lite()
    const name = channel()
    const handled: string[] = []
    l.on('notification', (n) => void handled.push(n.payload))
    const iterator = l.notifications()
    await l.listen(name)
    expect([...l.channels]).toEqual([name])
    await notify(name, 'a', 'b', 'c')
    const items = await take(iterator, 3)
    expect(items.map((i) => (i.type === 'NotificationResponse' ? i.payload : 'Gap'))).toEqual(['a', 'b', 'c'])
    expect(handled).toEqual(['a', 'b', 'c'])
  })

  test('after pg_terminate_backend, a Gap comes once every channel is listened on again, then what follows', async () => {
    const l = await lite({ reconnect: { minDelay: 10, maxDelay: 20 } })
    const name = channel()
    const gaps: unknown[] = []
    l.on('gap', (gap) => void gaps.push(gap))
    const iterator = l.notifications()
    await l.listen(name)
    const pid = await backendListeningOn(name)
    const before = new Date()
    await (await admin()).query(`SELECT pg_terminate_backend(${pid})`)
    const [gap] = await take(iterator, 1)
    expect(gap).toMatchObject({ type: 'Gap', cause: expect.any(ConnectionLostError) })
    if (gap?.type !== 'Gap') throw new Error('no Gap')
    expect(gap.from.getTime()).toBeLessThanOrEqual(before.getTime())
    expect(gap.to.getTime()).toBeGreaterThanOrEqual(before.getTime())
    expect(gaps).toEqual([gap])
    await notify(name, 'after')
    expect(await take(iterator, 1)).toMatchObject([{ payload: 'after' }])
  })

  test('listen() and unlisten() called together leave the channel unlistened, as the calls were made', async () => {
    const l = await lite()
    const quiet = channel()
    const loud = channel()
    const iterator = l.notifications()
    await Promise.all([l.listen(quiet), l.unlisten(quiet), l.listen(loud)])
    expect([...l.channels]).toEqual([loud])
    await notify(quiet, 'not heard')
    await notify(loud, 'heard')
    expect(await take(iterator, 1)).toMatchObject([{ channel: loud, payload: 'heard' }])
  })

  test('an iterator highWaterMark behind loses what follows, and a Gap says so before anything newer', async () => {
    const l = await lite({ highWaterMark: 2 })
    const name = channel()
    const iterator = l.notifications()
    await l.listen(name)
    await notify(name, '1', '2', '3', '4', '5')
    await l.listen(channel()) // answered after the notifications: the listener has had them
    const items = await take(iterator, 3)
    expect(items.slice(0, 2)).toMatchObject([{ payload: '1' }, { payload: '2' }])
    expect(items[2]).toMatchObject({ type: 'Gap', cause: expect.any(ListenerError) })
    await notify(name, '6')
    expect(await take(iterator, 1)).toMatchObject([{ payload: '6' }])
  })

  test('what arrives while there is no consumer is a Gap to the first that comes, iterator or handler', async () => {
    const l = await lite()
    const name = channel()
    await l.listen(name)
    await notify(name, 'nobody')
    await l.listen(channel()) // answered after the notification: the listener has had it
    const iterator = l.notifications()
    await notify(name, 'mark')
    expect(await take(iterator, 2)).toMatchObject([{ type: 'Gap', cause: expect.any(ListenerError) }, { payload: 'mark' }])
    await iterator.return!()
    await notify(name, 'nobody again')
    await l.listen(channel())
    const gaps: unknown[] = []
    const heard: string[] = []
    l.on('notification', (n) => void heard.push(n.payload))
    l.on('gap', (gap) => void gaps.push(gap)) // added after on('notification'): still hears its Gap
    await Promise.resolve()
    expect(gaps).toMatchObject([{ type: 'Gap' }])
    expect(heard).toEqual([])
  })

  test('reconnect: false gives up at the first loss: the iterator reads what it had, then throws, and error handlers hear it', async () => {
    const l = await lite({ reconnect: false })
    const name = channel()
    const errors: Error[] = []
    l.on('error', (e) => void errors.push(e))
    const iterator = l.notifications()
    await l.listen(name)
    await notify(name, 'kept')
    const last = channel()
    await l.listen(last)
    const pid = await backendListeningOn(last)
    await (await admin()).query(`SELECT pg_terminate_backend(${pid})`)
    expect(await take(iterator, 1)).toMatchObject([{ payload: 'kept' }])
    await expect(iterator.next()).rejects.toBeInstanceOf(ListenerError)
    expect(await iterator.next()).toEqual({ value: undefined, done: true })
    expect(errors).toHaveLength(1)
    await expect(l.listen(name)).rejects.toBeInstanceOf(ListenerError)
  })

  test('close() ends iterators, rejects later calls, and a listen() waiting for a reconnect', async () => {
    const l = await lite({ reconnect: { minDelay: 60_000, maxDelay: 60_000 } })
    const name = channel()
    const iterator = l.notifications()
    await l.listen(name)
    const pid = await backendListeningOn(name)
    await (await admin()).query(`SELECT pg_terminate_backend(${pid})`)
    await eventually(async () => (await (await admin()).query(`SELECT 1 FROM pg_stat_activity WHERE pid = ${pid}`))[0]!.rows.length === 0)
    const waiting = l.listen(channel())
    await l.close()
    await expect(waiting).rejects.toBeInstanceOf(ListenerError)
    expect(await iterator.next()).toEqual({ value: undefined, done: true })
    await expect(l.listen(name)).rejects.toBeInstanceOf(ListenerError)
  })

  test('misuse is a TypeError or RangeError before anything is sent', async () => {
    const l = await lite()
    await expect(l.listen('')).rejects.toBeInstanceOf(RangeError)
    await expect(l.listen('x'.repeat(64))).rejects.toBeInstanceOf(RangeError)
    expect(() => l.on('notifications' as 'notification', () => {})).toThrow(TypeError)
    await expect(createListener(options({ highWaterMark: 0 }))).rejects.toBeInstanceOf(RangeError)
    await expect(createListener(options({ reconnect: { minDelay: 10, maxDelay: 5 } }))).rejects.toBeInstanceOf(RangeError)
    expect(l.channels.size).toBe(0)
  })
})
