/**
 * The Listener's orderings that a real server produces only by chance: its connection
 * attempts (src/listener/attempt.ts) are replaced by ones the test settles by hand, over a
 * fake connection whose queries the test answers in any order. What the server does is
 * checked in test/integration; here, only what the listener makes of the timing.
 */
import { afterEach, describe, expect, test, vi } from 'vitest'
import type { Attempt, AttemptOptions } from '../../../src/listener/attempt.ts'
import { ListenerError } from '../../../src/listener/errors.ts'
import { Listener } from '../../../src/listener/listener.ts'
import type { Gap } from '../../../src/listener/subscription.ts'
import { ConnectionLostError } from '../../../src/protocol/errors.ts'

const attempts = vi.hoisted(() => [] as { options: AttemptOptions; settle: { promise: Promise<Attempt>; resolve(a: Attempt): void; reject(e: unknown): void } }[])

vi.mock('../../../src/listener/attempt.ts', async (original) => ({
  ...(await original<typeof import('../../../src/listener/attempt.ts')>()),
  openListening: (options: AttemptOptions) => {
    let resolve!: (a: Attempt) => void
    let reject!: (e: unknown) => void
    const promise = new Promise<Attempt>((res, rej) => ((resolve = res), (reject = rej)))
    attempts.push({ options, settle: { promise, resolve, reject } })
    return promise
  },
}))

/** A connection whose queries wait until the test answers them, in any order. */
class FakeConnection {
  readonly processId = 4242
  readonly parameters = new Map<string, string>()
  readonly endpoint = { host: '127.0.0.1', port: 5432 }
  readonly bytesReceived = 0
  readonly queries: { sql: string; answer(): void }[] = []
  closes = 0
  isClosed = false

  query(sql: string): Promise<never[]> {
    return new Promise((resolve) => this.queries.push({ sql, answer: () => resolve([]) }))
  }
  async close(): Promise<void> {
    this.closes++
    this.isClosed = true
  }
  abort(): void {
    this.isClosed = true
  }
  pause(): void {}
  resume(): void {}
}

/** Answers the latest attempt with a fresh fake connection; returns it. */
function succeed(confirmedAt = new Date()): FakeConnection {
  const connection = new FakeConnection()
  attempts.at(-1)!.settle.resolve({ connection: connection as never, staged: [], confirmedAt, online: () => {} })
  return connection
}

const options = { poolerCheck: false, heartbeat: false, stallTimeout: false, reconnect: { minDelay: 1, maxDelay: 1 } } as const
const tick = () => new Promise((r) => setTimeout(r, 5))

afterEach(() => void attempts.splice(0))

describe('start()', () => {
  test('close() after the first attempt succeeded but before it went online: start() rejects and the connection is closed', async () => {
    const l = new Listener(options)
    const starting = l.start()
    expect(attempts).toHaveLength(1)
    const closing = l.close()
    const connection = succeed()
    await expect(starting).rejects.toThrow(new ListenerError('the listener was closed while it connected'))
    await closing
    expect(connection.closes).toBe(1)
    expect(l.stats.state).toBe('closed')
  })
})

describe('Gap.from', () => {
  test('requests answered out of the order they were sent: it keeps the latest send time, never moving back', async () => {
    const l = new Listener(options)
    const starting = l.start()
    const first = succeed(new Date(Date.now() - 1000))
    await starting
    const listenA = l.listen('a')
    await new Promise((r) => setTimeout(r, 20))
    const beforeB = Date.now() // b is sent at this time or later; a was sent well before
    const listenB = l.listen('b')
    await tick()
    const [a, b] = first.queries
    expect([a!.sql, b!.sql]).toEqual(['LISTEN "a"', 'LISTEN "b"'])
    b!.answer()
    await listenB
    a!.answer() // sent earlier, answered later: must not pull Gap.from back to its send time
    await listenA
    const gaps: Gap[] = []
    l.on('gap', (g) => void gaps.push(g))
    attempts[0]!.options.onClose(first as never, new ConnectionLostError('cut'))
    await vi.waitFor(() => expect(attempts).toHaveLength(2))
    succeed()
    await vi.waitFor(() => expect(gaps).toHaveLength(1))
    expect(gaps[0]!.from.getTime()).toBeGreaterThanOrEqual(beforeB)
    await l.close()
  })
})

describe('reconnecting', () => {
  test("each attempt is announced with its number, its wait and the previous failure; then it gives up", async () => {
    const l = new Listener({ ...options, reconnect: { minDelay: 4, maxDelay: 4, maxAttempts: 2 } })
    const starting = l.start()
    const first = succeed()
    await starting
    const announced: unknown[] = []
    const errors: Error[] = []
    l.on('reconnecting', (r) => void announced.push(r))
    l.on('error', (e) => void errors.push(e))
    const cut = new ConnectionLostError('cut')
    attempts[0]!.options.onClose(first as never, cut)
    expect(announced).toEqual([{ attempt: 1, maxAttempts: 2, delay: expect.any(Number), error: cut }])
    const delay = (announced[0] as { delay: number }).delay
    expect(delay).toBeGreaterThanOrEqual(2)
    expect(delay).toBeLessThanOrEqual(4)
    await vi.waitFor(() => expect(attempts).toHaveLength(2))
    const refused = new Error('refused')
    attempts[1]!.settle.reject(refused)
    await vi.waitFor(() => expect(announced).toHaveLength(2))
    expect(announced[1]).toEqual({ attempt: 2, maxAttempts: 2, delay: expect.any(Number), error: refused })
    await vi.waitFor(() => expect(attempts).toHaveLength(3))
    attempts[2]!.settle.reject(new Error('refused again'))
    await vi.waitFor(() => expect(l.stats.state).toBe('closed'))
    expect(announced).toHaveLength(2)
    expect(errors.map((e) => e.message)).toEqual(['refused', 'refused again', 'gave up after 2 attempts to reconnect'])
    expect(errors[2]!.cause).toBe(cut)
  })

  test("a 'reconnecting' handler that closes the listener stops it before any attempt", async () => {
    const l = new Listener(options)
    const starting = l.start()
    const first = succeed()
    await starting
    l.on('reconnecting', () => void l.close())
    attempts[0]!.options.onClose(first as never, new ConnectionLostError('cut'))
    await new Promise((r) => setTimeout(r, 30))
    expect(attempts).toHaveLength(1)
    expect(l.stats.state).toBe('closed')
  })
})
