/**
 * How a connection ends: what `closed` and onClose say, and that close() and cancel() settle
 * whatever the server does. Against the real server where it can show the moment; against a
 * scripted one (test/support/fake-server.ts) or a bare socket for a server that says FATAL and
 * hangs up on cue, stops reading, or never answers. Each test was found by review and failed
 * before its fix.
 */
import net from 'node:net'
import { describe, expect, test } from 'vitest'
import { ConnectionLostError, ProtocolViolationError } from '../../src/protocol/errors.ts'
import { connect, nodePlatform, type ConnectOptions } from '../../src/protocol/index.ts'
import type { Platform } from '../../src/protocol/io/platform.ts'
import { connectSuperuser } from '../support/connect.ts'
import { fakeServersClosedAfterEach, type FakeClient } from '../support/fake-server.ts'
import { backend, bytes, loginAccepted } from '../support/wire.ts'

const serve = fakeServersClosedAfterEach()

/** Options for a scripted server on `port`, which asks for no password. */
const scripted = (port: number, more: Partial<ConnectOptions> = {}): ConnectOptions => ({ host: '127.0.0.1', port, user: 'ann', database: 'db', sslmode: 'disable', connectTimeout: 3, env: {}, passfile: '/nonexistent', ...more })

/** `promise`'s outcome, or 'still waiting' after `ms`. */
const within = <T>(promise: Promise<T>, ms: number): Promise<T | 'still waiting'> =>
  Promise.race([promise, new Promise<'still waiting'>((resolve) => setTimeout(() => resolve('still waiting'), ms))])

describe('an option refused once the socket is open', () => {
  // Found by review: the framer, made with the connection, refused maxMessageLength after the
  // socket was open, and nothing closed that socket (paused, it kept the process alive).
  test('maxMessageLength out of range: a RangeError, and the socket it opened is closed', async () => {
    let socketClosed: Promise<void> | undefined
    const server = await serve(async (client: FakeClient) => {
      socketClosed = client.closed
      await client.closed
    })
    await expect(connect(scripted(server.port, { maxMessageLength: 2 }))).rejects.toThrow(RangeError)
    expect(await within(socketClosed!, 2_000)).toBeUndefined()
  })
})

describe('what closed says', () => {
  // close() marked the end as asked for, though the connection had failed: `closed` resolved
  // to undefined, and the reason abort() promises was lost.
  test('abort(reason), then close() before the socket has closed: closed still resolves to the reason, and onClose hears it', async () => {
    const heard: (Error | undefined)[] = []
    const c = await connectSuperuser({ onClose: (error) => void heard.push(error) })
    const reason = new ConnectionLostError('no answer to the heartbeat')
    c.abort(reason)
    await c.close()
    expect(await c.closed).toBe(reason)
    expect(heard).toEqual([reason])
  })

  test("a protocol violation, then close() in the failed query's catch: closed is the violation", async () => {
    const server = await serve(async (client: FakeClient) => {
      await client.readPacket()
      client.write(loginAccepted())
      await client.readMessage() // the query
      client.write(bytes(0x5a, 0, 0, 0, 2)) // ReadyForQuery with a length under 4
      await client.closed
    })
    const c = await connect(scripted(server.port))
    const error = await c.query('SELECT 1').catch(async (failure: unknown) => {
      await c.close() // the usual clean-up
      return failure
    })
    expect(error).toBeInstanceOf(ProtocolViolationError)
    expect(await c.closed).toBe(error)
  })

  // Node failed the socket on a write after its end ("write after end", "This socket has been
  // ended by the other party"), and that error replaced why the connection ended.
  test('query() then close() at once: the close stays clean, and the query rejects as closed', async () => {
    const c = await connectSuperuser()
    const query = c.query('SELECT 1').catch((error: unknown) => error) // sent a microtask later, after Terminate
    await c.close()
    expect(await c.closed).toBeUndefined()
    expect(await query).toEqual(new ConnectionLostError('the connection was closed'))
  })

  test("the server says FATAL and hangs up; a write between its FIN and the socket's close keeps the server's reason", async () => {
    const fatal = backend.errorResponse({ S: 'FATAL', V: 'FATAL', C: '57P01', M: 'terminating connection due to administrator command' })
    const server = await serve(async (client: FakeClient) => {
      await client.readPacket()
      client.write(loginAccepted())
      await new Promise((resolve) => setTimeout(resolve, 50))
      client.write(fatal) // unasked, as pg_terminate_backend's farewell is
      client.end() // FIN; the fake reads on
      await client.closed
    })
    // The Node link's socket, to write at the moment its 'end' comes: a heartbeat, a LISTEN.
    const sockets: net.Socket[] = []
    const platform: Platform = {
      ...nodePlatform,
      openLink: async (...args) => {
        const link = await nodePlatform.openLink(...args)
        sockets.push((link as unknown as { socket: net.Socket }).socket)
        return link
      },
    }
    const c = await connect(scripted(server.port, { platform }))
    const query = new Promise<unknown>((resolve) => sockets[0]!.once('end', () => resolve(c.query('SELECT 1').catch((error: unknown) => error))))
    const reason = await c.closed
    expect(reason).toBeInstanceOf(ConnectionLostError)
    expect(((reason as Error).cause as Error).message).toBe('terminating connection due to administrator command')
    expect(await query).toBeInstanceOf(ConnectionLostError)
  })
})

describe('close() and cancel() settle', () => {
  // end() waited for the queue to be written, which a server that reads nothing never allows.
  test('close() against a server that stopped reading, with more queued than the kernel takes: it settles within about a second', async () => {
    const sockets: net.Socket[] = []
    const server = net.createServer((socket) => {
      sockets.push(socket)
      socket.on('error', () => undefined)
      socket.once('data', () => {
        socket.write(loginAccepted())
        socket.pause() // a stalled backend: reads nothing more
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const c = await connect(scripted((server.address() as net.AddressInfo).port, { password: 'not-a-secret' }))
      const query = c.query(`SELECT '${'x'.repeat(32 * 1024 * 1024)}'`).catch((error: unknown) => error)
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(await within(c.close(), 5000)).toBeUndefined()
      expect(await query).toBeInstanceOf(ConnectionLostError)
    } finally {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    }
  })

  // cancel() opened its connection with no deadline at all.
  test('cancel() to a server that accepts the cancel connection and never answers: it fails within connect_timeout', async () => {
    let connections = 0
    const server = await serve(async (client: FakeClient) => {
      const first = connections++ === 0
      await client.readPacket() // SSLRequest
      if (!first) return void (await client.closed) // the cancel connection: silence
      await client.startTls()
      await client.readPacket()
      client.write(loginAccepted())
      await client.closed
    })
    const c = await connect(scripted(server.port, { sslmode: 'require', connectTimeout: 1 }))
    expect(c.encrypted).toBe(true)
    const outcome = await within(c.cancel().then(() => 'sent', (error: Error) => error), 5000)
    expect(outcome).toBeInstanceOf(ConnectionLostError)
    expect((outcome as Error).message).toMatch(/timed out/)
    c.abort(new ConnectionLostError('the test is over'))
  })
})
