/**
 * A 'notification' handler takes what was held once on() has returned, or earlier, when
 * something else comes first: against the real server, what a user's next line (or a handler
 * of another event) can do between on() and that moment. The first failed before its fix (an
 * iterator made after giving up took what was held from the handler added just before it).
 */
import { describe, expect, test } from 'vitest'
import type { Listener } from '../../src/index.ts'
import type { Gap } from '../../src/listener/subscription.ts'
import { connect } from '../../src/protocol/index.ts'
import { connectSuperuser, eventually } from '../support/connect.ts'
import { listener, listenerOptions, uniqueChannel } from '../support/listener.ts'

async function terminate(l: Listener): Promise<void> {
  const admin = await connectSuperuser()
  await admin.query(`SELECT pg_terminate_backend(${l.processId})`)
  await admin.close()
}

/** A listener on a fresh channel with `payloads` held: heard, and nobody consumes them yet. */
async function holding(l: Listener, ...payloads: string[]): Promise<string> {
  const channel = uniqueChannel()
  await l.listen(channel)
  for (const payload of payloads) await l.notify(channel, payload)
  await eventually(() => l.stats.notifications === payloads.length)
  return channel
}

describe('between on() and the release of what was held', () => {
  test('after giving up, an iterator made on the line after on() leaves what was held to the handler', async () => {
    const l = await listener({ reconnect: false })
    await holding(l, 'held')
    const gaveUp = new Promise<unknown>((resolve) => l.on('error', resolve))
    await terminate(l)
    const error = await gaveUp
    const heard: string[] = []
    l.on('notification', (n) => void heard.push(n.payload))
    const late = l.notifications()
    await expect(late.next()).rejects.toBe(error) // before the fix: 'held', taken from the handler
    expect(heard).toEqual(['held'])
  })

  test('on() then its off() on the next line: what was held stays for the next consumer', async () => {
    const l = await listener()
    await holding(l, '1', '2')
    const heard: string[] = []
    l.on('notification', (n) => void heard.push(n.payload))()
    await null
    expect(heard).toEqual([])
    const iterator = l.notifications()
    expect([(await iterator.next()).value, (await iterator.next()).value]).toMatchObject([{ payload: '1' }, { payload: '2' }])
  })

  test('on() then close() on the next line: the handler hears nothing (close() stops all handlers), and nothing throws', async () => {
    const l = await listener()
    await holding(l, 'held')
    const heard: string[] = []
    const errors: unknown[] = []
    l.on('error', (error) => void errors.push(error))
    l.on('notification', (n) => void heard.push(n.payload))
    await l.close()
    expect(heard).toEqual([])
    expect(errors).toEqual([])
  })

  test.each(['connected', 'reconnected'] as const)("a handler added by a '%s' handler during a reconnect hears what was held before the Gap, and each 'gap' handler hears the Gap once", async (event) => {
    const l = await listener({ reconnect: { minDelay: 20, maxDelay: 200 } })
    await holding(l, 'held')
    const log: string[] = []
    l.on('gap', () => void log.push('gap A'))
    const off = l.on(event, () => {
      off()
      l.on('notification', (n) => void log.push(n.payload))
    })
    l.on('gap', () => void log.push('gap B'))
    const reconnected = new Promise<Gap>((resolve) => l.on('reconnected', resolve))
    await terminate(l)
    await reconnected
    await null
    expect(log).toEqual(['held', 'gap A', 'gap B'])
  })

  test("a handler added by a 'gap' handler during a reconnect hears what was held, and no 'gap' handler hears the Gap twice", async () => {
    const l = await listener({ reconnect: { minDelay: 20, maxDelay: 200 } })
    const channel = await holding(l, 'held')
    const log: string[] = []
    const off = l.on('gap', () => {
      off()
      log.push('gap A')
      l.on('notification', (n) => void log.push(n.payload))
    })
    l.on('gap', () => void log.push('gap B'))
    const reconnected = new Promise<Gap>((resolve) => l.on('reconnected', resolve))
    await terminate(l)
    await reconnected
    await l.notify(channel, 'after')
    await eventually(() => log.includes('after'))
    expect(log).toEqual(['gap A', 'gap B', 'held', 'after'])
  })

  test('on() while what was held keeps the socket paused at highWaterMark, then listen() on the next line: the socket reads again and the handler hears all, in order', async () => {
    const l = await listener({ highWaterMark: 10, lowWaterMark: 2, stallTimeout: false })
    const channel = uniqueChannel()
    await l.listen(channel)
    const c = await connect(listenerOptions())
    await c.query(`SELECT pg_notify('${channel.replaceAll("'", "''")}', i::text) FROM generate_series(1, 100) i`)
    await c.close()
    await eventually(() => l.stats.paused)
    const heard: string[] = []
    l.on('notification', (n) => void heard.push(n.payload))
    await l.listen(uniqueChannel())
    await eventually(() => heard.length === 100)
    expect(heard).toEqual(Array.from({ length: 100 }, (_, i) => String(i + 1)))
    expect(l.stats.paused).toBe(false)
  })
})
