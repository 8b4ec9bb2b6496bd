/**
 * The replication stream's lifecycle before any server answers: what close(), an abort signal,
 * a failed or hung first connection do. connect() is replaced by a function that fails or
 * never finishes (honouring its signal, as the real one does): no server could be made to
 * hang on demand, and nothing here reads a byte of the protocol.
 */
import { expect, test, vi } from 'vitest'
import type { ConnectOptions } from '../../../src/protocol/io/connect.ts'
import type { Connection } from '../../../src/protocol/io/connection.ts'
import { ConnectionLostError } from '../../../src/protocol/errors.ts'
import { ReplicationError } from '../../../src/replication/errors.ts'
import { ReplicationStream } from '../../../src/replication/stream.ts'
import { SlotWatch } from '../../../src/replication/watch.ts'
import { FakeWalsender } from '../../support/fake-walsender.ts'

const options = { slot: 'lifecycle', publications: ['p'], reconnect: { minDelay: 1, maxDelay: 2 } }

/** A connect() that never finishes until its signal aborts, and records each call. */
function hangingConnect(calls: ConnectOptions[]): (options: ConnectOptions) => Promise<Connection> {
  return (given) => {
    calls.push(given)
    return new Promise((_, reject) => given.signal!.addEventListener('abort', () => reject(new ConnectionLostError('aborted', { cause: given.signal!.reason })), { once: true }))
  }
}

test('close() while the first connection is being made ends the attempt, resolves, and the iterator ends', async () => {
  const calls: ConnectOptions[] = []
  const stream = new ReplicationStream(options, hangingConnect(calls))
  const next = stream[Symbol.asyncIterator]().next()
  await new Promise((resolve) => setTimeout(resolve, 10))
  expect(calls).toHaveLength(1)
  expect(calls[0]!.replication).toBe('database')
  await stream.close()
  expect(calls[0]!.signal!.aborted).toBe(true)
  await expect(next).resolves.toEqual({ done: true, value: undefined })
  await expect(stream.ready).rejects.toThrow(ReplicationError)
})

test('an aborted signal stops the stream as close() does, and its listener is removed once the stream is over', async () => {
  const calls: ConnectOptions[] = []
  const controller = new AbortController()
  let listeners = 0
  const signal = controller.signal
  const add = signal.addEventListener.bind(signal)
  const remove = signal.removeEventListener.bind(signal)
  signal.addEventListener = ((...args: Parameters<typeof add>) => (listeners++, add(...args))) as typeof add
  signal.removeEventListener = ((...args: Parameters<typeof remove>) => (listeners--, remove(...args))) as typeof remove
  const stream = new ReplicationStream({ ...options, signal }, hangingConnect(calls))
  await new Promise((resolve) => setTimeout(resolve, 10))
  controller.abort()
  await expect(stream.ready).rejects.toThrow(/closed before it started/)
  await stream.close()
  expect(calls[0]!.signal!.aborted).toBe(true)
  expect(listeners).toBe(0)
})

test('a first connection that fails is not retried: the iterator and ready reject with its error', async () => {
  let calls = 0
  const refused = new ConnectionLostError('connection refused')
  const stream = new ReplicationStream(options, async () => {
    calls++
    throw refused
  })
  await expect(stream[Symbol.asyncIterator]().next()).rejects.toBe(refused)
  await expect(stream.ready).rejects.toBe(refused)
  expect(calls).toBe(1)
})

test('a first connection that hangs is abandoned after attemptTimeout, with an error that says so', async () => {
  const calls: ConnectOptions[] = []
  const stream = new ReplicationStream({ ...options, reconnect: { attemptTimeout: 30 } }, hangingConnect(calls))
  await expect(stream[Symbol.asyncIterator]().next()).rejects.toThrow(/did not finish within 30 ms/)
  expect(calls).toHaveLength(1)
})

test('next() called twice at once: both wait, and both end when the stream is closed', async () => {
  const stream = new ReplicationStream(options, hangingConnect([]))
  const iterator = stream[Symbol.asyncIterator]()
  const both = Promise.all([iterator.next(), iterator.next()])
  await new Promise((resolve) => setTimeout(resolve, 10))
  await stream.close()
  await expect(both).resolves.toEqual([{ done: true, value: undefined }, { done: true, value: undefined }])
})

// Found by review: the hooks were called in a try/catch, so an async hook's rejected promise
// went unheard, an unhandled rejection that ends a Node process by default.
test("async hooks that reject (onReconnect, watch's onError and onLag) stop nothing and leave no unhandled rejection", async () => {
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown) => void unhandled.push(reason)
  process.on('unhandledRejection', onUnhandled)
  try {
    const failing = async () => {
      throw new Error('the hook failed')
    }
    const server = new FakeWalsender()
    const reconnects: number[] = []
    const stream = new ReplicationStream({ ...options, onReconnect: (info) => (reconnects.push(info.attempt), failing()) }, server.connect)
    await stream.ready
    server.drop()
    await vi.waitFor(() => expect(server.starts).toHaveLength(2)) // it reconnected after the hook failed
    await stream.close()
    expect(reconnects).toEqual([1])

    const lagging = { parameters: new Map([['standard_conforming_strings', 'on']]), query: async () => [{ command: 'SELECT 1', fields: [], rows: [['t', '1', '0/10', '0/10', '1000', '1000', 'reserved']] }], close: async () => undefined }
    const lags: unknown[] = []
    const lagWatch = new SlotWatch('lifecycle', { interval: 10_000, lagBytes: 1, onLag: (health) => (lags.push(health), failing()) }, async () => lagging as unknown as Connection)
    await lagWatch.look()
    await lagWatch.close()
    expect(lags).toHaveLength(1)

    const errors: unknown[] = []
    const brokenWatch = new SlotWatch('lifecycle', { interval: 10_000, onError: (error) => (errors.push(error), failing()) }, async () => Promise.reject(new Error('no database')))
    await brokenWatch.look()
    await brokenWatch.close()
    expect(errors).toHaveLength(1)

    await new Promise((resolve) => setTimeout(resolve, 20)) // unhandledRejection comes after a turn
    expect(unhandled).toEqual([])
  } finally {
    process.off('unhandledRejection', onUnhandled)
  }
})
