/**
 * pglisten/lite under orderings and faults a real server produces only by chance: a notification
 * before the answer to the re-LISTEN, a LISTEN or re-LISTEN refused, calls made while there is no
 * connection, close() from a handler, giving up. A scripted server (support/
 * scripted-listener-server.ts), or a fake one for the bytes of TLS negotiation.
 */
import { getEventListeners } from 'node:events'
import { afterEach, describe, expect, test, vi } from 'vitest'
import { createListener, connect, ConnectionLostError, DatabaseError, ListenerError, type Gap, type LiteItem, type LiteListener, type LiteListenerOptions } from '../../src/lite.ts'
import { scriptedListenerServer, type Script } from '../support/scripted-listener-server.ts'
import { fakeServersClosedAfterEach } from '../support/fake-server.ts'
import { backend, concat, loginAccepted } from '../support/wire.ts'
import { eventually } from '../support/connect.ts'
import { take } from '../support/listener.ts'

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

/**
 * A server whose first connection answers the LISTEN and hangs up, whose second leaves the
 * re-LISTEN unanswered (or hangs up on it), and whose third answers; and a listener on it.
 */
async function secondReListen(second: 'never answered' | 'hung up on', extra: Partial<LiteListenerOptions> = {}) {
  let count = 0
  const server = await fakeServer(async (client) => {
    const index = count++
    await client.readPacket()
    client.write(loginAccepted())
    await client.readMessage() // the (re-)LISTEN
    if (index === 1) return second === 'hung up on' ? client.end() : void (await client.closed)
    client.write(concat(backend.commandComplete('LISTEN'), backend.readyForQuery()))
    if (index === 0) return client.end()
    await client.closed
  })
  const l = await createListener({ host: '127.0.0.1', port: server.port, user: 'u', sslmode: 'disable', reconnect: { minDelay: 5, maxDelay: 5 }, ...extra })
  opened.push(l)
  return { l, connections: () => count }
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
    const { l, connections } = await secondReListen('never answered', { connectTimeout: 100 })
    const errors: Error[] = []
    l.on('error', (e) => void errors.push(e))
    const iterator = l.notifications()
    await l.listen('c')
    expect(await take(iterator, 1)).toMatchObject([{ type: 'Gap' }])
    expect(errors).toMatchObject([{ name: 'ConnectionLostError', message: 'LISTEN was not answered within 100 ms' }])
    expect(connections()).toBe(3)
  })

  test('a connection lost during its own re-LISTEN fails that attempt only: one reconnect loop goes on, one more connection, one Gap', async () => {
    const { l, connections } = await secondReListen('hung up on')
    const gaps: Gap[] = []
    l.on('gap', (gap) => void gaps.push(gap))
    await l.listen('c')
    await eventually(() => gaps.length === 1)
    // A second loop, started by the attempt's own loss, would open a connection of its own.
    await new Promise((r) => setTimeout(r, 50))
    expect({ connections: connections(), gaps: gaps.length }).toEqual({ connections: 3, gaps: 1 })
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
    await expect(connect({ host: '127.0.0.1', port: server.port, user: 'u', password: 'secret' })).rejects.toThrow(/does not accept TLS, and sslmode=verify-full requires it/)
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

describe('listen() while a reconnect attempt is LISTENing again', () => {
  test('listen() does not resolve on an attempt that failed (the server is then listening nowhere)', async () => {
    let l: LiteListener | undefined
    let during: Promise<void> | undefined
    const { l: listener, server } = await scripted(
      {
        hangUpAfter: (index, sql) => index === 0 && sql === 'LISTEN "c"',
        // The attempt's re-LISTEN reaches the server: listen('x') now goes down the attempt's
        // connection (it is #connection), pipelined behind the re-LISTEN, which is refused.
        fails: (index, sql) => {
          if (index === 1 && sql === 'LISTEN "c"') {
            during = l!.listen('x')
            return true
          }
          return false
        },
      },
      { reconnect: { minDelay: 200, maxDelay: 200 } },
    )
    l = listener
    const errors: Error[] = []
    l.on('error', (e) => void errors.push(e))
    await l.listen('c')
    await eventually(() => during !== undefined)
    await during
    // What the server knew when listen('x') resolved.
    const attemptFailed = errors.some((e) => e instanceof DatabaseError)
    const listenedOnXAfterwards = server.queries.slice(2).some((qs) => qs.some((q) => q.includes('LISTEN "x"')))
    expect(attemptFailed ? listenedOnXAfterwards : true).toBe(true)
  })
})

describe("the iterator's signal", () => {
  test('an iterator that ends (return(), or close()) takes its listener off the signal', async () => {
    const { l } = await scripted({})
    const signal = new AbortController().signal // an application-wide shutdown signal, say
    for (let i = 0; i < 5; i++) {
      const iterator = l.notifications({ signal })
      await iterator.return!()
    }
    const it = l.notifications({ signal })
    await l.close()
    expect(await it.next()).toEqual({ value: undefined, done: true })
    expect(getEventListeners(signal, 'abort').length).toBe(0)
  })
})

describe('Gaps for what no consumer took', () => {
  test("a reconnect's Gap heard by 'gap' handlers while a notification handler consumes is not handed again to the next iterator", async () => {
    const { l } = await scripted({
      hangUpAfter: (index, sql) => index === 0 && sql === 'LISTEN "c"',
      before: (index, sql) => (index === 1 && sql === 'LISTEN "d"' ? [backend.notificationResponse(7, 'c', 'after')] : []),
    })
    const heard: string[] = []
    const gaps: unknown[] = []
    l.on('notification', (n) => void heard.push(n.payload))
    l.on('gap', (g) => void gaps.push(g))
    await l.listen('c')
    await eventually(() => gaps.length === 1) // the reconnect, told once
    const iterator = l.notifications()
    await l.listen('d')
    expect(heard).toEqual(['after'])
    // Nothing went unconsumed: the handler took everything, and the Gap was told.
    const first = (await iterator.next()).value as LiteItem
    expect(first).toMatchObject({ type: 'NotificationResponse', payload: 'after' })
  })

  test("a second notification handler does not make 'gap' handlers hear the reconnect's Gap again", async () => {
    const { l } = await scripted({ hangUpAfter: (index, sql) => index === 0 && sql === 'LISTEN "c"' })
    const gaps: unknown[] = []
    l.on('notification', () => {})
    l.on('gap', (g) => void gaps.push(g))
    await l.listen('c')
    await eventually(() => gaps.length === 1)
    l.on('notification', () => {})
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(gaps.length).toBe(1)
  })
})

describe('close()', () => {
  test("an iterator asked for after close() ends, as the README says iterators do at close() (it does not throw)", async () => {
    const { l } = await scripted({})
    await l.close()
    const result = await l.notifications().next().catch((e: Error) => e)
    expect(result).toEqual({ value: undefined, done: true })
  })
})

describe('the connection lost while a LISTEN is in flight', () => {
  test('a FATAL ErrorResponse (57P01, backend terminated) in answer to LISTEN is a loss: listen() resolves after the reconnect LISTENs on the channel', async () => {
    let connections = 0
    const listens: string[][] = []
    const server = await fakeServer(async (client) => {
      const index = connections++
      const seen: string[] = (listens[index] = [])
      await client.readPacket()
      client.write(loginAccepted())
      for (;;) {
        const message = await client.readMessage().catch(() => undefined)
        if (!message || message.type === 'X') return client.end()
        const sql = new TextDecoder().decode(message.body.subarray(0, -1))
        seen.push(sql)
        if (index === 0) {
          client.write(backend.errorResponse({ S: 'FATAL', V: 'FATAL', C: '57P01', M: 'terminating connection due to administrator command' }))
          return client.end()
        }
        client.write(concat(backend.commandComplete('LISTEN'), backend.readyForQuery()))
      }
    })
    const l = await createListener({ host: '127.0.0.1', port: server.port, user: 'u', sslmode: 'disable', reconnect: { minDelay: 5, maxDelay: 10 } })
    opened.push(l)
    const result = await l.listen('c').then(() => 'resolved', (e: Error) => `${e.name}: ${e.message}`)
    expect({ result, channels: [...l.channels] }).toEqual({ result: 'resolved', channels: ['c'] })
    await eventually(() => listens[1] !== undefined)
    expect(listens[1]).toEqual(['LISTEN "c"'])
  })
})

describe('a server that stops answering', () => {
  test('listen() on a backend that never answers: after connectTimeout the connection is taken for dead, and listen() resolves once the reconnect LISTENs', async () => {
    let connections = 0
    const server = await fakeServer(async (client) => {
      const index = connections++
      await client.readPacket()
      client.write(loginAccepted())
      await client.readMessage().catch(() => {}) // the LISTEN: never answered on the first connection; the socket stays up
      if (index > 0) client.write(concat(backend.commandComplete('LISTEN'), backend.readyForQuery()))
      await client.closed
    })
    const l = await createListener({ host: '127.0.0.1', port: server.port, user: 'u', sslmode: 'disable', connectTimeout: 100, reconnect: { minDelay: 5, maxDelay: 10 } })
    opened.push(l)
    const gaps: Gap[] = []
    l.on('gap', (gap) => void gaps.push(gap))
    await l.listen('c')
    expect(connections).toBe(2)
    expect(gaps).toMatchObject([{ cause: { name: 'ConnectionLostError', message: 'LISTEN was not answered within 100 ms' } }])
  })
})

describe('timers after close()', () => {
  test('close() during the backoff wait leaves no timer', async () => {
    const { l, server } = await scripted({ hangUpAfter: (index, sql) => index === 0 && sql === 'LISTEN "c"' }, { reconnect: { minDelay: 60_000, maxDelay: 60_000 } })
    void l.listen("c").catch(() => {})
    await eventually(() => server.clients[0] !== undefined && server.queries[0]?.length === 1)
    await server.clients[0]!.closed
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
    await l.close()
    await new Promise((r) => setImmediate(r))
    const after = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
    expect(after).toBeLessThan(before)
  })
})

describe('timers after an answer', () => {
  test("a listen() answered in time leaves no connectTimeout timer: the connection is not taken for dead later", async () => {
    const { l, server } = await scripted({}, { connectTimeout: 30 })
    const gaps: Gap[] = []
    l.on('gap', (g) => void gaps.push(g))
    await l.listen('c')
    await new Promise((r) => setTimeout(r, 100)) // three connectTimeouts: nothing may happen
    expect({ connections: server.clients.length, gaps }).toEqual({ connections: 1, gaps: [] })
  })
})

describe('close() during a reconnect attempt', () => {
  for (const stage of ['startup', 're-LISTEN'] as const) {
    test(`close() while the attempt waits on ${stage}: the attempt's socket is closed, close() resolves, a waiting listen() rejects`, async () => {
      let connections = 0
      let reached = false
      const server = await fakeServer(async (client) => {
        const index = connections++
        await client.readPacket()
        if (index === 1 && stage === 'startup') {
          reached = true
          return void (await client.closed)
        }
        client.write(loginAccepted())
        await client.readMessage().catch(() => {})
        if (index === 1) {
          reached = true
          return void (await client.closed)
        }
        client.write(concat(backend.commandComplete('LISTEN'), backend.readyForQuery()))
        client.end()
      })
      const l = await createListener({ host: '127.0.0.1', port: server.port, user: 'u', sslmode: 'disable', reconnect: { minDelay: 5, maxDelay: 5 } })
      await l.listen('c')
      await eventually(() => reached)
      const pending = l.listen('d').then(() => 'resolved', (e: Error) => e.name)
      await l.close()
      const closed = await Promise.race([server.clients[1]!.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 1000))])
      expect({ closed, listen: await pending, connections }).toEqual({ closed: true, listen: 'ListenerError', connections: 2 })
    })
  }
})

describe('a hot standby', () => {
  test('a reconnect that lands on a standby (LISTEN refused) is a failed attempt each time, told to error handlers; a listen() made meanwhile waits, and close() rejects it', async () => {
    const { l } = await scripted({
      hangUpAfter: (index, sql) => index === 0 && sql === 'LISTEN "c"',
      fails: (index, sql) => index >= 1 && sql.startsWith('LISTEN'), // "cannot execute LISTEN during recovery"
    })
    const errors: Error[] = []
    l.on('error', (e) => void errors.push(e))
    await l.listen('c')
    const waiting = l.listen('d').then(() => 'resolved', (e: Error) => e.name)
    await eventually(() => errors.filter((e) => e instanceof DatabaseError).length >= 2)
    await l.close()
    expect(await waiting).toBe('ListenerError')
  })
})

describe('a refused LISTEN for a channel already listened on', () => {
  test("a second listen('c') the server refuses (say, canceled by pg_cancel_backend: 57014) does not undo the first, which the server still honours", async () => {
    let seen = 0
    const { l } = await scripted({ fails: (index, sql) => sql === 'LISTEN "c"' && ++seen === 2 })
    await l.listen('c')
    await expect(l.listen('c')).rejects.toBeInstanceOf(DatabaseError)
    // The server still LISTENs on c (the first LISTEN stands); the next reconnect must LISTEN on it again.
    expect([...l.channels]).toEqual(['c'])
  })
})

describe('options and arguments refused (README: misuse is a TypeError or RangeError)', () => {
  test('reconnect bounds: 0 and 2^31 - 1 ms and maxAttempts 1 are taken; -1, 2^31 ms and 0 attempts are a RangeError that says what it needs', async () => {
    for (const reconnect of [{ minDelay: 0, maxDelay: 2 ** 31 - 1, maxAttempts: 1 }, false as const]) {
      const { l } = await scripted({}, { reconnect })
      await l.close()
    }
    const server = await scriptedListenerServer({})
    servers.push(server)
    const base = { host: '127.0.0.1', port: server.port, user: 'u', sslmode: 'disable' } as const
    for (const reconnect of [{ minDelay: -1, maxDelay: 5 }, { minDelay: 5, maxDelay: 2 ** 31 }, { minDelay: 5, maxDelay: 5, maxAttempts: 0 }, { minDelay: 10, maxDelay: 5 }]) {
      await expect(createListener({ ...base, reconnect })).rejects.toThrow(new RangeError(`reconnect: need 0 <= minDelay <= maxDelay < 2^31 ms, maxAttempts >= 1; not ${reconnect.minDelay}, ${reconnect.maxDelay}, ${reconnect.maxAttempts ?? Infinity}`))
    }
    await expect(createListener({ ...base, highWaterMark: 0.5 })).rejects.toThrow(new RangeError('highWaterMark must be at least 1, not 0.5'))
    expect(server.clients).toHaveLength(0) // refused before connecting
  })

  test('highWaterMark 1 is taken: an iterator keeps one notification, then a Gap', async () => {
    const { l } = await scripted({ before: (index, sql) => (sql === 'LISTEN "c"' ? ['1', '2', '3'].map((p) => backend.notificationResponse(7, 'c', p)) : []) }, { highWaterMark: 1 })
    const iterator = l.notifications()
    await l.listen('c')
    expect(await take(iterator, 2)).toMatchObject([{ payload: '1' }, { type: 'Gap', cause: { message: 'an iterator fell 1 notifications behind' } }])
  })

  test("on() with an event it does not know, or a handler that is not a function, is a TypeError that names it; the listener is unchanged", async () => {
    const { l } = await scripted({})
    expect(() => l.on('notifications' as 'notification', () => {})).toThrow(new TypeError('no event notifications'))
    expect(() => l.on('notification', 'log' as unknown as () => void)).toThrow(new TypeError('a handler must be a function'))
    expect(() => l.on('gap', undefined as unknown as () => void)).toThrow(TypeError)
  })
})

describe('consumers coming and going', () => {
  test("the function on() returns removes that handler only, once; with no consumer left, what arrives is a Gap for the next, from when the last one went", async () => {
    const sendOn = new Set<string>()
    const { l } = await scripted({ before: (index, sql) => (sendOn.has(sql) ? [backend.notificationResponse(7, 'c', sql)] : []) })
    const first: string[] = []
    const second: string[] = []
    const offFirst = l.on('notification', (n) => void first.push(n.payload))
    const offSecond = l.on('notification', (n) => void second.push(n.payload))
    sendOn.add('LISTEN "a"')
    await l.listen('a')
    offFirst()
    offFirst() // a second call removes nothing more
    sendOn.add('LISTEN "b"')
    await l.listen('b')
    expect({ first, second }).toEqual({ first: ['LISTEN "a"'], second: ['LISTEN "a"', 'LISTEN "b"'] })
    await new Promise((r) => setTimeout(r, 5)) // so that the listener's start and this moment differ in ms
    const lastLeft = new Date()
    offSecond()
    sendOn.add('LISTEN "d"')
    await l.listen('d') // arrives with no consumer
    const arrived = new Date()
    const [gap] = await take(l.notifications(), 1)
    expect(gap).toMatchObject({ type: 'Gap', cause: { name: 'ListenerError', message: 'notifications arrived while there was no consumer' } })
    if (gap?.type !== 'Gap') throw new Error('no Gap')
    expect(gap.from.getTime()).toBeGreaterThanOrEqual(lastLeft.getTime())
    expect(gap.to.getTime()).toBeLessThanOrEqual(arrived.getTime())
    expect(second).toEqual(['LISTEN "a"', 'LISTEN "b"'])
  })

  test("an iterator ending does not make the listener consumerless while a handler still consumes: the next iterator gets no Gap", async () => {
    const sendOn = new Set<string>()
    const { l } = await scripted({ before: (index, sql) => (sendOn.has(sql) ? [backend.notificationResponse(7, 'c', sql)] : []) })
    const heard: string[] = []
    l.on('notification', (n) => void heard.push(n.payload))
    const iterator = l.notifications()
    await iterator.return!()
    sendOn.add('LISTEN "a"')
    await l.listen('a')
    sendOn.add('LISTEN "b"')
    const next = l.notifications()
    await l.listen('b')
    expect(await take(next, 1)).toMatchObject([{ type: 'NotificationResponse', payload: 'LISTEN "b"' }])
    expect(heard).toEqual(['LISTEN "a"', 'LISTEN "b"'])
  })

  test("a Gap for what no consumer took spans from when the last consumer went, however many notifications it covers, and is given once", async () => {
    const sendOn = new Set<string>()
    const { l } = await scripted({ before: (index, sql) => (sendOn.has(sql) ? [backend.notificationResponse(7, 'c', sql)] : []) })
    const firstGone = new Date()
    sendOn.add('LISTEN "a"')
    await l.listen('a')
    sendOn.add('LISTEN "b"')
    await l.listen('b')
    const gaps: Gap[] = []
    l.on('gap', (g) => void gaps.push(g))
    const iterator = l.notifications()
    const other = l.notifications()
    const [gap] = await take(iterator, 1)
    expect(gap).toMatchObject({ type: 'Gap' })
    if (gap?.type !== 'Gap') throw new Error('no Gap')
    expect(gap.from.getTime()).toBeLessThanOrEqual(firstGone.getTime() + 1)
    sendOn.add('LISTEN "d"')
    await l.listen('d')
    // The second iterator, made after it was claimed, begins with what it was sent.
    expect(await take(other, 1)).toMatchObject([{ type: 'NotificationResponse', payload: 'LISTEN "d"' }])
    expect(gaps).toEqual([]) // an iterator's Gap is not told to 'gap' handlers as well
  })

  test('an iterator asked for with a signal already aborted ends at once, and is no consumer: what arrives is a Gap for the next', async () => {
    const { l } = await scripted({ before: (index, sql) => (sql === 'LISTEN "c"' ? [backend.notificationResponse(7, 'c', 'x')] : []) })
    const stop = new AbortController()
    stop.abort()
    const iterator = l.notifications({ signal: stop.signal })
    expect(await iterator.next()).toEqual({ value: undefined, done: true })
    await l.listen('c')
    expect(await take(l.notifications(), 1)).toMatchObject([{ type: 'Gap' }])
  })

  test('an iterator is its own async iterator: for await reads it, and a break ends it', async () => {
    const { l } = await scripted({ before: (index, sql) => (sql === 'LISTEN "c"' ? [backend.notificationResponse(7, 'c', 'x'), backend.notificationResponse(7, 'c', 'y')] : []) })
    const iterator = l.notifications()
    expect(iterator[Symbol.asyncIterator]()).toBe(iterator)
    await l.listen('c')
    const read: string[] = []
    for await (const item of iterator) {
      read.push(item.type === 'Gap' ? 'Gap' : item.payload)
      break
    }
    expect(read).toEqual(['x'])
    expect(await iterator.next()).toEqual({ value: undefined, done: true }) // 'y' was let go with it
    expect(await iterator.return!()).toEqual({ value: undefined, done: true })
  })
})

describe('Gaps in a row', () => {
  test("two reconnects an iterator did not read between are one Gap, from the first loss's from to the second's to", async () => {
    const { l, server } = await scripted({ hangUpAfter: (index, sql) => index <= 1 && sql === 'LISTEN "c"' })
    const gaps: Gap[] = []
    l.on('gap', (g) => void gaps.push(g))
    const iterator = l.notifications()
    await l.listen('c')
    await eventually(() => gaps.length === 2)
    await eventually(() => server.queries.length === 3 && server.queries[2]!.length === 1)
    const items = await take(iterator, 1)
    expect(items[0]).toEqual({ type: 'Gap', from: gaps[0]!.from, to: gaps[1]!.to, cause: gaps[1]!.cause })
  })

  test("an overflowing iterator's Gap stretches over every notification dropped, from the first drop", async () => {
    const { l } = await scripted({
      before: (index, sql) => (sql === 'LISTEN "c"' ? ['1', '2', '3'].map((p) => backend.notificationResponse(7, 'c', p)) : sql === 'LISTEN "d"' ? [backend.notificationResponse(7, 'c', '4')] : []),
    }, { highWaterMark: 2 })
    const iterator = l.notifications()
    await l.listen('c')
    const between = new Date()
    await new Promise((r) => setTimeout(r, 5))
    await l.listen('d')
    const items = await take(iterator, 3)
    expect(items.slice(0, 2)).toMatchObject([{ payload: '1' }, { payload: '2' }])
    const gap = items[2]
    expect(gap).toMatchObject({ type: 'Gap', cause: { name: 'ListenerError', message: 'an iterator fell 2 notifications behind' } })
    if (gap?.type !== 'Gap') throw new Error('no Gap')
    expect(gap.from.getTime()).toBeLessThanOrEqual(between.getTime())
    expect(gap.to.getTime()).toBeGreaterThan(between.getTime())
  })
})

describe('Gaps into a full queue', () => {
  test("a reconnect's Gap reaches an iterator whose queue is full as itself: its from and its cause, not a drop", async () => {
    const { l } = await scripted({
      hangUpAfter: (index, sql) => index === 0 && sql === 'LISTEN "c"',
      before: (index, sql) => (index === 0 && sql === 'LISTEN "c"' ? ['1', '2'].map((p) => backend.notificationResponse(7, 'c', p)) : []),
    }, { highWaterMark: 2 })
    const gaps: Gap[] = []
    l.on('gap', (g) => void gaps.push(g))
    const iterator = l.notifications()
    await l.listen('c')
    await eventually(() => gaps.length === 1)
    const items = await take(iterator, 3)
    expect(items.slice(0, 2)).toMatchObject([{ payload: '1' }, { payload: '2' }])
    expect(items[2]).toEqual(gaps[0])
  })

  test('notifications an iterator took do not count as unconsumed: the next iterator begins with what comes, not a Gap', async () => {
    const sendOn = new Set<string>()
    const { l } = await scripted({ before: (index, sql) => (sendOn.has(sql) ? [backend.notificationResponse(7, 'c', sql)] : []) })
    const first = l.notifications()
    sendOn.add('LISTEN "a"')
    await l.listen('a')
    expect(await take(first, 1)).toMatchObject([{ payload: 'LISTEN "a"' }])
    const second = l.notifications()
    sendOn.add('LISTEN "b"')
    await l.listen('b')
    expect(await take(second, 1)).toMatchObject([{ type: 'NotificationResponse', payload: 'LISTEN "b"' }])
  })
})

describe('handlers that fail', () => {
  test("an 'error' handler that throws is not told its own error (no loop); a 'gap' handler's throw reaches 'error' handlers", async () => {
    const { l } = await scripted({ hangUpAfter: (index, sql) => index === 0 && sql === 'LISTEN "c"' })
    const errors: Error[] = []
    l.on('error', (e) => {
      errors.push(e)
      throw new Error('from the error handler')
    })
    let gaps = 0
    l.on('gap', () => {
      gaps++
      throw new Error('from the gap handler')
    })
    await l.listen('c')
    await eventually(() => gaps === 1)
    await new Promise((r) => setTimeout(r, 10))
    expect(errors.map((e) => e.message)).toEqual(['from the gap handler'])
  })
})

describe('close() and the error handlers', () => {
  test("close() is not an error: 'error' handlers hear nothing, [Symbol.asyncDispose] closes too, and a second close() resolves", async () => {
    const { l } = await scripted({})
    const errors: Error[] = []
    l.on('error', (e) => void errors.push(e))
    const iterator = l.notifications()
    const waiting = iterator.next()
    await l[Symbol.asyncDispose]()
    expect(await waiting).toEqual({ value: undefined, done: true })
    await l.close()
    await expect(l.listen('c')).rejects.toThrow(new ListenerError('the listener is closed'))
    await expect(l.unlisten('c')).rejects.toBeInstanceOf(ListenerError)
    expect([...l.channels]).toEqual([]) // a call refused changes nothing
    expect(errors).toEqual([])
  })
})

describe('backoff (README: a ceiling from minDelay doubling up to maxDelay, each wait from its upper half)', () => {
  /** The delays the reconnect's sleep() asked timers for. */
  function waits(): { delays: number[]; restore(): void } {
    const delays: number[] = []
    const real = globalThis.setTimeout
    const spy = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((handler: () => void, ms?: number) => {
      if (new Error().stack?.includes('backoff.ts')) delays.push(ms!)
      return real(handler, ms)
    }) as typeof setTimeout)
    const random = vi.spyOn(Math, 'random').mockReturnValue(0.5)
    return { delays, restore: () => (spy.mockRestore(), random.mockRestore()) }
  }

  test('each failed attempt doubles the ceiling up to maxDelay; giving up after maxAttempts says how many and why, the last failure as its cause', async () => {
    const { l, server } = await scripted({}, { reconnect: { minDelay: 8, maxDelay: 20, maxAttempts: 4 } })
    const errors: Error[] = []
    l.on('error', (e) => void errors.push(e))
    const iterator = l.notifications()
    const waiting = iterator.next().then(() => 'resolved', (e: unknown) => e)
    const timers = waits()
    try {
      await server.close() // the connection is lost, and every attempt is refused
      await expect(l.listen('c')).rejects.toBeInstanceOf(ListenerError)
      await eventually(() => errors.length === 5)
    } finally {
      timers.restore()
    }
    // Ceilings 8, 16, 20, 20; with Math.random() at 0.5, each wait is three quarters of its ceiling.
    expect(timers.delays).toEqual([6, 12, 15, 15])
    const gaveUp = errors.at(-1)!
    expect(gaveUp).toBeInstanceOf(ListenerError)
    expect(gaveUp.message).toBe(`gave up reconnecting after 4 attempts: ${errors[3]!.message}`)
    expect(gaveUp.cause).toBe(errors[3])
    expect(errors.slice(0, 4).every((e) => e instanceof ConnectionLostError)).toBe(true)
    // A next() waiting then rejects with it, and the iterator is done; one asked for later throws it once.
    expect(await waiting).toBe(gaveUp)
    expect(await iterator.next()).toEqual({ value: undefined, done: true })
    const later = l.notifications()
    await expect(later.next()).rejects.toBe(gaveUp)
    expect(await later.next()).toEqual({ value: undefined, done: true })
  })

  test('the backoff starts over only after a connection stayed up as long as the wait before it', async () => {
    for (const stayedUp of [false, true]) {
      let clock = 1_000_000
      const now = vi.spyOn(Date, 'now').mockImplementation(() => clock)
      // Connection 1's re-LISTEN is refused: two attempts, so the ceiling is 2 × minDelay when 2 is lost.
      const { l, server } = await scripted({ hangUpAfter: (index, sql) => index === 0 && sql === 'LISTEN "c"', fails: (index, sql) => index === 1 && sql === 'LISTEN "c"' }, { reconnect: { minDelay: 8, maxDelay: 1000 } })
      const gaps: Gap[] = []
      l.on('gap', (g) => void gaps.push(g))
      l.on('error', () => {})
      const timers = waits()
      try {
        await l.listen('c')
        await eventually(() => gaps.length === 1)
        if (stayedUp) clock += 16 // as long as the wait before it (its ceiling, 16 ms)
        else clock += 15
        server.clients[2]!.end()
        await eventually(() => gaps.length === 2)
      } finally {
        timers.restore()
        now.mockRestore()
      }
      // 6 and 12 ms (ceilings 8 and 16), then 6 ms after starting over, or 24 ms (ceiling 32).
      expect({ stayedUp, delays: timers.delays }).toEqual({ stayedUp, delays: [6, 12, stayedUp ? 6 : 24] })
    }
  })
})

describe("the reconnect's Gap: from and to", () => {
  test('from is when the last request answered on the lost connection was sent, to when the new one LISTENed again; the cause is the loss', async () => {
    const { l, server } = await scripted({ hangUpAfter: (index, sql) => index === 0 && sql === 'LISTEN "b"' })
    const gaps: Gap[] = []
    l.on('gap', (g) => void gaps.push(g))
    await l.listen('a')
    await new Promise((r) => setTimeout(r, 5)) // so that the connection's start and listen('b') differ in ms
    const beforeB = new Date()
    await l.listen('b') // answered, then the server hangs up
    const afterB = new Date()
    await eventually(() => gaps.length === 1)
    const relistened = new Date()
    expect(server.queries[1]).toEqual(['LISTEN "a";LISTEN "b"'])
    const [gap] = gaps
    expect(gap!.from.getTime()).toBeGreaterThanOrEqual(beforeB.getTime())
    expect(gap!.from.getTime()).toBeLessThanOrEqual(afterB.getTime())
    expect(gap!.to.getTime()).toBeGreaterThanOrEqual(afterB.getTime())
    expect(gap!.to.getTime()).toBeLessThanOrEqual(relistened.getTime())
    expect(gap!.cause).toBeInstanceOf(ConnectionLostError)
  })
})

describe('more notifications than highWaterMark before the re-LISTEN is answered', () => {
  test('more than highWaterMark heard before the re-LISTEN is answered: all of those are dropped, and the reconnect\'s Gap, then what comes after, is what the reader gets', async () => {
    // The new connection hears 1, 2 and 3 before its re-LISTEN is answered; highWaterMark is 2.
    // Keeping 1 and 2 would leave a hole after them (3) with no Gap a reader could see.
    const { l } = await scripted({
      hangUpAfter: (index, sql) => index === 0 && sql === 'LISTEN "c"',
      before: (index, sql) => (index === 1 && sql === 'LISTEN "c"' ? ['1', '2', '3'].map((p) => backend.notificationResponse(7, 'c', p)) : index === 1 && sql === 'LISTEN "d"' ? [backend.notificationResponse(7, 'c', '4')] : []),
    }, { highWaterMark: 2 })
    const iterator = l.notifications()
    await l.listen('c')
    expect(await take(iterator, 1)).toMatchObject([{ type: 'Gap' }])
    await l.listen('d') // on the new connection, answered after 4
    expect(await take(iterator, 1)).toMatchObject([{ type: 'NotificationResponse', payload: '4' }])
  })

})
