/**
 * What a reconnect staged (heard while its LISTEN was answered, held back to come after the
 * Gap) is let go of once delivered. The attempt's handler for the new connection's
 * notifications lives as long as that connection, and kept the staged array reachable through
 * its closure: up to 4 × highWaterMark notifications (8000-byte payloads: 32 MB at the default),
 * kept alive until the next reconnect, on top of what the queues hold. The protocol's connect()
 * is replaced by a fake connection; the garbage collector is asked directly whether a staged
 * notification that its consumer has read is still reachable.
 */
import v8 from 'node:v8'
import vm from 'node:vm'
import { afterEach, expect, test, vi } from 'vitest'
import { Listener } from '../../../src/index.ts'
import type { ListenerItem, Notification } from '../../../src/listener/subscription.ts'
import { ConnectionLostError } from '../../../src/protocol/errors.ts'
import { connect, type ConnectOptions } from '../../../src/protocol/io/connect.ts'

vi.mock('../../../src/protocol/io/connect.ts', () => ({ connect: vi.fn() }))

v8.setFlagsFromString('--expose-gc')
const collectGarbage = vm.runInNewContext('gc') as () => void

/** A connection as the listener uses it: queries wait for the test to answer them. */
class FakeConnection {
  readonly processId = 4242
  readonly parameters = new Map<string, string>()
  readonly bytesReceived = 0
  readonly queries: { sql: string; answer(): void }[] = []
  isClosed = false
  constructor(readonly handlers: Pick<ConnectOptions, 'onNotification' | 'onClose'>) {}
  query(sql: string): Promise<never[]> {
    return new Promise((resolve) => this.queries.push({ sql, answer: () => resolve([]) }))
  }
  hear(notification: Notification): void {
    this.handlers.onNotification?.(notification)
  }
  lose(): void {
    this.isClosed = true
    this.handlers.onClose?.(new ConnectionLostError('the server closed the connection'))
  }
  async close(): Promise<void> {
    this.isClosed = true
  }
  abort(): void {
    this.isClosed = true
  }
  pause(): void {}
  resume(): void {}
}

const connections: FakeConnection[] = []
vi.mocked(connect).mockImplementation(async (options) => {
  const connection = new FakeConnection(options as ConnectOptions)
  connections.push(connection)
  return connection as never
})

afterEach(() => void connections.splice(0))

/** Waits for the newest connection to have a query waiting, and answers it. */
async function answer(at: number): Promise<string> {
  await vi.waitFor(() => expect(connections[at]?.queries.length).toBeGreaterThan(0))
  const query = connections[at]!.queries.shift()!
  query.answer()
  return query.sql
}

/** Hears a notification on `connection`, keeping only a weak reference to it. */
function hearWeakly(connection: FakeConnection, channel: string, payload: string): WeakRef<Notification> {
  const notification: Notification = { type: 'NotificationResponse', processId: 1, channel, payload }
  connection.hear(notification)
  return new WeakRef(notification)
}

/** Reads `count` items and returns their labels only: nothing read stays referenced from here. */
async function read(iterator: AsyncIterableIterator<ListenerItem>, count: number): Promise<string[]> {
  const labels: string[] = []
  for (let i = 0; i < count; i++) {
    const { value } = (await iterator.next()) as IteratorYieldResult<ListenerItem>
    labels.push(value.type === 'Gap' ? 'Gap' : value.payload)
  }
  return labels
}

test('a notification staged during a reconnect is unreachable once its consumer has read it', async () => {
  const l = new Listener({ poolerCheck: false, heartbeat: false, stallTimeout: false, reconnect: { minDelay: 1, maxDelay: 1 } })
  await l.start()
  const listening = l.listen('jobs')
  expect(await answer(0)).toBe('LISTEN "jobs"')
  await listening
  const iterator = l.notifications({ channels: ['jobs'] })
  connections[0]!.lose()
  await vi.waitFor(() => expect(connections).toHaveLength(2))
  await vi.waitFor(() => expect(connections[1]!.queries.length).toBe(1))
  const staged = hearWeakly(connections[1]!, 'jobs', 'during the LISTEN') // before its answer: staged
  expect(await answer(1)).toBe('LISTEN "jobs"')
  expect(await read(iterator, 2)).toEqual(['Gap', 'during the LISTEN'])
  // The listener still uses the connection (its handler is live): only the staged array could hold it.
  expect(l.stats.connected).toBe(true)
  await new Promise((resolve) => setImmediate(resolve)) // a WeakRef keeps its target until the job that made it ends
  collectGarbage()
  expect(staged.deref()).toBeUndefined() // before: kept by the attempt's closure until the next reconnect
  await iterator.return!()
  await l.close()
})
