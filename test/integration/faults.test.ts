/**
 * The fault suite (RELIABILITY.md): each fault of test/support/faults.ts injected under a
 * listener on clusters of its own, while a writer on a direct connection sends numbered
 * notifications every 20 ms. For each fault the listener must
 * - find it (a 'disconnected' event) and recover (a 'reconnected' event, with its Gap);
 * - signal the Gap before anything heard on the new connection;
 * - lose nothing without that Gap: between two notifications with no Gap between them, every
 *   number in between is one the writer could not send (its query failed);
 * - hear what is sent after recovery.
 * The times are measured, not asserted: with PGLISTEN_FAULT_REPORT=path each test appends its
 * figures there as a JSON line (`npm run reliability:faults` runs the suite and tabulates them).
 */
import { appendFileSync } from 'node:fs'
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest'
import { createListener, type Listener } from '../../src/index.ts'
import type { ListenerItem } from '../../src/listener/subscription.ts'
import { startCluster, type Cluster } from '../harness/cluster.ts'
import { eventually } from '../support/connect.ts'
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts'
import { faults, superuserOptions, type Fault, type FaultWorld } from '../support/faults.ts'
import { numberedWriter, unannouncedLosses } from '../support/numbered-writer.ts'

const channel = 'pglisten_faults'
let primary: Cluster
let secondary: Cluster
let proxy: FaultProxy
let listener: Listener | undefined

beforeAll(async () => {
  ;[primary, secondary] = await Promise.all([startCluster(), startCluster()])
  proxy = await startFaultProxy(primary.server.host, primary.server.port)
}, 60_000)

afterEach(async () => {
  await listener?.close()
  listener = undefined
  proxy.restore()
  proxy.cut()
})

afterAll(async () => {
  await proxy?.close()
  await Promise.all([primary?.stop(), secondary?.stop()])
})

/** The listener under test: through the proxy to the primary, then (for failover) the secondary. */
function listen(fault: Fault): Promise<Listener> {
  const hosts = fault.permanent ? { host: '127.0.0.1,127.0.0.1', port: `${proxy.port},${secondary.server.port}` } : { host: '127.0.0.1', port: proxy.port }
  return createListener({
    ...superuserOptions(primary.server),
    ...hosts,
    heartbeat: { interval: 500 },
    reconnect: { minDelay: 50, maxDelay: 500, attemptTimeout: 1000 },
  })
}

// failover stops the primary for good: it goes last.
describe.each(faults.map((f) => [f.name, f] as const))('%s', (_, fault) => {
  test(`${fault.what}: found, recovered, the Gap first, nothing lost without it, later notifications heard`, { timeout: 60_000 }, async () => {
    const l = (listener = await listen(fault))
    const events: { name: string; at: number }[] = []
    l.on('disconnected', () => void events.push({ name: 'disconnected', at: Date.now() }))
    l.on('reconnected', () => void events.push({ name: 'reconnected', at: Date.now() }))
    l.on('error', () => {}) // reported, and judged by what arrives
    // What the handler hears, with the listening connection it came on (the handler runs as the
    // socket is read, so `processId` is that connection's), and where the Gap falls among it.
    const log: ({ processId: number | undefined } | 'gap')[] = []
    l.on('notification', () => void log.push({ processId: l.processId }))
    l.on('reconnected', () => void log.push('gap'))
    const items: ListenerItem[] = []
    void (async () => {
      for await (const item of l.notifications()) items.push(item)
    })()
    await l.listen(channel)
    const firstPid = l.processId

    const writer = numberedWriter(channel, superuserOptions(primary.server))
    await eventually(() => items.length >= 5, 10_000)
    const world: FaultWorld = { primary, secondary, proxy, listenerPid: () => firstPid }
    const injectedAt = Date.now()
    const { healed } = await fault.inject(world)
    if (fault.permanent) writer.moveTo(superuserOptions(secondary.server))
    await eventually(() => events.some((e) => e.name === 'reconnected'), 40_000)
    await healed
    const recoveredAt = events.find((e) => e.name === 'reconnected')!.at
    const afterRecovery = writer.sentSoFar() + 1
    await eventually(() => writer.succeeded().some((n) => n > afterRecovery), 10_000)
    const last = await writer.stop()
    await eventually(() => items.some((i) => i.type === 'NotificationResponse' && Number(i.payload) === last), 10_000)

    // Found, then recovered, once each.
    expect(events.map((e) => e.name)).toEqual(['disconnected', 'reconnected'])
    expect(l.processId).not.toBe(firstPid)
    // The Gap is the iterator's one Gap, and the handler's log has it before anything from the new connection.
    expect(items.filter((i) => i.type === 'Gap')).toHaveLength(1)
    const gapAt = log.indexOf('gap')
    expect(log.slice(0, gapAt).every((e) => e !== 'gap' && e.processId === firstPid)).toBe(true)
    expect(log.slice(gapAt + 1).every((e) => e !== 'gap' && e.processId === l.processId)).toBe(true)
    // Nothing lost without the Gap, nothing twice, nothing out of order.
    const losses = unannouncedLosses(items, writer.failed(), writer.sentAt())
    expect(losses).toMatchObject({ unannounced: [], duplicated: [], reordered: [] })
    // Everything sent after recovery was heard.
    const heard = new Set(items.flatMap((i) => (i.type === 'NotificationResponse' ? [Number(i.payload)] : [])))
    expect(writer.succeeded().filter((n) => n >= afterRecovery && !heard.has(n))).toEqual([])

    const report = process.env.PGLISTEN_FAULT_REPORT
    if (report) {
      const figures = {
        fault: fault.name,
        detectMs: events[0]!.at - injectedAt,
        recoverMs: recoveredAt - injectedAt,
        gapFirst: true,
        announcedLost: losses.announced,
        heardAfterRecovery: true,
        serverVersion: primary.server.serverVersion,
      }
      appendFileSync(report, JSON.stringify(figures) + '\n')
    }
  })
})
