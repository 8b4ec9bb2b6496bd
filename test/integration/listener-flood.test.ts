/**
 * Backpressure: a flood of 200,000 notifications to a consumer that reads slowly. The listener
 * stops reading the socket when the consumer is highWaterMark behind, so the backlog waits in
 * PostgreSQL's queue, not in our memory; nothing is lost and order is kept.
 */
import { expect, test } from 'vitest'
import type { Notification } from '../../src/listener/subscription.ts'
import { connectSuperuser } from '../support/connect.ts'
import { listener, uniqueChannel } from '../support/listener.ts'

const count = 200_000
const highWaterMark = 1_000

test(`a flood of ${count} notifications to a slow consumer keeps the backlog bounded and loses nothing`, async () => {
  const l = await listener({ highWaterMark, heartbeat: false })
  const channel = uniqueChannel('flood')
  await l.listen(channel)
  const iterator = l.notifications({ gaps: false })
  const sender = await connectSuperuser()
  // One transaction: every notification is queued at commit, faster than anyone reads them.
  await sender.query(`SELECT count(pg_notify('${channel}', g::text)) FROM generate_series(1, ${count}) g`)
  await sender.close()

  let expected = 1
  let usageSeen = 0
  for await (const item of iterator) {
    const n = item as Notification
    if (Number(n.payload) !== expected) throw new Error(`expected ${expected}, got ${n.payload}`) // order, nothing lost
    expected++
    // A slow consumer: a pause every 2,000 notifications.
    if (expected % 2_000 === 0) await new Promise((resolve) => setTimeout(resolve, 2))
    if (expected === 20_000) usageSeen = await l.queueUsage() // works while paused (a query overrides the pause)
    if (expected > count) break
  }
  expect(expected - 1).toBe(count)
  const stats = l.stats
  expect(stats.pauses).toBeGreaterThan(0) // backpressure did engage
  // Bounded: the high-water mark plus what one socket read can carry (64 KiB of ~25-byte messages).
  expect(stats.maxBacklog).toBeLessThan(highWaterMark + 64 * 1024 / 20)
  expect(usageSeen).toBeGreaterThanOrEqual(0)
}, 120_000)
