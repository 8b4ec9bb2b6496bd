/**
 * The listener's API as a caller meets it, against the real server: what start(), close(),
 * listen(), unlistenAll(), notify() and the events answer, exactly, including the errors and
 * their causes. Each test names the behaviour it holds still (most were found unguarded by
 * mutation testing: test/mutation/survivors.md).
 */
import { createServer, type Server, type Socket } from 'node:net'
import { describe, expect, test } from 'vitest'
import { ListenerError } from '../../src/listener/errors.ts'
import { Listener } from '../../src/index.ts'
import type { Gap, ListenerItem, Notification } from '../../src/listener/subscription.ts'
import { ConnectionLostError } from '../../src/protocol/errors.ts'
import type { NoticeResponse } from '../../src/protocol/backend/messages.ts'
import { connectSuperuser, eventually } from '../support/connect.ts'
import { collect, listener, listenerOptions, uniqueChannel } from '../support/listener.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function terminate(processId: number | undefined): Promise<void> {
  const admin = await connectSuperuser()
  await admin.query(`SELECT pg_terminate_backend(${processId})`)
  await admin.close()
}

/** A port on which nothing listens (it was free a moment ago). */
async function refusedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** A server that accepts connections and never says a word: a startup that never finishes. */
async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as { port: number }).port,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

const payloads = (items: ListenerItem[]) => items.filter((i): i is Notification => i.type === 'NotificationResponse').map((n) => n.payload)

describe('start()', () => {
  test('a second start() after success, and a start() after close(), reject saying which', async () => {
    const l = new Listener(listenerOptions())
    await l.start()
    await expect(l.start()).rejects.toThrow(new ListenerError('the listener has already started'))
    await l.close()
    await expect(l.start()).rejects.toThrow(new ListenerError('the listener is closed'))
  })

  test('a first start() that fails rejects with the connection error itself, and the listener may start again', async () => {
    const port = await refusedPort()
    const l = new Listener(listenerOptions({ host: '127.0.0.1', port, connectTimeout: 2 }))
    const error = await l.start().catch((e: unknown) => e)
    expect(error).not.toBeInstanceOf(ListenerError)
    expect(String(error)).toMatch(/ECONNREFUSED|refused/)
    expect(l.stats.state).toBe('idle')
    expect(l.stats.connected).toBe(false)
    await l.close()
  })

  // As the README says: kept deliberately, so that a start() retried in a loop while the listen()
  // promise is not awaited yet neither loses the channel nor raises an unhandled rejection.
  test('a listen() called before a start() that fails waits: the next start() that succeeds answers it, or close() rejects it', async () => {
    const { startFaultProxy } = await import('../support/fault-proxy.ts')
    const pg = listenerOptions()
    const proxy = await startFaultProxy(pg.host as string, pg.port as number)
    try {
      proxy.newConnections = 'silent'
      const l = new Listener(listenerOptions({ port: proxy.port, connectTimeout: 1 }))
      const channel = uniqueChannel()
      let answered: unknown = 'waiting'
      const listening = l.listen(channel).then(() => (answered = 'resolved'), (e: unknown) => (answered = e))
      await expect(l.start()).rejects.toThrow(/timeout|1 s|within/i)
      await sleep(50)
      expect(answered).toBe('waiting')
      proxy.newConnections = 'forward'
      await l.start()
      await listening
      expect(answered).toBe('resolved')
      const heard = collect(l.notifications({ gaps: false }))
      await l.notify(channel, 'heard')
      await eventually(() => heard.items.length === 1)
      await l.close()

      proxy.newConnections = 'silent'
      const again = new Listener(listenerOptions({ port: proxy.port, connectTimeout: 1 }))
      const waiting = again.listen(channel).catch((e: unknown) => e)
      await expect(again.start()).rejects.toBeDefined()
      await again.close()
      expect(await waiting).toEqual(new ListenerError('the listener is closed'))
    } finally {
      await proxy.close()
    }
  })

  test('close() during the first connect: start() rejects with "closed while it connected", caused by the abort', async () => {
    const silent = await silentServer()
    try {
      const l = new Listener(listenerOptions({ host: '127.0.0.1', port: silent.port, connectTimeout: 30 }))
      const starting = l.start()
      await sleep(50) // connected, waiting for an answer to the startup that never comes
      await l.close()
      const error = await starting.catch((e: unknown) => e)
      expect(error).toBeInstanceOf(ListenerError)
      expect((error as Error).message).toBe('the listener was closed while it connected')
      expect((error as Error).cause).toBeInstanceOf(ConnectionLostError)
      // At the root of the causes: the reason close() aborted with.
      let root = error as Error
      while (root.cause instanceof Error) root = root.cause
      expect(root).toEqual(new ListenerError('the listener is closed'))
      expect(l.stats.state).toBe('closed')
    } finally {
      await silent.close()
    }
  })

  test('before start(), the listener has no parameters, endpoint or process ID, and says idle', () => {
    const l = new Listener(listenerOptions())
    expect(l.parameters).toEqual(new Map())
    expect(l.endpoint).toBeUndefined()
    expect(l.processId).toBeUndefined()
    expect(l.stats).toMatchObject({ state: 'idle', connected: false, reconnects: 0 })
  })

  test('Symbol.asyncDispose closes the listener (await using)', async () => {
    const l = new Listener(listenerOptions())
    await l.start()
    await l[Symbol.asyncDispose]()
    expect(l.stats.state).toBe('closed')
    await expect(l.listen('after dispose')).rejects.toThrow(new ListenerError('the listener is closed'))
  })
})

describe('channels', () => {
  test('unlistenAll() forgets every channel, on the server too; later LISTENs work', async () => {
    const l = await listener({ poolerCheck: false })
    const [a, b, c] = [uniqueChannel('a'), uniqueChannel('b'), uniqueChannel('c')]
    await l.listen(a)
    await l.listen(b)
    await l.unlistenAll()
    expect([...l.channels]).toEqual([])
    await l.listen(c)
    const heard = collect(l.notifications())
    await l.notify(a, 'to a')
    await l.notify(b, 'to b')
    await l.notify(c, 'to c')
    await eventually(() => heard.items.length >= 1)
    await sleep(100)
    expect(payloads(heard.items)).toEqual(['to c'])
  })

  test('a listen() that fails leaves a channel that was already listened on in channels', async () => {
    const l = await listener({ poolerCheck: false })
    const channel = uniqueChannel()
    await l.listen(channel)
    await l.close()
    await expect(l.listen(channel)).rejects.toThrow(new ListenerError('the listener is closed'))
    expect([...l.channels]).toEqual([channel])
  })

  test('notify() without a payload sends the empty string', async () => {
    const l = await listener({ poolerCheck: false })
    const channel = uniqueChannel()
    await l.listen(channel)
    const heard = collect(l.notifications())
    await l.notify(channel)
    await eventually(() => heard.items.length === 1)
    expect(payloads(heard.items)).toEqual([''])
  })
})

describe('closing while reconnecting', () => {
  test('a listen() waiting for the next connection rejects with "the listener is closed" on close()', async () => {
    const l = await listener({ poolerCheck: false, reconnect: { minDelay: 60_000, maxDelay: 60_000 } })
    await terminate(l.processId)
    await eventually(() => l.stats.state === 'lost')
    const waiting = l.listen(uniqueChannel())
    await sleep(20)
    await l.close()
    const error = await waiting.catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ListenerError)
    expect((error as Error).message).toBe('the listener is closed')
  })

  test('with reconnect: false a lost connection gives up with a ListenerError caused by the loss', async () => {
    const l = await listener({ poolerCheck: false, reconnect: false })
    const errors: Error[] = []
    l.on('error', (e) => void errors.push(e))
    await terminate(l.processId)
    await eventually(() => errors.length === 1)
    expect(errors[0]).toBeInstanceOf(ListenerError)
    expect(errors[0]!.message).toBe('the connection was lost and reconnect is off')
    expect(errors[0]!.cause).toBeInstanceOf(ConnectionLostError)
    await expect(l.listen('after giving up')).rejects.toBe(errors[0])
  })
})

describe('events', () => {
  test("the server's notices on the listening connection reach 'notice' handlers", async () => {
    // client_min_messages=debug5 makes the server send DEBUG messages as NoticeResponse for every command.
    const l = await listener({ poolerCheck: false, options: '-c client_min_messages=debug5' })
    const notices: NoticeResponse[] = []
    l.on('notice', (n) => void notices.push(n))
    await l.listen(uniqueChannel())
    expect(notices.length).toBeGreaterThan(0)
    expect(notices[0]!.fields.severity).toMatch(/^DEBUG/)
  })

  test("a handler that throws a non-Error is reported to 'error' as a ListenerError naming the event", async () => {
    const l = await listener({ poolerCheck: false })
    const channel = uniqueChannel()
    await l.listen(channel)
    const errors: Error[] = []
    l.on('error', (e) => void errors.push(e))
    l.on('notification', () => {
      throw 'boom' // eslint-disable-line no-throw-literal
    })
    await l.notify(channel, 'x')
    await eventually(() => errors.length === 1)
    expect(errors[0]).toEqual(new ListenerError('notification: boom'))
  })

  test("an 'error' handler that throws is called once for each error, not again for its own", async () => {
    const l = await listener({ poolerCheck: false })
    const channel = uniqueChannel()
    await l.listen(channel)
    let calls = 0
    l.on('error', () => {
      calls++
      throw new Error('the error handler fails too')
    })
    l.on('notification', () => {
      throw new Error('the notification handler fails')
    })
    await l.notify(channel, 'x')
    await eventually(() => calls >= 1)
    await sleep(100)
    expect(calls).toBe(1)
  })
})

describe('Gap.from: the send time of the last request answered on the lost connection', () => {
  const gapAfterTermination = async (l: Listener): Promise<Gap> => {
    const gaps: Gap[] = []
    l.on('gap', (g) => void gaps.push(g))
    await terminate(l.processId)
    await eventually(() => gaps.length === 1, 10_000)
    return gaps[0]!
  }

  test('a later listen() moves it forward', async () => {
    const l = await listener({ poolerCheck: false, heartbeat: false, reconnect: { minDelay: 20, maxDelay: 100 } })
    await l.listen(uniqueChannel('a'))
    await sleep(50)
    const beforeSecond = Date.now()
    await l.listen(uniqueChannel('b'))
    const gap = await gapAfterTermination(l)
    expect(gap.from.getTime()).toBeGreaterThanOrEqual(beforeSecond)
  })

  test('an answered heartbeat moves it forward', async () => {
    const l = await listener({ poolerCheck: false, heartbeat: { interval: 50, timeout: 5000 }, reconnect: { minDelay: 20, maxDelay: 100 } })
    await l.listen(uniqueChannel())
    const listened = Date.now()
    await sleep(400) // several heartbeats, each answered at once
    const gap = await gapAfterTermination(l)
    expect(gap.from.getTime()).toBeGreaterThan(listened)
  })

})

describe('query(sql, { signal })', () => {
  test('a query on a notifier connection that went silent is given up when the signal aborts, and the next query opens another', async () => {
    const { startFaultProxy } = await import('../support/fault-proxy.ts')
    const pg = listenerOptions()
    const proxy = await startFaultProxy(pg.host as string, pg.port as number)
    try {
      const l = await listener({ port: proxy.port, sslmode: 'disable' })
      expect((await l.query('SELECT 1'))[0]!.rows).toEqual([['1']])
      const notifier = await l.notifierProcessId
      proxy.stall() // both connections now hear nothing, and stay open
      const controller = new AbortController()
      const stuck = l.query('SELECT 2', { signal: controller.signal })
      await sleep(50)
      controller.abort(new Error('too slow'))
      const error = await stuck.catch((e: unknown) => e)
      expect(error).toBeInstanceOf(ConnectionLostError)
      expect((error as Error).cause).toEqual(new Error('too slow'))
      expect((await l.query('SELECT 3'))[0]!.rows).toEqual([['3']])
      expect(await l.notifierProcessId).not.toBe(notifier)
      // An already aborted signal: rejected, nothing sent, and the connection kept.
      const opened = await l.notifierProcessId
      await expect(l.query('SELECT 4', { signal: AbortSignal.abort() })).rejects.toThrow('the query was aborted before it was sent')
      expect((await l.query('SELECT 5'))[0]!.rows).toEqual([['5']])
      expect(await l.notifierProcessId).toBe(opened)
    } finally {
      await proxy.close()
    }
  })

  test('aborted while the notifier connection opens on a server that accepts and never answers: it rejects then, not when the attempt times out', async () => {
    const { startFaultProxy } = await import('../support/fault-proxy.ts')
    const pg = listenerOptions()
    const proxy = await startFaultProxy(pg.host as string, pg.port as number)
    proxy.newConnections = 'silent'
    // No connect_timeout: the attempt would be given up after reconnect.attemptTimeout, 60 s here.
    const l = new Listener(listenerOptions({ port: proxy.port, connectTimeout: 0, reconnect: { attemptTimeout: 60_000 } }))
    try {
      const controller = new AbortController()
      const query = l.query('SELECT 1', { signal: controller.signal }).catch((e: unknown) => e)
      await eventually(() => proxy.open === 1)
      controller.abort(new Error('too slow'))
      const error = await Promise.race([query, sleep(20_000).then(() => 'still waiting')])
      expect(error).toEqual(new ConnectionLostError('the query was aborted while its connection was opening, which is dropped'))
      expect((error as Error).cause).toEqual(new Error('too slow'))
      await eventually(() => proxy.open === 0) // the opening was dropped, its socket closed
      proxy.newConnections = 'forward'
      expect((await l.query('SELECT 2'))[0]!.rows).toEqual([['2']]) // the next call opens another
    } finally {
      await l.close()
      await proxy.close()
    }
  })

  test('options that are not an object reject through the promise, as every other misuse does', async () => {
    const l = await listener()
    let call: Promise<unknown> | undefined
    expect(() => (call = l.query('SELECT 1', null as never))).not.toThrow()
    await expect(call).rejects.toBeInstanceOf(TypeError)
    // A signal that is no AbortSignal: refused before a connection is opened for nothing.
    const before = await l.notifierProcessId
    await expect(l.query('SELECT 1', { signal: {} as never })).rejects.toThrow(new TypeError('signal must be an AbortSignal'))
    expect(await l.notifierProcessId).toBe(before)
  })
})

describe('the notifier connection after an error that closed it', () => {
  test('a protocol violation closes it, and the next call opens another at once instead of failing with the old error', async () => {
    const l = await listener()
    const channel = uniqueChannel()
    const heard = collect(l.notifications({ gaps: false }))
    await l.listen(channel)
    // pglisten reads only UTF8: the server's switch of client_encoding ends that connection.
    await expect(l.query("SET client_encoding = 'LATIN1'")).rejects.toThrow('client_encoding')
    await l.notify(channel, 'right after')
    await eventually(() => heard.items.length === 1)
    expect((heard.items[0] as Notification).payload).toBe('right after')
  })
})
