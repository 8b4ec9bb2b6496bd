/**
 * pglisten/lite under orderings and faults a real server produces only by chance: a notification
 * before the answer to the re-LISTEN, a LISTEN or re-LISTEN refused, calls made while there is no
 * connection, close() from a handler, giving up. A scripted server (support/
 * scripted-listener-server.ts), or a fake one for the bytes of TLS negotiation.
 */
import { afterEach, describe, expect, test } from 'vitest'
import { createListener, connect, ConnectionLostError, DatabaseError, ListenerError, type LiteItem, type LiteListener, type LiteListenerOptions } from '../../src/lite.ts'
import { scriptedListenerServer, type Script } from '../support/scripted-listener-server.ts'
import { fakeServersClosedAfterEach } from '../support/fake-server.ts'
import { backend, concat, loginAccepted } from '../support/wire.ts'
import { eventually } from '../support/connect.ts'

const fakeServer = fakeServersClosedAfterEach()
const servers: { close(): Promise<void> }[] = []
const opened: LiteListener[] = []
afterEach(async () => {
  await Promise.all(opened.splice(0).map((l) => l.close()))
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

async function scripted(script: Script, extra: Partial<LiteListenerOptions> = {}) {
  const server = await scriptedListenerServer(script)
  servers.push(server)
  const l = await createListener({ host: '127.0.0.1', port: server.port, user: 'u', sslmode: 'disable', reconnect: { minDelay: 5, maxDelay: 10 }, ...extra })
  opened.push(l)
  return { server, l }
}

async function take(iterator: AsyncIterator<LiteItem>, n: number): Promise<LiteItem[]> {
  const items: LiteItem[] = []
  while (items.length < n) {
    const next = await iterator.next()
    if (next.done) break
    items.push(next.value)
  }
  return items
}

describe('reconnect', () => {
  test("a notification sent before the answer to the re-LISTEN comes after the reconnect's Gap", async () => {
    const { l } = await scripted({
      hangUpAfter: (index, sql) => index === 0 && sql === 'LISTEN "c"',
      before: (index, sql) => (index === 1 && sql === 'LISTEN "c"' ? [backend.notificationResponse(7, 'c', 'early')] : []),
    })
    const iterator = l.notifications()
    await l.listen('c')
    const items = await take(iterator, 2)
    expect(items).toMatchObject([{ type: 'Gap', cause: expect.any(ConnectionLostError) }, { type: 'NotificationResponse', payload: 'early' }])
  })

  test('a re-LISTEN the server refuses is a failed attempt, told to error handlers; the next one LISTENs and the Gap comes once', async () => {
    const { l, server } = await scripted({
      hangUpAfter: (index, sql) => index === 0 && sql === 'LISTEN "c"',
      fails: (index, sql) => index === 1 && sql === 'LISTEN "c"',
    })
    const errors: Error[] = []
    l.on('error', (e) => void errors.push(e))
    const gaps: unknown[] = []
    l.on('gap', (g) => void gaps.push(g))
    await l.listen('c')
    await eventually(() => gaps.length === 1)
    expect(errors).toMatchObject([expect.any(DatabaseError)])
    expect(server.queries.slice(0, 3)).toEqual([['LISTEN "c"'], ['LISTEN "c"'], ['LISTEN "c"']])
  })

  test('listen() and unlisten() called while the connection is lost are carried by the re-LISTEN, as called, and resolve after it', async () => {
    // The reconnect waits 50 to 100 ms: the calls below are all made before it.
    const { l, server } = await scripted({ hangUpAfter: (index, sql) => index === 0 && sql === 'LISTEN "a"' }, { reconnect: { minDelay: 100, maxDelay: 100 } })
    await l.listen('a')
    await server.clients[0]!.closed
    await Promise.all([l.listen('c'), l.listen('b'), l.unlisten('b')])
    expect([...l.channels]).toEqual(['a', 'c'])
    expect(server.queries[1]?.[0]).toBe('LISTEN "a";LISTEN "c"')
  })

  test('a re-LISTEN never answered fails its attempt after connectTimeout, and the next attempt LISTENs', async () => {
    let connections = 0
    const server = await fakeServer(async (client) => {
      const index = connections++
      await client.readPacket()
      client.write(loginAccepted())
      await client.readMessage() // the (re-)LISTEN
      if (index === 1) return void (await client.closed) // never answered
      client.write(concat(backend.commandComplete('LISTEN'), backend.readyForQuery()))
      if (index === 0) return client.end()
      await client.closed
    })
    const l = await createListener({ host: '127.0.0.1', port: server.port, user: 'u', sslmode: 'disable', connectTimeout: 100, reconnect: { minDelay: 5, maxDelay: 5 } })
    opened.push(l)
    const errors: Error[] = []
    l.on('error', (e) => void errors.push(e))
    const iterator = l.notifications()
    await l.listen('c')
    expect(await take(iterator, 1)).toMatchObject([{ type: 'Gap' }])
    expect(errors).toMatchObject([{ name: 'ConnectionLostError', message: 'LISTEN was not answered within 100 ms' }])
    expect(connections).toBe(3)
  })

  test('giving up after maxAttempts: error handlers hear each failed attempt and then the ListenerError, and iterators throw it', async () => {
    const { l, server } = await scripted({ hangUpAfter: (index, sql) => index === 0 && sql === 'LISTEN "c"' }, { reconnect: { minDelay: 5, maxDelay: 5, maxAttempts: 2 } })
    const errors: Error[] = []
    l.on('error', (e) => void errors.push(e))
    const iterator = l.notifications()
    await server.close() // no server any more: every attempt is refused
    await l.listen('c').catch(() => {})
    await expect(take(iterator, 2)).rejects.toThrow(/gave up reconnecting after 2 attempts/)
    expect(errors.at(-1)).toBeInstanceOf(ListenerError)
    expect(errors.length).toBe(3)
    await expect(l.listen('d')).rejects.toBeInstanceOf(ListenerError)
  })
})

describe('calls', () => {
  test("a LISTEN the server refuses rejects with its error, and the channel is not LISTENed again after a reconnect", async () => {
    const { l, server } = await scripted({
      fails: (index, sql) => sql === 'LISTEN "bad"',
      hangUpAfter: (index, sql) => index === 0 && sql === 'LISTEN "good"',
    })
    await expect(l.listen('bad')).rejects.toBeInstanceOf(DatabaseError)
    expect([...l.channels]).toEqual([])
    const gaps: unknown[] = []
    l.on('gap', (g) => void gaps.push(g))
    await l.listen('good')
    await eventually(() => gaps.length === 1)
    expect(server.queries[1]).toEqual(['LISTEN "good"'])
  })

  test('close() from a notification handler: nothing more reaches any consumer, and the iterator ends', async () => {
    const { l } = await scripted({
      before: (index, sql) => (sql === 'LISTEN "c"' ? [backend.notificationResponse(7, 'c', 'one'), backend.notificationResponse(7, 'c', 'two')] : []),
    })
    const heard: string[] = []
    l.on('notification', (n) => {
      heard.push(n.payload)
      void l.close()
    })
    const iterator = l.notifications()
    await l.listen('c').catch(() => {})
    expect(heard).toEqual(['one'])
    expect(await iterator.next()).toEqual({ value: undefined, done: true })
  })

  test('a handler that throws or rejects stops nobody: its error goes to error handlers', async () => {
    const { l } = await scripted({ before: (index, sql) => (sql === 'LISTEN "c"' ? [backend.notificationResponse(7, 'c', 'one')] : []) })
    const errors: unknown[] = []
    l.on('error', (e) => void errors.push(e))
    l.on('notification', () => {
      throw new Error('sync')
    })
    l.on('notification', async () => {
      throw new Error('async')
    })
    const iterator = l.notifications()
    await l.listen('c')
    expect(await take(iterator, 1)).toMatchObject([{ payload: 'one' }])
    await eventually(() => errors.length === 2)
    expect(errors.map((e) => (e as Error).message).sort()).toEqual(['async', 'sync'])
  })

  test('an iterator aborted by its signal ends, and no longer counts as a consumer', async () => {
    const { l } = await scripted({ before: (index, sql) => (sql === 'LISTEN "d"' ? [backend.notificationResponse(7, 'c', 'unheard')] : []) })
    const stop = new AbortController()
    const iterator = l.notifications({ signal: stop.signal })
    await l.listen('c')
    stop.abort()
    expect(await iterator.next()).toEqual({ value: undefined, done: true })
    await l.listen('d') // the notification on c arrives with no consumer
    const next = l.notifications()
    expect(await take(next, 1)).toMatchObject([{ type: 'Gap', cause: expect.any(ListenerError) }])
  })
})

describe('connecting', () => {
  test("sslmode=verify-full and a server that answers SSLRequest with 'N': refused, nothing sent in clear", async () => {
    const server = await fakeServer(async (client) => {
      await client.readPacket() // SSLRequest
      client.write(new Uint8Array([0x4e])) // 'N'
      await client.closed
    })
    await expect(connect({ host: '127.0.0.1', port: server.port, user: 'u', password: 'secret' })).rejects.toThrow(/does not accept TLS, which sslmode=verify-full requires/)
    await eventually(() => server.clients[0] !== undefined)
    await server.clients[0]!.closed
    expect(server.clients[0]!.received().length).toBe(8) // the SSLRequest alone
  })

  test("more than one byte in answer to SSLRequest is refused (CVE-2021-23222)", async () => {
    const server = await fakeServer(async (client) => {
      await client.readPacket()
      client.write(concat(new Uint8Array([0x53]), backend.authenticationOk()))
      await client.closed
    })
    await expect(connect({ host: '127.0.0.1', port: server.port, user: 'u', sslmode: 'require' })).rejects.toThrow(/more than one byte/)
  })

  test('a server that never finishes startup: connectTimeout ends the attempt with a ConnectionLostError', async () => {
    const server = await fakeServer(async (client) => {
      await client.readPacket()
      await client.closed
    })
    await expect(connect({ host: '127.0.0.1', port: server.port, user: 'u', sslmode: 'disable', connectTimeout: 50 })).rejects.toThrow(/could not connect within 50 ms/)
  })
})
