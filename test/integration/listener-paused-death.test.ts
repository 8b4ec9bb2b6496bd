/**
 * A listening connection the server ends while backpressure holds its socket paused. A paused
 * socket is not read, so neither the server's FIN nor its FATAL message is seen, and the
 * heartbeat judges nothing while paused (liveness.ts): the end is found once the consumer reads
 * again. What the socket held by then was sent before the end, and is handed on first; what
 * was sent after it went to no connection, and the reconnect's Gap says so.
 */
import { expect, test } from 'vitest'
import { connect } from '../../src/protocol/index.ts'
import type { Gap, Notification } from '../../src/index.ts'
import { connectSuperuser, eventually } from '../support/connect.ts'
import { listener, listenerOptions, uniqueChannel } from '../support/listener.ts'

test('a backend ended while the socket is paused: everything sent before its end is handed on, then the loss is found and the reconnect\'s Gap covers what came after', async () => {
  const l = await listener({ highWaterMark: 10, lowWaterMark: 2, stallTimeout: false, heartbeat: { interval: 200, timeout: 5_000 }, poolerCheck: false, reconnect: { minDelay: 20, maxDelay: 200 } })
  const channel = uniqueChannel()
  await l.listen(channel)
  const heard: string[] = []
  let release!: () => void
  const busy = new Promise<void>((resolve) => (release = resolve))
  const events: string[] = []
  l.on('notification', (n: Notification) => {
    heard.push(n.payload)
    return busy // a consumer still busy: its promises hold the socket paused
  })
  const gap = new Promise<Gap>((resolve) => l.on('gap', resolve))
  l.on('disconnected', () => void events.push('disconnected'))
  const sender = await connect(listenerOptions())
  await sender.query(`SELECT pg_notify('${channel}', g::text) FROM generate_series(1, 100) g`)
  await eventually(() => l.stats.paused)
  const ended = l.processId
  const admin = await connectSuperuser()
  await admin.query(`SELECT pg_terminate_backend(${ended})`)
  // pg_terminate_backend only signals: once the backend is gone, what is sent goes to no
  // connection of the listener's.
  await eventually(async () => (await admin.query(`SELECT count(*) FROM pg_stat_activity WHERE pid = ${ended}`))[0]!.rows[0]![0] === '0')
  const sentAfterTheEnd = Date.now()
  await sender.query(`SELECT pg_notify('${channel}', 'after the end')`)
  await admin.close()
  // Not found while the consumer holds the socket: nothing is read.
  await new Promise((resolve) => setTimeout(resolve, 500))
  expect(events).toEqual([])
  release()
  const { from, to } = await gap
  expect(events).toEqual(['disconnected'])
  // In order, with nothing missing before the last one heard: the socket held them. (All
  // hundred, but for a backend ended before it sent them all, which the Gap covers.) Not the
  // one sent after the end.
  expect(heard.length).toBeGreaterThanOrEqual(10)
  expect(heard).toEqual(Array.from({ length: heard.length }, (_, i) => String(i + 1)))
  // The Gap's window holds the one sent after the end: it says that one may be lost.
  expect(from.getTime()).toBeLessThanOrEqual(sentAfterTheEnd)
  expect(to.getTime()).toBeGreaterThanOrEqual(sentAfterTheEnd)
  expect(l.processId).not.toBe(ended)
  await sender.close()
}, 20_000)
