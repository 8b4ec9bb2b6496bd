/**
 * One listening attempt (src/listener/attempt.ts) without a socket: the protocol's connect() is
 * replaced by one the test scripts (it resolves, rejects, or never answers; the connection it
 * gives closes, fails or answers LISTEN when the test says). What a real server does is checked
 * in test/integration; here, the orderings a server produces only by chance.
 */
import { getEventListeners } from 'node:events'
import { afterEach, describe, expect, test, vi } from 'vitest'
import { openListening, type AttemptOptions } from '../../../src/listener/attempt.ts'
import type { Notification } from '../../../src/listener/subscription.ts'
import { ConnectionLostError, DatabaseError } from '../../../src/protocol/errors.ts'
import { abortedError } from '../../../src/protocol/io/attempt-signal.ts'
import { connect, type ConnectOptions } from '../../../src/protocol/io/connect.ts'
import type { Connection } from '../../../src/protocol/io/connection.ts'

vi.mock('../../../src/protocol/io/connect.ts', () => ({ connect: vi.fn() }))

/**
 * A connection as src/protocol/io/connection.ts behaves, reduced to what an attempt uses. As
 * there: abort(reason) fails the session, so a pending query rejects with `reason` at once, and
 * drops the socket, after which onClose(reason) fires; close() on a live connection sends
 * Terminate, the server hangs up, a pending query rejects and onClose(undefined) fires; close()
 * on a connection already failed only waits for it to be gone; a query on a failed one rejects.
 */
class FakeConnection {
  readonly queries: string[] = []
  /** The promise the latest query() returned. */
  lastQuery: Promise<never[]> | undefined
  closeCalls = 0
  readonly closed: Promise<Error | undefined>
  #resolveClosed!: (error: Error | undefined) => void
  #failure: Error | undefined
  #closing = false
  #pending: { resolve(): void; reject(error: Error): void } | undefined

  constructor(private readonly handlers: Pick<ConnectOptions, 'onClose' | 'onNotification'>) {
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve))
  }

  get isClosed(): boolean {
    return this.#closing || this.#failure !== undefined
  }

  query(sql: string): Promise<never[]> {
    if (this.#failure) return Promise.reject(this.#failure)
    this.queries.push(sql)
    this.lastQuery = new Promise((resolve, reject) => (this.#pending = { resolve: () => resolve([]), reject }))
    return this.lastQuery
  }

  abort(reason: Error): void {
    this.#fail(reason, reason)
  }

  async close(): Promise<void> {
    this.closeCalls++
    if (!this.#closing && this.#failure === undefined) {
      this.#closing = true
      this.#fail(new ConnectionLostError('the connection was closed'), undefined)
    } else this.#closing = true
    await this.closed
  }

  /** The server answers the pending query (CommandComplete ... ReadyForQuery). */
  answer(): void {
    this.#takePending().resolve()
  }

  /** The server answers the pending query with an ErrorResponse; the session stays up. */
  refuse(error: DatabaseError): void {
    this.#takePending().reject(error)
  }

  /** The server hangs up (a backend terminated, a restart). */
  lose(error: Error): void {
    this.#fail(error, error)
  }

  /** A NotificationResponse arrives. */
  hear(notification: Notification): void {
    this.handlers.onNotification?.(notification)
  }

  #takePending() {
    const pending = this.#pending
    if (!pending) throw new Error('no query is pending')
    this.#pending = undefined
    return pending
  }

  #fail(failure: Error, reported: Error | undefined): void {
    if (this.#failure) return
    this.#failure = failure
    this.#pending?.reject(failure)
    this.#pending = undefined
    // The socket's close event comes later than the session's failure, never inside it.
    queueMicrotask(() => {
      this.#resolveClosed(reported)
      this.handlers.onClose?.(reported)
    })
  }
}

/** What connect() was given, and the connection it resolved with (if it did). */
interface Connecting {
  options: ConnectOptions
  connection?: FakeConnection
}

/**
 * connect() runs `script` with the options openListening gave it (its signal, onClose,
 * onNotification); `open()` makes the connection the script resolves with.
 */
function connectWith(script: (options: ConnectOptions, open: () => FakeConnection) => Promise<FakeConnection>): Connecting {
  const connecting: Partial<Connecting> = {}
  vi.mocked(connect).mockImplementationOnce(async (options) => {
    const given = options as ConnectOptions
    connecting.options = given
    const connection = await script(given, () => (connecting.connection = new FakeConnection(given)))
    return connection as unknown as Connection
  })
  return connecting as Connecting
}

/** A server that completes the startup at once. */
const opensAtOnce = () => connectWith(async (_options, open) => open())

/** A host that accepts and never answers: connect() settles only when its signal aborts, as the real one does. */
const neverAnswers = () =>
  connectWith(
    ({ signal }) => new Promise((_resolve, reject) => signal!.addEventListener('abort', () => reject(abortedError(signal!)), { once: true })),
  )

function attemptOptions(overrides: Partial<AttemptOptions> = {}): AttemptOptions & { closes: [Connection, Error | undefined][] } {
  const closes: [Connection, Error | undefined][] = []
  return {
    connect: {},
    channels: ['jobs'],
    signal: new AbortController().signal,
    intercept: () => false,
    onClose: (connection, error) => void closes.push([connection, error]),
    closes,
    ...overrides,
  }
}

/** How `promise` stands once everything already under way has run: settled, or still pending. */
async function standing<T>(promise: Promise<T>): Promise<{ value: T } | { error: unknown } | 'pending'> {
  const pending = new Promise<'pending'>((resolve) => setImmediate(() => resolve('pending')))
  return Promise.race([promise.then((value) => ({ value }), (error: unknown) => ({ error })), pending])
}

/** `promise`, its rejection marked handled: the test examines it after the timers have run. */
function examinedLater<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {})
  return promise
}

/** Runs what is already queued (the fake's query being sent follows connect() by a few microtasks). */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve))

function notification(channel: string, payload: string): Notification {
  return { type: 'NotificationResponse', processId: 4242, channel, payload }
}

afterEach(() => {
  vi.useRealTimers()
  vi.mocked(connect).mockReset()
})

describe('openListening', () => {
  test('LISTENs on every channel in one query, each name quoted, and resolves once it is answered', async () => {
    const connecting = opensAtOnce()
    const attempt = openListening(attemptOptions({ channels: new Set(['jobs', 'Orders', 'say "hi"']) }))
    await turn()
    const connection = connecting.connection!
    expect(connection.queries).toEqual(['LISTEN "jobs"; LISTEN "Orders"; LISTEN "say ""hi"""'])
    expect(await standing(attempt)).toBe('pending')
    connection.answer()
    const { connection: opened, staged } = await attempt
    expect(opened).toBe(connection)
    expect(staged).toEqual([])
    expect(connection.isClosed).toBe(false)
  })

  test('an attempt with no channels sends no query', async () => {
    const connecting = opensAtOnce()
    // Under a mutant that sends one anyway, the attempt would wait for its answer forever.
    const outcome = await standing(openListening(attemptOptions({ channels: [] })))
    expect(connecting.connection!.queries).toEqual([])
    expect(outcome).toEqual({ value: expect.objectContaining({ connection: connecting.connection, staged: [] }) })
  })

  test('confirmedAt is taken once connected, before the LISTEN is sent', async () => {
    const connecting = opensAtOnce()
    const before = new Date()
    const attempt = openListening(attemptOptions())
    await turn()
    const sent = new Date()
    connecting.connection!.answer()
    const { confirmedAt } = await attempt
    expect(confirmedAt.getTime()).toBeGreaterThanOrEqual(before.getTime())
    expect(confirmedAt.getTime()).toBeLessThanOrEqual(sent.getTime())
  })

  test('what is heard before online() is staged in order, then online() delivers directly; intercepted ones go nowhere', async () => {
    const connecting = opensAtOnce()
    const attempt = openListening(attemptOptions({ intercept: (n) => n.channel === 'self-test' }))
    await turn()
    const connection = connecting.connection!
    connection.hear(notification('jobs', '1'))
    connection.hear(notification('self-test', 'x'))
    connection.answer()
    const { staged, online } = await attempt
    connection.hear(notification('jobs', '2')) // after the answer, before online(): still staged
    const delivered: Notification[] = []
    online((n) => void delivered.push(n))
    connection.hear(notification('jobs', '3'))
    connection.hear(notification('self-test', 'y'))
    expect(staged.map((n) => n.payload)).toEqual(['1', '2'])
    expect(delivered.map((n) => n.payload)).toEqual(['3'])
  })

  test('staging stops at stageLimit: later ones are dropped, the first ones kept in order', async () => {
    const connecting = opensAtOnce()
    const attempt = openListening(attemptOptions({ stageLimit: 2 }))
    await turn()
    const connection = connecting.connection!
    for (const payload of ['1', '2', '3', '4']) connection.hear(notification('jobs', payload))
    connection.answer()
    const { staged } = await attempt
    expect(staged.map((n) => n.payload)).toEqual(['1', '2'])
  })

  test('a connection lost after connect() resolved is reported to onClose with that connection and the error', async () => {
    const connecting = opensAtOnce()
    const options = attemptOptions()
    const attempt = openListening(options)
    await turn()
    const connection = connecting.connection!
    connection.answer()
    await attempt
    const lost = new ConnectionLostError('the server closed the connection')
    connection.lose(lost)
    await connection.closed
    expect(options.closes).toEqual([[connection, lost]])
  })

  test('a connection that closes during its startup is not reported to onClose: it was never online', async () => {
    const refused = new ConnectionLostError('the server closed the connection')
    // As Connection.open does when startup fails: the socket's close is heard, then open() rejects.
    connectWith(async ({ onClose }) => {
      onClose?.(refused)
      throw refused
    })
    const options = attemptOptions()
    await expect(openListening(options)).rejects.toBe(refused)
    expect(options.closes).toEqual([])
  })

  test('aborting during LISTEN rejects at once with the abort error and closes the connection', async () => {
    const connecting = opensAtOnce()
    const caller = new AbortController()
    const attempt = openListening(attemptOptions({ signal: caller.signal }))
    await turn()
    const connection = connecting.connection!
    expect(connection.queries).toHaveLength(1) // the LISTEN, unanswered
    caller.abort('close()')
    const outcome = await standing(attempt)
    expect(outcome).toEqual({ error: expect.any(ConnectionLostError) })
    const error = (outcome as { error: ConnectionLostError }).error
    expect(error.message).toBe('the connection attempt was aborted')
    expect(rootCause(error)).toBe('close()')
    expect(connection.isClosed).toBe(true)
    expect(await connection.closed).toBe(error)
  })

  test('a signal aborted as connect() resolves: rejects with the abort error, closes the connection, sends no LISTEN', async () => {
    const caller = new AbortController()
    // The caller's abort lands after the connection is made, before the attempt goes on (connect()
    // no longer watches its signal then): a listener's close() at that moment.
    const connecting = connectWith(async (_options, open) => {
      const connection = open()
      caller.abort('close()')
      return connection
    })
    const outcome = await standing(openListening(attemptOptions({ signal: caller.signal })))
    const connection = connecting.connection!
    expect(outcome).toEqual({ error: expect.any(ConnectionLostError) })
    const error = (outcome as { error: ConnectionLostError }).error
    expect(error.message).toBe('the connection attempt was aborted')
    expect(rootCause(error)).toBe('close()')
    expect(connection.queries).toEqual([])
    expect(connection.closeCalls).toBe(1)
    expect(await connection.closed).toBeUndefined() // closed with Terminate, not dropped
  })

  test('a LISTEN the server refuses rejects the attempt with its error and closes the connection', async () => {
    const connecting = opensAtOnce()
    const attempt = openListening(attemptOptions())
    await turn()
    const connection = connecting.connection!
    // What a hot standby answers: LISTEN is refused during recovery.
    const refused = new DatabaseError({ severity: 'ERROR', code: '25006', message: 'cannot execute LISTEN during recovery' })
    connection.refuse(refused)
    await expect(attempt).rejects.toBe(refused)
    expect(connection.closeCalls).toBe(1)
    expect(await connection.closed).toBeUndefined()
  })

  test('a connection lost during LISTEN rejects the attempt with that loss', async () => {
    const connecting = opensAtOnce()
    const attempt = openListening(attemptOptions())
    await turn()
    const connection = connecting.connection!
    const lost = new ConnectionLostError('the server closed the connection')
    connection.lose(lost)
    await expect(attempt).rejects.toBe(lost)
    expect(connection.isClosed).toBe(true)
  })

  test('once LISTEN is answered, an abort of the attempt no longer reaches the connection', async () => {
    const connecting = opensAtOnce()
    const caller = new AbortController()
    const attempt = openListening(attemptOptions({ signal: caller.signal }))
    await turn()
    const connection = connecting.connection!
    // close() comes right after the answer, before the attempt has settled: a reaction to the
    // LISTEN's promise registered now runs just after the attempt's own `await` of it, which
    // registered first. By then the attempt has let go of the connection, though its signal
    // still follows the caller's until openListening settles.
    void connection.lastQuery!.then(() => caller.abort('close()'))
    connection.answer()
    const { connection: opened } = await attempt
    expect(opened).toBe(connection)
    expect(connection.isClosed).toBe(false)
  })
})

describe('bounded (the deadline)', () => {
  test('an attempt that fails fast for its own reason rejects with that error, not with the deadline', async () => {
    const refused = new DatabaseError({ severity: 'FATAL', code: '28P01', message: 'password authentication failed for user "app"' })
    connectWith(async () => {
      throw refused
    })
    await expect(openListening(attemptOptions({ timeout: 5_000 }))).rejects.toBe(refused)
  })

  test("a deadline's error says so and has the abort error as cause", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    neverAnswers()
    const attempt = openListening(attemptOptions({ timeout: 1_000 }))
    await vi.advanceTimersByTimeAsync(999)
    expect(await standing(attempt)).toBe('pending')
    await vi.advanceTimersByTimeAsync(1)
    const result = await standing(attempt)
    expect(result).toEqual({ error: expect.any(ConnectionLostError) })
    const error = (result as { error: ConnectionLostError }).error
    expect(error.message).toBe('the attempt did not finish within 1000 ms')
    // The cause is what connect() rejected with: the abort, itself caused by the TimeoutError.
    expect(error.cause).toBeInstanceOf(ConnectionLostError)
    expect((error.cause as Error).message).toBe('the connection attempt was aborted')
    expect(rootCause(error)).toMatchObject({ name: 'TimeoutError' })
  })

  test('a deadline reached during LISTEN rejects saying so and closes the connection', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const connecting = opensAtOnce()
    const attempt = examinedLater(openListening(attemptOptions({ timeout: 1_000 })))
    await turn()
    const connection = connecting.connection!
    expect(connection.queries).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1_000)
    const outcome = await standing(attempt)
    expect(outcome).toEqual({ error: expect.any(ConnectionLostError) })
    const error = (outcome as { error: ConnectionLostError }).error
    expect(error.message).toBe('the attempt did not finish within 1000 ms')
    expect(await connection.closed).toBe(error.cause)
  })

  test('no timer and no listener on the caller\'s signal outlive an attempt that succeeded', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    opensAtOnce()
    const caller = new AbortController()
    await openListening(attemptOptions({ channels: [], signal: caller.signal, timeout: 1_000 }))
    expect(vi.getTimerCount()).toBe(0)
    expect(getEventListeners(caller.signal, 'abort')).toEqual([])
  })

  test('no timer and no listener on the caller\'s signal outlive an attempt that failed', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const refused = new DatabaseError({ severity: 'FATAL', code: '3D000', message: 'database "nope" does not exist' })
    connectWith(async () => {
      throw refused
    })
    const caller = new AbortController()
    await expect(openListening(attemptOptions({ signal: caller.signal, timeout: 1_000 }))).rejects.toBe(refused)
    expect(vi.getTimerCount()).toBe(0)
    expect(getEventListeners(caller.signal, 'abort')).toEqual([])
  })
})

/** The end of an error's `cause` chain. */
function rootCause(error: unknown): unknown {
  let current = error
  while (current instanceof Error && current.cause !== undefined) current = current.cause
  return current
}
