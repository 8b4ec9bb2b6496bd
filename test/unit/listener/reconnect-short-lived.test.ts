/**
 * How long a reconnected connection stayed up decides whether the backoff starts over: one
 * lost sooner than the ceiling of the wait before it is a failed attempt (numbered on, toward
 * maxAttempts), one that stayed up starts again at minDelay. The attempts are settled by hand
 * over fake connections (as in listener.test.ts), and the clock, performance.now(), is the
 * test's: no test here waits for real time to pass.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import type { Attempt, AttemptOptions } from '../../../src/listener/attempt.ts'
import { Listener } from '../../../src/index.ts'
import type { ListenerEvents, ListenerOptions } from '../../../src/listener/listener-types.ts'
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

/** Enough of a connection for a listener with no channels and no pooler check. */
class FakeConnection {
  readonly processId = 4242
  readonly parameters = new Map<string, string>()
  readonly endpoint = { host: '127.0.0.1', port: 5432 }
  bytesReceived = 0
  isClosed = false
  /** A path that lets the connection be made, then carries nothing: no heartbeat is ever answered. */
  blackHoled = false
  /** Where the listener takes notifications, once the connection is online. */
  deliver: ((notification: Notification) => void) | undefined
  sync(): Promise<void> {
    return this.blackHoled ? new Promise(() => {}) : Promise.resolve()
  }
  /** One notification of a backlog arrives. */
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

/** The monotonic clock the listener reads, moved by the test alone. */
let clock = 0
beforeEach(() => {
  clock = 1_000
  vi.spyOn(performance, 'now').mockImplementation(() => clock)
})
afterEach(() => {
  vi.restoreAllMocks()
  attempts.splice(0)
})

/** Answers the attempt number `n` (0: the first connection) with a fresh connection, once it has begun; resolves once it is online. */
async function succeed(n: number, l?: Listener, connection = new FakeConnection()): Promise<FakeConnection> {
  await vi.waitFor(() => expect(attempts.length).toBeGreaterThan(n))
  attempts[n]!.settle.resolve({ connection: connection as never, staged: [], confirmedAt: new Date(), online: (deliver) => (connection.deliver = deliver) })
  if (l) await vi.waitFor(() => expect(l.stats.reconnects).toBe(n))
  return connection
}

/** The server ends connection `n` after `ms` of the test's clock. */
function lose(n: number, connection: FakeConnection, ms: number): void {
  clock += ms
  connection.isClosed = true
  attempts[n]!.options.onClose(connection as never, new ConnectionLostError(`cut after ${ms} ms`))
}

/** Moves the test's clock and the fake timers together. */
async function pass(ms: number): Promise<void> {
  clock += ms
  await vi.advanceTimersByTimeAsync(ms)
}

async function started(reconnect: ListenerOptions['reconnect'], heartbeat: ListenerOptions['heartbeat'] = false) {
  const l = new Listener({ poolerCheck: false, heartbeat, stallTimeout: false, reconnect })
  const starting = l.start()
  const first = await succeed(0)
  await starting
  const announced: ListenerEvents['reconnecting'][] = []
  const errors: Error[] = []
  l.on('reconnecting', (r) => void announced.push(r))
  l.on('error', (e) => void errors.push(e))
  return { l, first, announced, errors }
}

describe('a reconnected connection lost sooner than the wait before it', () => {
  test('counts as a failed attempt: the numbers go on and the ceilings double across the reconnects', async () => {
    const { l, first, announced } = await started({ minDelay: 4, maxDelay: 64 })
    lose(0, first, 60_000)
    for (let n = 1; n <= 3; n++) lose(n, await succeed(n, l), 1)
    await vi.waitFor(() => expect(announced).toHaveLength(4))
    expect(announced.map((r) => r.attempt)).toEqual([1, 2, 3, 4])
    announced.forEach((r, i) => {
      expect(r.delay).toBeGreaterThanOrEqual(2 * 2 ** i)
      expect(r.delay).toBeLessThanOrEqual(4 * 2 ** i)
    })
    await l.close()
  })

  test('maxAttempts reached this way: the error says the last attempt connected, and was lost too soon to count', async () => {
    const { l, first, announced, errors } = await started({ minDelay: 4, maxDelay: 64, maxAttempts: 3 })
    lose(0, first, 60_000)
    for (let n = 1; n <= 3; n++) lose(n, await succeed(n, l), 2)
    await vi.waitFor(() => expect(l.stats.state).toBe('closed'))
    expect(announced.map((r) => r.attempt)).toEqual([1, 2, 3])
    expect(errors.at(-1)!.message).toBe('gave up after 3 attempts to reconnect (the last one connected, but was lost after 2 ms, sooner than the up to 16 ms waited before it)')
    expect((errors.at(-1)!.cause as Error).message).toBe('cut after 2 ms')
  })

  test('maxAttempts reached by a refused attempt after such a loss: the plain message, with the refusal as its cause', async () => {
    const { l, first, errors } = await started({ minDelay: 4, maxDelay: 64, maxAttempts: 2 })
    lose(0, first, 60_000)
    lose(1, await succeed(1, l), 2)
    await vi.waitFor(() => expect(attempts).toHaveLength(3))
    const refused = new Error('refused')
    attempts[2]!.settle.reject(refused)
    await vi.waitFor(() => expect(l.stats.state).toBe('closed'))
    expect(errors.at(-1)!.message).toBe('gave up after 2 attempts to reconnect')
    expect(errors.at(-1)!.cause).toBe(refused)
  })
})

describe('a reconnected connection that stayed up', () => {
  test('as long as the ceiling of the wait before it: the backoff starts over, attempt 1 at minDelay', async () => {
    const { l, first, announced } = await started({ minDelay: 4, maxDelay: 64, maxAttempts: 2 })
    lose(0, first, 60_000)
    lose(1, await succeed(1, l), 1) // attempt 2 comes, from a ceiling of 8
    lose(2, await succeed(2, l), 8) // up 8 ms: exactly the ceiling of the wait before it
    await vi.waitFor(() => expect(announced).toHaveLength(3))
    expect(announced.map((r) => r.attempt)).toEqual([1, 2, 1])
    expect(announced[2]!.delay).toBeGreaterThanOrEqual(2)
    expect(announced[2]!.delay).toBeLessThanOrEqual(4)
    expect(l.stats.state).not.toBe('closed')
    await l.close()
  })

  test('for hours: the first wait is minDelay again, however many attempts it took to come back', async () => {
    const { l, first, announced } = await started({ minDelay: 4, maxDelay: 16 })
    lose(0, first, 60_000)
    for (let n = 1; n <= 5; n++) lose(n, await succeed(n, l), 1)
    lose(6, await succeed(6, l), 3 * 3_600_000)
    await vi.waitFor(() => expect(announced).toHaveLength(7))
    expect(announced.map((r) => r.attempt)).toEqual([1, 2, 3, 4, 5, 6, 1])
    expect(announced[6]!.delay).toBeLessThanOrEqual(4)
    await l.close()
  })
})

describe('the first connection', () => {
  test('lost at once: attempt 1 from minDelay (there was no wait before it to measure against)', async () => {
    const { l, first, announced } = await started({ minDelay: 4, maxDelay: 64 })
    lose(0, first, 0)
    await vi.waitFor(() => expect(announced).toHaveLength(1))
    expect(announced[0]).toMatchObject({ attempt: 1 })
    expect(announced[0]!.delay).toBeLessThanOrEqual(4)
    await l.close()
  })

  test('lost with reconnect: false: it gives up at once, saying reconnect is off', async () => {
    const { l, first, announced, errors } = await started(false)
    lose(0, first, 0)
    await vi.waitFor(() => expect(l.stats.state).toBe('closed'))
    expect(announced).toEqual([])
    expect(errors.map((e) => e.message)).toEqual(['the connection was lost and reconnect is off'])
    expect(attempts).toHaveLength(1)
  })
})

describe('a reconnected connection found dead by the heartbeat', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'clearImmediate'] })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  /** A listener whose first connection, up a minute, is lost; its reconnect (attempt 1) is online, and no heartbeat of it is ever answered. */
  async function reconnectedUnanswered(reconnect: ListenerOptions['reconnect']) {
    const { l, first, announced, errors } = await started(reconnect, { interval: 10_000, timeout: 10_000 })
    lose(0, first, 60_000)
    const connection = new FakeConnection()
    connection.blackHoled = true
    await succeed(1, l, connection)
    return { l, announced, errors, connection }
  }

  // Found by reading: it counted as up until the heartbeat's verdict, an interval and a timeout
  // after it went silent, so a path that lets connections be made and then carries nothing
  // started the backoff over each time: a reconnect every heartbeat cycle, maxAttempts never met.
  test('was up only until it was last heard from: gone silent at once, it is a failed attempt, and the numbers go on', async () => {
    const { l, announced, connection: silent } = await reconnectedUnanswered({ minDelay: 4, maxDelay: 64 })
    await pass(20_000) // the heartbeat's interval, then its timeout, with no byte
    await vi.waitFor(() => expect(announced).toHaveLength(2))
    expect(silent.isClosed).toBe(true)
    expect(announced.map((r) => r.attempt)).toEqual([1, 2])
    await l.close()
  })

  test('with maxAttempts met so, giving up says it went silent, and when', async () => {
    const { l, errors } = await reconnectedUnanswered({ minDelay: 4, maxDelay: 64, maxAttempts: 1 })
    await pass(20_000)
    await vi.waitFor(() => expect(l.stats.state).toBe('closed'))
    expect(errors.at(-1)!.message).toBe('gave up after 1 attempt to reconnect (the last one connected, but went silent after 0 ms, sooner than the up to 4 ms waited before it)')
    expect((errors.at(-1)!.cause as Error).message).toMatch(/^no byte arrived for 10000 ms while a heartbeat waited for its answer/)
  })

  // Found in review (d631c94): a notification is word from the connection as much as a
  // heartbeat's answer. PostgreSQL sends that answer only after every notification queued
  // before it, so a connection delivering a backlog can go on working, its heartbeat's answer
  // still on the way, for as long as the backlog lasts. Lost then, it worked until the heartbeat
  // last saw bytes arrive (it looks at each beat and each check of a beat's silence, never per
  // message), not until its last answer.
  test('after delivering a backlog for a minute, its heartbeat unanswered behind it, then going silent: the backoff starts over', async () => {
    // Its heartbeat's answer waits behind the backlog.
    const { l, announced, connection: busy } = await reconnectedUnanswered({ minDelay: 4, maxDelay: 64 })
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
})
