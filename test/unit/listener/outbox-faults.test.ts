/**
 * The outbox reader (src/listener/outbox.ts) when a read or a save fails, over a stand-in for
 * the listener, with fake timers: which wake-ups cut a retry's wait (a Gap, whether it came during
 * the failing read or after it; not a notification), and that a save failing after close() is
 * thrown. On the real server: test/integration/outbox-faults.test.ts.
 */
import { afterEach, expect, test, vi } from 'vitest'
import { Outbox, type OutboxSource } from '../../../src/listener/outbox.ts'
import { Subscription, type Gap, type Notification } from '../../../src/listener/subscription.ts'

const gap: Gap = { type: 'Gap', from: new Date(0), to: new Date(1), cause: undefined }
const notification: Notification = { type: 'NotificationResponse', processId: 1, channel: 'outbox', payload: '' }

afterEach(() => void vi.useRealTimers())

/** An outbox over a table holding event 1, whose reads each wait for the test to settle them. */
function world(closed = () => false, save?: (id: number) => Promise<void>) {
  const wakeUps = new Subscription({ gaps: true })
  const reads: Array<{ fail(): void; succeed(): void }> = []
  const source: OutboxSource = {
    listen: async () => {},
    release: () => {},
    wakeUps: (_, signal) => (signal.addEventListener('abort', () => wakeUps.end()), wakeUps),
    reportError: () => {},
    closed,
  }
  const outbox = new Outbox<number, number>(source, {
    channel: 'outbox',
    read: (after) =>
      new Promise((resolve, reject) => reads.push({ fail: () => reject(new Error('the table is locked')), succeed: () => resolve(after === undefined ? [1] : []) })),
    cursor: (id) => id,
    save: save ?? (() => {}),
    retry: { minDelay: 60_000, maxDelay: 60_000 }, // each wait is drawn from [30 s, 60 s]
  })
  return { wakeUps, reads, outbox }
}

test('a Gap during a read that then fails retries at once; a failure after that still waits its backoff', async () => {
  vi.useFakeTimers()
  const w = world()
  const next = w.outbox.next()
  await vi.advanceTimersByTimeAsync(0)
  expect(w.reads).toHaveLength(1)
  w.wakeUps.offerGap(gap) // the connection came back while the read was under way
  await vi.advanceTimersByTimeAsync(0)
  w.reads[0]!.fail()
  await vi.advanceTimersByTimeAsync(0)
  expect(w.reads).toHaveLength(2) // before: 1, until the whole backoff had passed
  w.reads[1]!.fail() // no Gap this time: the wait is not cut, a broken table is not hammered
  await vi.advanceTimersByTimeAsync(29_999)
  expect(w.reads).toHaveLength(2)
  await vi.advanceTimersByTimeAsync(30_001)
  expect(w.reads).toHaveLength(3)
  w.reads[2]!.succeed()
  expect(await next).toEqual({ value: 1, done: false })
})

test('notifications during a read that then fails do not cut its wait: they are read after it', async () => {
  vi.useFakeTimers()
  const w = world()
  const next = w.outbox.next()
  await vi.advanceTimersByTimeAsync(0)
  for (let i = 0; i < 10; i++) w.wakeUps.offer(notification)
  await vi.advanceTimersByTimeAsync(0)
  w.reads[0]!.fail()
  await vi.advanceTimersByTimeAsync(29_999)
  expect(w.reads).toHaveLength(1)
  await vi.advanceTimersByTimeAsync(30_001)
  expect(w.reads).toHaveLength(2)
  w.reads[1]!.succeed()
  expect(await next).toEqual({ value: 1, done: false })
})

test("a save that fails after the listener's close() is thrown once, then the iteration is done", async () => {
  let closed = false
  const w = world(() => closed, () => Promise.reject(new Error('the listener is closed')))
  const first = w.outbox.next()
  await vi.waitFor(() => expect(w.reads).toHaveLength(1))
  w.reads[0]!.succeed()
  expect(await first).toEqual({ value: 1, done: false })
  closed = true
  w.wakeUps.end() // close() ends the wake-ups; the next next() saves event 1, and that fails
  await expect(w.outbox.next()).rejects.toThrow('the listener is closed') // before: { done: true }
  expect(await w.outbox.next()).toEqual({ value: undefined, done: true })
})
