/**
 * The Listener's orderings that a real server produces only by chance: its connection
 * attempts (src/listener/attempt.ts) are replaced by ones the test settles by hand, over a
 * fake connection whose queries the test answers in any order. What the server does is
 * checked in test/integration; here, only what the listener makes of the timing.
 */
import { afterEach, describe, expect, test, vi } from 'vitest'
import type { Attempt, AttemptOptions } from '../../../src/listener/attempt.ts'
import { ListenerError } from '../../../src/listener/errors.ts'
import { Listener } from '../../../src/index.ts'
import type { Gap, Notification } from '../../../src/listener/subscription.ts'
import type { ListenerOptions } from '../../../src/listener/listener-types.ts'
import { DatabaseError } from '../../../src/protocol/errors.ts'
import { ConnectionLostError } from '../../../src/protocol/errors.ts'
import { changes } from '../../../src/changes.ts'

const attempts = vi.hoisted(() => [] as { options: AttemptOptions; answered: boolean; settle: { promise: Promise<Attempt>; resolve(a: Attempt): void; reject(e: unknown): void } }[])

vi.mock('../../../src/listener/attempt.ts', async (original) => ({
  ...(await original<typeof import('../../../src/listener/attempt.ts')>()),
  openListening: (options: AttemptOptions) => {
    let resolve!: (a: Attempt) => void
    let reject!: (e: unknown) => void
    const promise = new Promise<Attempt>((res, rej) => ((resolve = res), (reject = rej)))
    attempts.push({ options, answered: false, settle: { promise, resolve, reject } })
    // As the real one does: an attempt begun already stopped fails at once (connect() checks its signal first).
    if (options.signal.aborted) reject(options.signal.reason)
    return promise
  },
}))

/** A connection whose queries wait until the test answers them, in any order. */
class FakeConnection {
  readonly processId = 4242
  readonly parameters = new Map<string, string>()
  readonly endpoint = { host: '127.0.0.1', port: 5432 }
  readonly bytesReceived = 0
  readonly queries: { sql: string; answer(): void; fail(error: unknown): void }[] = []
  closes = 0
  isClosed = false
  pauses = 0
  /** Hands a notification to the listener as the connection would, once online. */
  deliver: (notification: Notification) => void = () => {
    throw new Error('not online yet')
  }

  query(sql: string): Promise<never[]> {
    return new Promise((resolve, reject) => this.queries.push({ sql, answer: () => resolve([]), fail: reject }))
  }
  /** Answers every query not answered yet, in order (a server that answers at once). */
  answerAll(): void {
    for (const q of this.queries.splice(0)) q.answer()
  }
  async close(): Promise<void> {
    this.closes++
    this.isClosed = true
  }
  abort(): void {
    this.isClosed = true
  }
  pause(): void {
    this.pauses++
  }
  resume(): void {}
}

/**
 * Answers the latest attempt with a fresh fake connection, once it has begun; returns it. An
 * attempt begins a few ticks after it is decided: the listener first resolves its settings
 * (loading the connection-string parser if it has a connection string).
 */
async function succeed(confirmedAt = new Date(), connection = new FakeConnection()): Promise<FakeConnection> {
  await vi.waitFor(() => expect(attempts.at(-1)?.answered).toBe(false))
  attempts.at(-1)!.answered = true
  attempts.at(-1)!.settle.resolve({ connection: connection as never, staged: [], confirmedAt, online: (deliver) => void (connection.deliver = deliver) })
  return connection
}

/** A started listener on a fake connection. */
async function started(extra: Partial<ListenerOptions> = {}): Promise<{ l: Listener; connection: FakeConnection }> {
  const l = new Listener({ ...options, ...extra })
  const starting = l.start()
  const connection = await succeed()
  await starting
  return { l, connection }
}

/** Waits until the connection has a query waiting, and answers (or fails) the oldest. */
async function answer(connection: FakeConnection, error?: unknown): Promise<string> {
  await vi.waitFor(() => expect(connection.queries.length).toBeGreaterThan(0))
  const query = connection.queries.shift()!
  if (error === undefined) query.answer()
  else query.fail(error)
  return query.sql
}

const notification = (channel: string, payload: string): Notification => ({ type: 'NotificationResponse', processId: 1, channel, payload })

const options = { poolerCheck: false, heartbeat: false, stallTimeout: false, reconnect: { minDelay: 1, maxDelay: 1 } } as const
const tick = () => new Promise((r) => setTimeout(r, 5))

afterEach(() => void attempts.splice(0))

describe('start()', () => {
  test('close() after the first attempt succeeded but before it went online: start() rejects and the connection is closed', async () => {
    const l = new Listener(options)
    const starting = l.start()
    await vi.waitFor(() => expect(attempts).toHaveLength(1))
    const closing = l.close()
    const connection = await succeed()
    await expect(starting).rejects.toThrow(new ListenerError('the listener was closed while it connected'))
    await closing
    expect(connection.closes).toBe(1)
    expect(l.stats.state).toBe('closed')
  })
})

describe('start() and close() at once', () => {
  test('close() before the first attempt has begun (its settings are still being read): start() rejects as closed, and the attempt begins stopped', async () => {
    const l = new Listener(options)
    const starting = l.start()
    const closing = l.close()
    await expect(starting).rejects.toThrow(new ListenerError('the listener was closed while it connected'))
    await closing
    // An attempt, if one begins at all, begins stopped: it opens nothing.
    expect(attempts.every((attempt) => attempt.options.signal.aborted)).toBe(true)
    expect(l.stats.state).toBe('closed')
  })
})

describe('Gap.from', () => {
  test('requests answered out of the order they were sent: it keeps the latest send time, never moving back', async () => {
    const l = new Listener(options)
    const starting = l.start()
    const first = await succeed(new Date(Date.now() - 1000))
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
    await succeed()
    await vi.waitFor(() => expect(gaps).toHaveLength(1))
    expect(gaps[0]!.from.getTime()).toBeGreaterThanOrEqual(beforeB)
    await l.close()
  })
})

describe('reconnecting', () => {
  test('what the new connection heard before its re-LISTEN was answered is delivered after the Gap only up to maxBacklog; the rest is inside the Gap', async () => {
    const { l, connection: first } = await started({ highWaterMark: 2, lowWaterMark: 0 }) // maxBacklog 8
    expect(attempts[0]!.options.stageLimit).toBe(8)
    const slow = l.notifications()
    first.deliver(notification('a', 'old 1'))
    first.deliver(notification('a', 'old 2')) // the slow consumer is 2 behind, 3 with the Gap: 5 left under the bound
    attempts[0]!.options.onClose(first as never, new ConnectionLostError('cut'))
    await vi.waitFor(() => expect(attempts).toHaveLength(2))
    const connection = new FakeConnection()
    const staged = Array.from({ length: 8 }, (_, i) => notification('a', `staged ${i + 1}`))
    attempts[1]!.settle.resolve({ connection: connection as never, staged, confirmedAt: new Date(), online: (deliver) => void (connection.deliver = deliver) })
    await vi.waitFor(() => expect(l.stats.reconnects).toBe(1))
    const items: string[] = []
    for (let i = 0; i < 8; i++) {
      const item = (await slow.next()).value!
      items.push(item.type === 'Gap' ? 'Gap' : item.payload)
    }
    expect(items).toEqual(['old 1', 'old 2', 'Gap', 'staged 1', 'staged 2', 'staged 3', 'staged 4', 'staged 5'])
    expect(l.stats.maxBacklog).toBe(8)
    connection.deliver(notification('a', 'live'))
    expect(((await slow.next()).value as Notification).payload).toBe('live')
    await l.close()
  })

  test("each attempt is announced with its number, its wait and the previous failure; then it gives up", async () => {
    const l = new Listener({ ...options, reconnect: { minDelay: 4, maxDelay: 4, maxAttempts: 2 } })
    const starting = l.start()
    const first = await succeed()
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
    const again = new Error('refused again')
    attempts[2]!.settle.reject(again)
    await vi.waitFor(() => expect(l.stats.state).toBe('closed'))
    expect(announced).toHaveLength(2)
    expect(errors.map((e) => e.message)).toEqual(['refused', 'refused again', 'gave up after 2 attempts to reconnect'])
    expect(errors[2]!.cause).toBe(again) // the last failure says most about why
  })

  test("a 'reconnecting' handler that closes the listener stops it before any attempt", async () => {
    const l = new Listener(options)
    const starting = l.start()
    const first = await succeed()
    await starting
    l.on('reconnecting', () => void l.close())
    attempts[0]!.options.onClose(first as never, new ConnectionLostError('cut'))
    await new Promise((r) => setTimeout(r, 30))
    expect(attempts).toHaveLength(1)
    expect(l.stats.state).toBe('closed')
  })
})

describe('calls and the connection', () => {
  test('a listen() after close() rejects at once and sends nothing', async () => {
    const { l, connection } = await started()
    await l.close()
    const error = await l.listen('late').catch((e: unknown) => e)
    expect(error).toEqual(new ListenerError('the listener is closed'))
    expect((error as Error).cause).toBeUndefined()
    expect(connection.queries).toEqual([])
  })

  test('close() while a listen() waits for its answer, then the connection drops: it rejects as closed, caused by the drop', async () => {
    const { l, connection } = await started()
    const listening = l.listen('a').catch((e: unknown) => e)
    await vi.waitFor(() => expect(connection.queries).toHaveLength(1))
    const closing = l.close()
    const drop = new ConnectionLostError('dropped')
    connection.queries[0]!.fail(drop)
    const error = await listening
    expect(error).toEqual(new ListenerError('the listener is closed'))
    expect((error as Error).cause).toBe(drop)
    await closing
  })

  test('unlistenAll() whose connection drops is sent again on the next connection', async () => {
    const { l, connection } = await started()
    const unlistening = l.unlistenAll()
    const lost = new ConnectionLostError('dropped')
    expect(await answer(connection, lost)).toBe('UNLISTEN *')
    attempts[0]!.options.onClose(connection as never, lost)
    await vi.waitFor(() => expect(attempts).toHaveLength(2))
    const next = await succeed()
    expect(await answer(next)).toBe('UNLISTEN *')
    await expect(unlistening).resolves.toBeUndefined()
    await l.close()
  })

  test('a connection found closed as it went online is reported lost and replaced', async () => {
    const l = new Listener(options)
    const starting = l.start()
    const dead = new FakeConnection()
    dead.isClosed = true // it closed before the listener could hear of it
    const disconnected: unknown[] = []
    l.on('disconnected', (d) => void disconnected.push(d))
    await succeed(new Date(), dead)
    await starting
    expect(disconnected).toEqual([{ error: new ConnectionLostError('the connection was lost as it opened'), at: expect.any(Date) }])
    await vi.waitFor(() => expect(attempts).toHaveLength(2))
    await succeed()
    await vi.waitFor(() => expect(l.stats).toMatchObject({ state: 'listening', reconnects: 1 }))
    await l.close()
  })

  test('close() while a reconnect attempt runs, which then succeeds: its connection is closed, nothing goes online', async () => {
    const { l, connection } = await started()
    const connected: unknown[] = []
    l.on('connected', (c) => void connected.push(c))
    attempts[0]!.options.onClose(connection as never, new ConnectionLostError('cut'))
    await vi.waitFor(() => expect(attempts).toHaveLength(2))
    const closing = l.close()
    const late = await succeed()
    await closing
    await vi.waitFor(() => expect(late.closes).toBe(1))
    expect(connected).toEqual([])
    expect(l.stats.state).toBe('closed')
  })

  test("a reconnect attempt that fails with something not an Error is reported as a ListenerError naming the reconnect", async () => {
    const { l, connection } = await started()
    const errors: Error[] = []
    l.on('error', (e) => void errors.push(e))
    attempts[0]!.options.onClose(connection as never, new ConnectionLostError('cut'))
    await vi.waitFor(() => expect(attempts).toHaveLength(2))
    attempts[1]!.settle.reject('refused')
    await vi.waitFor(() => expect(errors).toHaveLength(1))
    expect(errors[0]).toEqual(new ListenerError('reconnect: refused'))
    await l.close()
  })
})

describe('handlers that return promises', () => {
  test('they hold the socket at highWaterMark, and reading resumes as they settle', async () => {
    const { l, connection } = await started({ highWaterMark: 2, lowWaterMark: 0 })
    const pending: (() => void)[] = []
    l.on('notification', () => new Promise<void>((resolve) => pending.push(resolve)))
    connection.deliver(notification('a', '1'))
    connection.deliver(notification('a', '2'))
    expect(l.stats).toMatchObject({ paused: true, backlog: 2 })
    for (const settle of pending) settle()
    await vi.waitFor(() => expect(l.stats).toMatchObject({ paused: false, backlog: 0 }))
    await l.close()
  })

  // Found by reading: the clock started when what was held was released, once on() had
  // returned; with nothing held, a handler that heard notifications first (delivered on the same
  // turn, as a 'connected' handler's new handler hears the re-LISTEN's) found more than
  // lowWaterMark of its own promises pending, kept the clock of a pause older than itself, and
  // was cut off at once, "for 1000 ms", 100 ms after it came.
  test("a 'notification' handler's stall clock starts at on(), even if notifications reach it before on()'s microtask", async () => {
    vi.useFakeTimers() // first: the listener's clock is Date.now as it is made
    try {
      const { l, connection } = await started({ highWaterMark: 4, lowWaterMark: 1, stallTimeout: 1000 })
      const stalled: string[] = []
      // The consumer each ConsumerStalledError names: an iterator's name has its number ("iterator #3 on ...").
      l.on('error', (e) => void stalled.push(((e as { consumer?: string }).consumer ?? e.message).replace(/#\d+/, '#n')))
      l.notifications({ channels: ['a'] }) // never read
      const iterator = 'iterator #n on "a"'
      for (let i = 1; i <= 4; i++) connection.deliver(notification('a', String(i))) // paused now, by the iterator
      expect(l.stats.paused).toBe(true)
      vi.advanceTimersByTime(900)
      l.on('notification', () => new Promise(() => {})) // never settles
      connection.deliver(notification('b', '1')) // on the same turn: two promises pending, over lowWaterMark
      connection.deliver(notification('b', '2'))
      await Promise.resolve() // on()'s microtask
      vi.advanceTimersByTime(100) // 1000 ms after the pause, 100 ms after the handler came
      expect(stalled).toEqual([iterator])
      vi.advanceTimersByTime(899)
      expect(stalled).toEqual([iterator])
      vi.advanceTimersByTime(1) // 1000 ms after on()
      expect(stalled).toEqual([iterator, "'notification' handlers"])
      await l.close()
    } finally {
      vi.useRealTimers()
    }
  })
})

describe("a change feed's channel", () => {
  /** A feed that installs nothing; its look-ups on the notifier (is public.t a table?) answered at once, with no rows. */
  const feed = (l: Listener, channel: string) => {
    vi.spyOn(l, 'query').mockResolvedValue([])
    return changes(l, 'public.t', { install: false, channel })
  }

  test("a feed on a channel the user listens on leaves it the user's", async () => {
    const { l, connection } = await started()
    const listening = l.listen('shared')
    await answer(connection)
    await listening
    const changes = feed(l, 'shared')
    await answer(connection)
    await changes.ready
    expect([...l.channels]).toEqual(['shared'])
    await l.close()
  })

  test("a user's listen() on a feed's channel that fails leaves it the feed's alone", async () => {
    const { l, connection } = await started()
    const changes = feed(l, 'feed')
    await answer(connection)
    await changes.ready
    const listening = l.listen('feed').catch((e: unknown) => e)
    await answer(connection, new DatabaseError({ severity: 'ERROR', code: '53000', message: 'refused' } as never))
    expect(await listening).toBeInstanceOf(DatabaseError)
    expect([...l.channels]).toEqual([])
    await l.close()
  })

  test("a second feed on a feed's channel whose LISTEN fails leaves it hidden", async () => {
    const { l, connection } = await started()
    const first = feed(l, 'feed')
    await answer(connection)
    await first.ready
    const second = feed(l, 'feed')
    await answer(connection, new DatabaseError({ severity: 'ERROR', code: '53000', message: 'refused' } as never))
    await expect(second.ready).rejects.toBeInstanceOf(DatabaseError)
    const listening = l.listen('mine')
    await answer(connection)
    await listening
    expect([...l.channels]).toEqual(['mine'])
    await l.close()
  })
})
