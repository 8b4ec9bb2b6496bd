/**
 * close() while backpressure holds the socket paused at its hard bound: async handlers whose
 * promises never settle, an iterator nobody reads, and a listen() whose answer waits behind the
 * backlog. Nothing of that may keep close() waiting: it resolves, the listen() rejects, the
 * iterator is done, and no promise left pending resumes anything afterwards.
 */
import { expect, test } from 'vitest'
import { ListenerError } from '../../src/listener/errors.ts'
import { connect } from '../../src/protocol/index.ts'
import { eventually } from '../support/connect.ts'
import { listener, listenerOptions, uniqueChannel } from '../support/listener.ts'

test('close() with the socket paused at 4 × highWaterMark, handler promises pending and a listen() waiting: it resolves, and everything waiting ends', async () => {
  const l = await listener({ highWaterMark: 10, lowWaterMark: 2, stallTimeout: false, poolerCheck: false })
  const channel = uniqueChannel()
  await l.listen(channel)
  l.on('notification', () => new Promise(() => {})) // never settles
  const iterator = l.notifications() // never read
  const sender = await connect(listenerOptions())
  await sender.query(`SELECT pg_notify('${channel}', g::text) FROM generate_series(1, 5000) g`)
  await sender.close()
  await eventually(() => l.stats.paused)
  // Its answer comes after the backlog: the socket is read past highWaterMark, up to the hard bound.
  const waiting = l.listen(uniqueChannel())
  waiting.catch(() => undefined)
  await eventually(() => l.stats.backlog >= 40 && l.stats.paused)
  await l.close()
  await expect(waiting).rejects.toThrow(ListenerError)
  expect(await iterator.next()).toEqual({ value: undefined, done: true })
  expect(l.stats).toMatchObject({ state: 'closed', paused: false })
})
