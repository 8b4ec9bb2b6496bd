/** Skeptic review of 99a61b2: test 7b of listener-promise.test.ts with an async 'error' handler instead of a sync one. */
import { describe, expect, test } from 'vitest'
import type { ConsumerStalledError } from '../../src/listener/errors.ts'
import type { Notification } from '../../src/listener/subscription.ts'
import { connect } from '../../src/protocol/index.ts'
import { eventually } from '../support/connect.ts'
import { collect, listener, listenerOptions, uniqueChannel } from '../support/listener.ts'

async function flood(channel: string, count: number): Promise<void> {
  const c = await connect(listenerOptions())
  await c.query(`SELECT pg_notify('${channel.replaceAll("'", "''")}', i::text) FROM generate_series(1, ${count}) i`)
  await c.close()
}

describe('skeptic 7b variant', () => {
  test('an async error handler (e.g. one that awaits a logger): still one ConsumerStalledError', async () => {
    const l = await listener({ highWaterMark: 4, lowWaterMark: 0, stallTimeout: 200 })
    const channel = uniqueChannel()
    await l.listen(channel)
    const errors: Error[] = []
    l.on('error', async (e) => void errors.push(e)) // the only change from 7b: async
    l.on('notification', () => new Promise(() => {})) // never settles
    const live = collect(l.notifications({ gaps: false }))
    await flood(channel, 60)
    const started = Date.now()
    await eventually(() => live.items.length === 60, 20_000)
    console.log({ ms: Date.now() - started, stalls: l.stats.stalls, errors: errors.length })
    expect(live.items.map((n) => (n as Notification).payload)).toEqual(Array.from({ length: 60 }, (_, i) => String(i + 1)))
    expect(errors.map((e) => (e as ConsumerStalledError).consumer)).toEqual(["'notification' handlers"])
    expect(l.stats.stalls).toBe(1)
    await l.close()
  }, 30_000)
})
