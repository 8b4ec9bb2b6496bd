/**
 * A connection the heartbeat finds dead was up until it was last heard from (8ca2748), and a
 * notification is word from it as much as a heartbeat's answer: PostgreSQL sends that answer
 * only after every notification queued before it, so a connection delivering a backlog can
 * go on working, its heartbeat's answer still on the way, for as long as the backlog lasts.
 * Lost then, it worked until the heartbeat last saw bytes arrive (it looks at each beat and
 * each check of a beat's silence, never per message), not until its last answer. Fake
 * connections, settled by hand, and the test's own clock, as in reconnect-short-lived.test.ts.
 */
import { afterEach, beforeEach, expect, test, vi } from 'vitest'
import type { Attempt, AttemptOptions } from '../../../src/listener/attempt.ts'
import { Listener } from '../../../src/index.ts'
import type { ListenerEvents } from '../../../src/listener/listener-types.ts'
import type { Notification } from '../../../src/listener/subscription.ts'
import { ConnectionLostError } from '../../../src/protocol/errors.ts'

const attempts = vi.hoisted(() => [] as { options: AttemptOptions; settle: { resolve(a: Attempt): void; reject(e: unknown): void } }[])

vi.mock('../../../src/listener/attempt.ts', async (original) => ({
  ...(await original<typeof import('../../../src/listener/attempt.ts')>()),
  openListening: (options: AttemptOptions) =>
    new Promise<Attempt>((resolve, reject) => {
      attempts.push({ options, settle: { resolve, reject } })
      if (options.signal.aborted) reject(options.signal.reason)
    }),
}))

/** A connection whose heartbeat is never answered (it waits behind a backlog), but which may carry notifications. */
class FakeConnection {
  readonly processId = 4242
  readonly parameters = new Map<string, string>()
  readonly endpoint = { host: '127.0.0.1', port: 5432 }
  bytesReceived = 0
  isClosed = false
  deliver: ((notification: Notification) => void) | undefined
  sync(): Promise<void> {
    return new Promise(() => {})
  }
  /** One notification of the backlog arrives. */
  notify(): void {
    this.bytesReceived += 20
    this.deliver!({ type: 'NotificationResponse', processId: 1, channel: 'backlog', payload: '' })
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

let clock = 0
beforeEach(() => {
  clock = 1_000
  vi.spyOn(performance, 'now').mockImplementation(() => clock)
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'clearImmediate'] })
})
afterEach(() => {
  vi.useRealTimers()
  vi.restoreAllMocks()
  attempts.splice(0)
})

async function succeed(n: number, connection: FakeConnection): Promise<void> {
  await vi.waitFor(() => expect(attempts.length).toBeGreaterThan(n))
  attempts[n]!.settle.resolve({ connection: connection as never, staged: [], confirmedAt: new Date(), online: (deliver) => (connection.deliver = deliver) })
}

/** Moves the test's clock and the timers together. */
async function pass(ms: number): Promise<void> {
  clock += ms
  await vi.advanceTimersByTimeAsync(ms)
}

test('a reconnected connection that delivered a backlog for a minute, its heartbeat unanswered behind it, then went silent, starts the backoff over', async () => {
  const l = new Listener({ poolerCheck: false, heartbeat: { interval: 10_000, timeout: 10_000 }, stallTimeout: false, reconnect: { minDelay: 4, maxDelay: 64 } })
  const announced: ListenerEvents['reconnecting'][] = []
  l.on('reconnecting', (r) => void announced.push(r))
  const starting = l.start()
  const first = new FakeConnection()
  await succeed(0, first)
  await starting
  clock += 60_000
  first.isClosed = true
  attempts[0]!.options.onClose(first as never, new ConnectionLostError('cut'))
  const busy = new FakeConnection()
  await succeed(1, busy)
  await vi.waitFor(() => expect(l.stats.reconnects).toBe(1))
  // A notification every 5 s for a minute: the heartbeat sent at 10 s waits behind them.
  for (let i = 0; i < 12; i++) {
    await pass(5_000)
    busy.notify()
  }
  expect(busy.isClosed).toBe(false) // bytes came: alive all along
  await pass(20_000) // then nothing: the verdict comes
  await vi.waitFor(() => expect(announced).toHaveLength(2))
  expect(busy.isClosed).toBe(true)
  // Up a minute, far longer than the 4 ms waited before it: the backoff starts over.
  expect(announced.map((r) => r.attempt)).toEqual([1, 1])
  await l.close()
})
