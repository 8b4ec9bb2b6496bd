/**
 * replicate()'s backoff when CopyLiveness takes a silent server for gone: the connection was up
 * only until it was last heard from, not until the verdict receiveTimeout later. On a model
 * walsender (test/support/fake-walsender.ts) whose path can go silent (it lets each connection
 * start streaming, then carries nothing), and on fake timers and clocks: the walsender's own
 * turns (setImmediate) run for real while the clock stands still, so "up for" is exact.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { ConnectionLostError } from '../../../src/protocol/errors.ts'
import { CopyLiveness } from '../../../src/replication/liveness.ts'
import { ReplicationError } from '../../../src/replication/errors.ts'
import { ReplicationStream } from '../../../src/replication/stream.ts'
import { FakeWalsender } from '../../support/fake-walsender.ts'

const interval = 100
const receiveTimeout = 1000

beforeEach(() => {
  // Not setImmediate: the model walsender's turns stand for the socket, and run for real.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] })
})
afterEach(() => {
  vi.useRealTimers()
})

/** A stream on `server`, its onReconnect attempts, and its end (the error it failed with, once it has). */
function open(server: FakeWalsender, maxAttempts: number) {
  const attempts: number[] = []
  const stream = new ReplicationStream(
    {
      slot: 'silent',
      publications: ['items'],
      statusInterval: interval,
      receiveTimeout,
      // attemptTimeout far off: the clock is moved on while a reconnect's turns run, and must
      // not cut one short.
      reconnect: { minDelay: 4, maxDelay: 64, maxAttempts, attemptTimeout: 3_600_000 },
      onReconnect: ({ attempt }) => void attempts.push(attempt),
    },
    server.connect,
  )
  const end: { error?: unknown } = {}
  void stream[Symbol.asyncIterator]().next().then(
    () => (end.error = new Error('the iterator handed out a change or ended without an error')),
    (error: unknown) => (end.error = error),
  )
  return { stream, attempts, end }
}

/** Lets the walsender's turns run, the clock standing still, until `condition` holds. */
async function turns(condition: () => boolean, what: string): Promise<void> {
  for (let turn = 0; !condition(); turn++) {
    if (turn === 1000) throw new Error(`${what}: not after 1000 turns`)
    await new Promise((resolve) => setImmediate(resolve))
  }
}

/** Moves the clock on an interval at a time, a turn between, until `condition` holds. */
async function elapse(condition: () => boolean, what: string): Promise<void> {
  for (let ms = 0; !condition(); ms += interval) {
    if (ms > 60_000) throw new Error(`${what}: not within 60 s`)
    await vi.advanceTimersByTimeAsync(interval)
    await new Promise((resolve) => setImmediate(resolve))
  }
}

/** The newest connection is streaming (a reconnect's look at the slot done), with nothing unread. */
function streaming(server: FakeWalsender): boolean {
  const current = server.current
  return current !== undefined && current.copying && !current.paused && current.quiet
}

describe('a connection taken for gone after receiveTimeout of silence', () => {
  // Found by reading: it counted as up until the verdict, receiveTimeout after it went silent,
  // longer than any wait before it, so a path that lets each walsender start streaming and then
  // carries nothing started the backoff over each time: onReconnect said attempt 1 every
  // receiveTimeout (about 70 s by default), and maxAttempts was never met.
  test('was up only until it was last heard from: silent from its start, each is a failed attempt, the numbers go on, and maxAttempts ends the stream saying it went silent', async () => {
    const server = new FakeWalsender()
    server.silent = true
    const { stream, attempts, end } = open(server, 3)
    await stream.ready
    await elapse(() => end.error !== undefined || attempts.length > 3, 'the stream giving up')
    expect(attempts).toEqual([1, 2, 3])
    expect(server.starts).toHaveLength(4)
    expect(end.error).toBeInstanceOf(ReplicationError)
    expect((end.error as Error).message).toBe('gave up reconnecting after 3 attempts; the last one streamed, and went silent after 0 ms')
    expect((end.error as Error).cause).toBeInstanceOf(ConnectionLostError)
    expect(((end.error as Error).cause as Error).message).toMatch(/^no word from the server in \d+ ms, though asked for one$/)
    await stream.close()
  })

  test('up until it was last heard from, not until it began streaming: heard from 3 ms in, it went silent after 3 ms', async () => {
    const server = new FakeWalsender()
    const { stream, attempts, end } = open(server, 1)
    await stream.ready
    server.drop() // the first connection, lost: the backoff is at its first wait (4 ms at most)
    await turns(() => attempts.length === 1, 'onReconnect')
    await elapse(() => streaming(server), 'the reconnect streaming')
    await vi.advanceTimersByTimeAsync(3)
    server.unpublished() // a keepalive, 3 ms after it began streaming: the last word heard
    await turns(() => server.current!.quiet, 'the keepalive read')
    server.silent = true
    await elapse(() => end.error !== undefined || attempts.length > 1, 'the stream giving up')
    expect(attempts).toEqual([1])
    expect((end.error as Error).message).toBe('gave up reconnecting after 1 attempt; the last one streamed, and went silent after 3 ms')
    await stream.close()
  })

  test('marks only its own connection: the next, lost at once without a silence, was lost, not gone silent', async () => {
    const server = new FakeWalsender()
    const { stream, attempts, end } = open(server, 2)
    await stream.ready
    server.drop()
    await turns(() => attempts.length === 1, 'onReconnect')
    server.silent = true
    await elapse(() => attempts.length === 2, 'the silent reconnect taken for gone')
    server.silent = false
    await elapse(() => streaming(server), 'the next reconnect streaming')
    server.drop()
    await turns(() => end.error !== undefined, 'the stream giving up')
    expect(attempts).toEqual([1, 2])
    expect((end.error as Error).message).toBe('gave up reconnecting after 2 attempts; the last one streamed, and was lost after 0 ms')
    expect(((end.error as Error).cause as Error).message).toBe('the model walsender dropped the connection')
    expect(server.violations).toEqual([])
    await stream.close()
  })

  // Found in review (d631c94): the silence was measured by the wall clock, the stream's "up
  // since" by performance.now(), so a step of the wall clock forward meanwhile (NTP, a VM
  // resumed) of an hour made a connection that streamed for a while "up for 0 ms", a failed
  // attempt. vi.setSystemTime moves Date alone.
  test('across a wall-clock step of an hour: streamed for 500 ms, then silent, it was up 500 ms and the backoff starts over', async () => {
    const server = new FakeWalsender()
    const { stream, attempts, end } = open(server, 1)
    await stream.ready
    server.drop() // the backoff is at its first wait (4 ms at most)
    await turns(() => attempts.length === 1, 'onReconnect')
    await elapse(() => streaming(server), 'the reconnect streaming')
    await vi.advanceTimersByTimeAsync(500)
    server.unpublished() // a keepalive, 500 ms in: the last word heard
    await turns(() => server.current!.quiet, 'the keepalive read')
    server.silent = true
    vi.setSystemTime(Date.now() + 3_600_000)
    await elapse(() => end.error !== undefined || attempts.length > 1, 'the stream taking the server for gone')
    expect((end.error as Error | undefined)?.message).toBeUndefined()
    expect(attempts).toEqual([1, 1])
    await stream.close()
  })
})

describe('CopyLiveness', () => {
  test('tells the gone hook how long the server has been silent: since it was last heard from', () => {
    const gone: { message: string; silentFor: number; at: number }[] = []
    const liveness: CopyLiveness = new CopyLiveness(interval, receiveTimeout, {
      sendStatus: () => undefined,
      paused: () => false,
      gone: (error, silentFor) => {
        gone.push({ message: error.message, silentFor, at: Date.now() })
        liveness.stop() // as the stream's copy, ended by it, does
      },
    })
    liveness.start()
    vi.advanceTimersByTime(30)
    const lastWord = Date.now()
    liveness.heard()
    vi.advanceTimersByTime(1200) // the tick at 1100 (silent 1070 ms, asked at 200) and its verdict a timer later
    expect(gone).toHaveLength(1)
    const [{ message, silentFor, at }] = gone as [(typeof gone)[0]]
    expect(silentFor).toBe(at - lastWord)
    expect(silentFor).toBeGreaterThanOrEqual(receiveTimeout)
    expect(message).toBe(`no word from the server in ${silentFor} ms, though asked for one`)
  })
})
