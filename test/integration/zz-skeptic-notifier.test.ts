/** Skeptic review of 99a61b2: the notifier opening shared by calls, against a server that accepts and never answers. */
import { createServer, type Socket } from 'node:net'
import { describe, expect, test } from 'vitest'
import { Listener } from '../../src/index.ts'
import { ListenerError } from '../../src/listener/errors.ts'
import { ConnectionLostError } from '../../src/protocol/errors.ts'
import { eventually } from '../support/connect.ts'
import { listenerOptions } from '../support/listener.ts'

async function silentServer() {
  const sockets = new Set<Socket>()
  let hungUp = 0
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => hungUp++).resume()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as { port: number }).port,
    sockets,
    hungUp: () => hungUp,
    async stop() {
      for (const s of sockets) s.destroy()
      await new Promise((r) => server.close(r))
    },
  }
}

describe('skeptic: notifier opening', () => {
  test('a notify() that shares the opening a query() signal drops: what it rejects with', async () => {
    const silent = await silentServer()
    const l = new Listener(listenerOptions({ port: silent.port, connectTimeout: 0, reconnect: { attemptTimeout: 60_000 } }))
    try {
      const controller = new AbortController()
      const query = l.query('SELECT 1', { signal: controller.signal }).catch((e: unknown) => e)
      const notify = l.notify('c', 'x').catch((e: unknown) => e)
      await eventually(() => silent.sockets.size === 1)
      controller.abort(new Error('too slow'))
      const [q, n] = await Promise.all([query, notify])
      console.log({ query: String(q), notify: String(n), notifyCause: String((n as Error).cause) })
      expect(q).toBeInstanceOf(ConnectionLostError)
      expect(n).toBeInstanceOf(ConnectionLostError) // typed; it was never sent
      await eventually(() => silent.hungUp() === 1)
    } finally {
      await l.close()
      await silent.stop()
    }
  })

  test('close() while notify() waits for the notifier opening: README says waiting calls reject with ListenerError', async () => {
    const silent = await silentServer()
    const l = new Listener(listenerOptions({ port: silent.port, connectTimeout: 0, reconnect: { attemptTimeout: 60_000 } }))
    try {
      const notify = l.notify('c', 'x').catch((e: unknown) => e)
      const query = l.query('SELECT 1', { signal: new AbortController().signal }).catch((e: unknown) => e)
      await eventually(() => silent.sockets.size === 1)
      await l.close()
      const [n, q] = await Promise.all([notify, query])
      console.log({ notify: `${(n as Error).name}: ${(n as Error).message}`, query: `${(q as Error).name}: ${(q as Error).message}` })
      expect(n).toBeInstanceOf(ListenerError)
      expect(q).toBeInstanceOf(ListenerError)
    } finally {
      await silent.stop()
    }
  })
})

describe('skeptic: query() with a signal that is not an AbortSignal', () => {
  test('rejects with TypeError; the notifier opening it starts must not become an unhandled rejection (Node: process exit), nor fail the next call', async () => {
    const unhandled: unknown[] = []
    const onUnhandled = (e: unknown) => void unhandled.push(e)
    process.on('unhandledRejection', onUnhandled)
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as { port: number }).port
    await new Promise((r) => closed.close(r)) // nothing listens there now: the attempt is refused
    const l = new Listener(listenerOptions({ port, connectTimeout: 0 }))
    try {
      const error = await l.query('SELECT 1', { signal: {} as AbortSignal }).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(TypeError)
      await new Promise((r) => setTimeout(r, 300))
      console.log({ error: String(error), unhandled: unhandled.map(String) })
      expect(unhandled).toEqual([])
    } finally {
      process.off('unhandledRejection', onUnhandled)
      await l.close()
    }
  })
})
