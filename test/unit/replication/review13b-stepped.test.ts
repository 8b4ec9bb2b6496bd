/**
 * replicate()'s backoff when CopyLiveness takes a silent server for gone (5a39a87), with the
 * wall clock stepped forward meanwhile (NTP, a VM resumed): the silence is measured by that
 * clock, the stream's "up since" by performance.now(), so an hour's step made a connection
 * that streamed for a while "up for 0 ms", a failed attempt. On the model walsender and fake
 * timers, as stream-silent-backoff.test.ts; vi.setSystemTime moves Date alone.
 */
import { afterEach, beforeEach, expect, test, vi } from 'vitest'
import { ReplicationStream } from '../../../src/replication/stream.ts'
import { FakeWalsender } from '../../support/fake-walsender.ts'

const interval = 100

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] })
})
afterEach(() => {
  vi.useRealTimers()
})

async function turns(condition: () => boolean, what: string): Promise<void> {
  for (let turn = 0; !condition(); turn++) {
    if (turn === 1000) throw new Error(`${what}: not after 1000 turns`)
    await new Promise((resolve) => setImmediate(resolve))
  }
}

async function elapse(condition: () => boolean, what: string): Promise<void> {
  for (let ms = 0; !condition(); ms += interval) {
    if (ms > 60_000) throw new Error(`${what}: not within 60 s`)
    await vi.advanceTimersByTimeAsync(interval)
    await new Promise((resolve) => setImmediate(resolve))
  }
}

test('a reconnect that streamed for 500 ms, then went silent across a wall-clock step of an hour, was up 500 ms: the backoff starts over', async () => {
  const server = new FakeWalsender()
  const attempts: number[] = []
  const stream = new ReplicationStream(
    {
      slot: 'stepped',
      publications: ['items'],
      statusInterval: interval,
      receiveTimeout: 1000,
      reconnect: { minDelay: 4, maxDelay: 64, maxAttempts: 1, attemptTimeout: 3_600_000 },
      onReconnect: ({ attempt }) => void attempts.push(attempt),
    },
    server.connect,
  )
  const end: { error?: unknown } = {}
  void stream[Symbol.asyncIterator]().next().then(
    () => undefined,
    (error: unknown) => (end.error = error),
  )
  await stream.ready
  server.drop() // the backoff is at its first wait (4 ms at most)
  await turns(() => attempts.length === 1, 'onReconnect')
  await elapse(() => server.current !== undefined && server.current.copying && !server.current.paused && server.current.quiet, 'the reconnect streaming')
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
