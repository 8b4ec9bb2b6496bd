/**
 * The listener keeps listening: after its backend is terminated, after a full server restart,
 * when the first host is a hot standby, and when the link dies silently. Each time it
 * reconnects, LISTENs again on every channel, reports the gap, and hears what comes after.
 * The restart and standby tests run clusters of their own, so other test files are unaffected.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createListener, type Listener, type ListenerEvents } from '../../src/index.ts'
import type { Gap, ListenerItem, Notification } from '../../src/listener/subscription.ts'
import { connect } from '../../src/protocol/index.ts'
import { startCluster, type Cluster } from '../harness/cluster.ts'
import { startStandby, type Standby } from '../harness/standby.ts'
import { connectSuperuser, eventually, isolated } from '../support/connect.ts'
import { collect, listener, listenerOptions, uniqueChannel } from '../support/listener.ts'
import { startFaultProxy } from '../support/fault-proxy.ts'

const fast = { reconnect: { minDelay: 50, maxDelay: 1000 } }

/** Records the listener's connection events. */
function watch(l: Listener) {
  const events: { name: string; value: unknown }[] = []
  for (const name of ['connected', 'disconnected', 'reconnected', 'error'] as (keyof ListenerEvents)[]) {
    l.on(name, (value) => void events.push({ name, value }))
  }
  return events
}

/** Sends `payload` on each channel from a connection of its own. */
async function notifyFrom(options: Parameters<typeof connect>[0], channels: string[], payload: string): Promise<void> {
  const c = await connect(options)
  for (const channel of channels) await c.query(`SELECT pg_notify('${channel.replaceAll("'", "''")}', '${payload}')`)
  await c.close()
}

function expectGap(item: ListenerItem | undefined): Gap {
  expect(item).toMatchObject({ type: 'Gap' })
  const gap = item as Gap
  expect(gap.from.getTime()).toBeLessThanOrEqual(gap.to.getTime())
  return gap
}

describe('after pg_terminate_backend', () => {
  test('it reconnects, LISTENs on every channel again, reports the gap, and hears later notifications', async () => {
    const l = await listener(fast)
    const events = watch(l)
    const channels = [uniqueChannel('a'), uniqueChannel('b'), uniqueChannel('c')]
    for (const channel of channels) await l.listen(channel)
    const heard = collect(l.notifications())
    const before = l.processId
    const admin = await connectSuperuser()
    await admin.query(`SELECT pg_terminate_backend(${before})`)
    await admin.close()
    await eventually(() => events.some((e) => e.name === 'reconnected'), 10_000)
    expect(l.processId).not.toBe(before)
    expect(events.map((e) => e.name)).toEqual(['disconnected', 'connected', 'reconnected'])
    expect((events[0]!.value as ListenerEvents['disconnected']).error?.message).toMatch(/terminating connection due to administrator command/)
    await notifyFrom(listenerOptions(), channels, 'after')
    await eventually(() => heard.items.length === 4)
    const gap = expectGap(heard.items[0])
    expect(events[2]!.value).toBe(gap) // the same gap, as event and as item
    expect(heard.items.slice(1).map((n) => (n as Notification).channel).sort()).toEqual([...channels].sort())
    expect(l.stats.reconnects).toBe(1)
  })

  test('listen() called while reconnecting resolves once the new connection listens', async () => {
    const l = await listener(fast)
    const first = uniqueChannel()
    await l.listen(first)
    const admin = await connectSuperuser()
    await admin.query(`SELECT pg_terminate_backend(${l.processId})`)
    await admin.close()
    const second = uniqueChannel()
    await l.listen(second) // may wait for the reconnect
    const heard = collect(l.notifications({ gaps: false }))
    await notifyFrom(listenerOptions(), [first, second], 'x')
    await eventually(() => heard.items.length === 2)
  })
})

describe('on a cluster of its own', () => {
  let cluster: Cluster
  let standby: Standby | undefined
  beforeAll(async () => {
    cluster = await startCluster()
  }, 60_000)
  afterAll(async () => {
    await standby?.stop()
    await cluster?.stop()
  })
  const own = (extra: object = {}) => ({ ...isolated, host: cluster.server.host, port: cluster.server.port, user: cluster.server.superuser.user, database: 'postgres', sslmode: 'disable' as const, ...extra })

  test('after a full server restart it reconnects, reports the gap, and hears later notifications', async () => {
    const l = await createListener(own(fast))
    try {
      const events = watch(l)
      const channel = uniqueChannel()
      await l.listen(channel)
      const heard = collect(l.notifications())
      await l.queueUsage() // the notifier connection is open, and idle, when the server goes
      await cluster.restart()
      await eventually(() => events.some((e) => e.name === 'reconnected'), 20_000)
      // The notifier's old connection died while idle: it is not used again, and nothing fails.
      expect(await l.queueUsage()).toBe(0)
      await l.notify(channel, 'after restart')
      await eventually(() => heard.items.length === 2)
      expectGap(heard.items[0])
      expect(heard.items[1]).toMatchObject({ channel, payload: 'after restart' })
      expect(events.filter((e) => e.name === 'disconnected')).toHaveLength(1)
    } finally {
      await l.close()
    }
  }, 60_000)

  test('it never settles on a hot standby: with the standby listed first, it takes the primary', async () => {
    standby = await startStandby(cluster)
    const onStandby = await connect(own({ port: standby.server.port }))
    expect((await onStandby.query('SELECT pg_is_in_recovery()'))[0]!.rows).toEqual([['t']])
    await expect(onStandby.query('LISTEN x')).rejects.toMatchObject({ code: '25006' }) // what the listener must avoid
    await onStandby.close()
    const l = await createListener(own({ host: '127.0.0.1,127.0.0.1', port: `${standby.server.port},${cluster.server.port}` }))
    const c = await connect(own())
    const clients = async () => (await c.query("SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"))[0]!.rows.map((r) => Number(r[0]))
    try {
      try {
        await l.listen('on the primary')
        expect(await clients()).toContain(l.processId)
        // The notifier's connection also passes the standby first; once on the primary, it is reused.
        await l.notify('on the primary', '1')
        await l.notify('on the primary', '2')
        expect(await clients()).toHaveLength(2) // the listening connection and one notifier connection
      } finally {
        await l.close()
      }
      await eventually(async () => (await clients()).length === 0) // none left behind
    } finally {
      await c.close()
    }
  }, 60_000)

  test('connect() passes over the standby for a primary, and its onClose hears only of the connection it returned', async () => {
    standby ??= await startStandby(cluster)
    const closes: unknown[] = []
    const c = await connect(own({ host: '127.0.0.1,127.0.0.1', port: `${standby.server.port},${cluster.server.port}`, targetSessionAttrs: 'primary', onClose: (e: unknown) => void closes.push(e) }))
    try {
      expect(c.endpoint.port).toBe(cluster.server.port)
      await new Promise((resolve) => setTimeout(resolve, 50)) // the standby's connection, closed by connect(), is gone by now
      expect(closes).toEqual([])
    } finally {
      await c.close()
    }
    expect(closes).toEqual([undefined])
  }, 60_000)
})

describe('liveness', () => {
  test('a connection that goes silent is found dead by the heartbeat, and replaced', async () => {
    const base = listenerOptions()
    const proxy = await startFaultProxy(base.host as string, base.port as number)
    try {
      // A timeout of 1 s: a busy machine's answer must not count as silence (that would be a third connection).
      const l = await listener({ ...fast, host: '127.0.0.1', port: proxy.port, heartbeat: { interval: 300, timeout: 1000 } })
      const events = watch(l)
      const channel = uniqueChannel()
      await l.listen(channel)
      const heard = collect(l.notifications())
      proxy.blackhole() // the open connection now hears nothing, like a NAT that forgot it
      proxy.restore() // but new connections get through
      await eventually(() => events.some((e) => e.name === 'reconnected'), 10_000)
      const lost = events.find((e) => e.name === 'disconnected')!.value as ListenerEvents['disconnected']
      expect(lost.error?.message).toMatch(/heartbeat/)
      await notifyFrom(listenerOptions(), [channel], 'after the silence')
      await eventually(() => heard.items.length === 2)
      expectGap(heard.items[0])
      expect(heard.items[1]).toMatchObject({ payload: 'after the silence' })
      expect(proxy.accepted).toBe(2)
    } finally {
      await proxy.close()
    }
  })
})
