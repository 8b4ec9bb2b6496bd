/**
 * The listener's promise (every notification delivered, or a Gap says it may be lost; never a
 * hang, a spin or a crash) under what a real server does on demand: too many clients while it
 * reconnects, LOGIN revoked, its database dropped, idle_session_timeout, pg_ctl restart -m
 * immediate, a NOTIFY in the very transaction that terminates its backend, and a storm of
 * NOTIFYs on several channels while they are LISTENed again; and a server that drops every new
 * session at once, which must not be hammered at the shortest wait for ever. On a cluster of its
 * own, since these change roles, databases and the server itself.
 */
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest'
import { createListener, type Listener, type ListenerEvents, type ListenerOptions } from '../../src/index.ts'
import type { Gap, ListenerItem } from '../../src/listener/subscription.ts'
import { connect, type ConnectOptions } from '../../src/protocol/index.ts'
import type { Connection } from '../../src/protocol/io/connection.ts'
import { USERS } from '../harness/auth.ts'
import { startCluster, type Cluster } from '../harness/cluster.ts'
import { mustRun, serverUser } from '../harness/run-as.ts'
import { eventually, server } from '../support/connect.ts'
import { superuserOptions } from '../support/faults.ts'
import { collect } from '../support/listener.ts'
import { numberedWriter, unannouncedLosses } from '../support/numbered-writer.ts'

let cluster: Cluster
let admin: Connection
const opened: Listener[] = []

beforeAll(async () => {
  cluster = await startCluster()
  admin = await connect(superuserOptions(cluster.server))
}, 60_000)
afterEach(async () => {
  await Promise.all(opened.splice(0).map((l) => l.close()))
})
afterAll(async () => {
  await admin?.close().catch(() => undefined)
  await cluster?.stop()
})

/** A non-superuser (trust) role: it has no reserved connection slot and can be refused LOGIN. */
const asTrust = (extra: Partial<ConnectOptions> = {}): ConnectOptions => superuserOptions(cluster.server, { user: USERS.trust.user, ...extra })

async function listen(options: ListenerOptions): Promise<Listener> {
  const l = await createListener({ heartbeat: false, reconnect: { minDelay: 50, maxDelay: 400, attemptTimeout: 5000 }, ...options })
  opened.push(l)
  return l
}

/** Records the events that tell a reconnect's story. */
function watch(l: Listener) {
  const events: { name: keyof ListenerEvents; value: unknown }[] = []
  for (const name of ['disconnected', 'reconnecting', 'reconnected', 'error'] as const) l.on(name, (value) => void events.push({ name, value }))
  return events
}

const codeOf = (error: unknown): string | undefined => (error as { code?: string } | undefined)?.code
const reconnectingCodes = (events: ReturnType<typeof watch>) =>
  events.filter((e) => e.name === 'reconnecting').map((e) => codeOf((e.value as ListenerEvents['reconnecting']).error))

async function terminate(pid: number | undefined): Promise<void> {
  await admin.query(`SELECT pg_terminate_backend(${Number(pid)})`)
}

/** One NOTIFY from a connection of its own, as the superuser. */
async function notify(channel: string, payload: string): Promise<void> {
  const c = await connect(superuserOptions(cluster.server))
  try {
    await c.query(`SELECT pg_notify('${channel}', '${payload}')`)
  } finally {
    await c.close()
  }
}

const payloads = (items: ListenerItem[]) => items.map((i) => (i.type === 'Gap' ? 'Gap' : i.payload))

describe('refused while it reconnects', () => {
  test('53300 "too many clients": it keeps retrying with backoff, and once a slot is free comes back with a Gap', { timeout: 20_000 }, async () => {
    const l = await listen(asTrust())
    await l.listen('slots')
    const events = watch(l)
    l.on('error', () => {}) // each failed attempt is reported there too
    const heard = collect(l.notifications())
    // Every slot a non-superuser may take (max_connections less the superusers' reserve), taken
    // by another role; then the listener's own, freed as its backend goes. It may not log in
    // meanwhile, or its first attempt could win that slot back.
    const hog = () => connect(superuserOptions(cluster.server, { user: USERS.password.user, password: USERS.password.password }))
    const hogs: Connection[] = []
    const fill = async () => {
      for (;;) {
        const taken = await hog().catch((error: unknown) => error)
        if (taken instanceof Error) return expect(codeOf(taken)).toBe('53300')
        hogs.push(taken as Connection)
      }
    }
    try {
      await fill()
      await admin.query(`ALTER ROLE ${USERS.trust.user} NOLOGIN`)
      const full = hogs.length
      await terminate(l.processId)
      await eventually(async () => (await fill(), hogs.length > full), 10_000)
      const refused = reconnectingCodes(events).length
      await admin.query(`ALTER ROLE ${USERS.trust.user} LOGIN`)
      await eventually(() => reconnectingCodes(events).slice(refused).filter((c) => c === '53300').length >= 3, 15_000)
      expect(l.stats.state).not.toBe('closed')
    } finally {
      await admin.query(`ALTER ROLE ${USERS.trust.user} LOGIN`)
      await Promise.all(hogs.map((h) => h.close()))
    }
    await eventually(() => events.some((e) => e.name === 'reconnected'), 15_000)
    await notify('slots', 'back')
    await eventually(() => heard.items.length === 2)
    expect(payloads(heard.items)).toEqual(['Gap', 'back'])
  })

  test('LOGIN revoked: it retries with backoff, reports 28000 each time, and comes back with a Gap when LOGIN is granted again', { timeout: 20_000 }, async () => {
    const l = await listen(asTrust())
    await l.listen('login')
    const events = watch(l)
    l.on('error', () => {})
    const heard = collect(l.notifications())
    await admin.query(`ALTER ROLE ${USERS.trust.user} NOLOGIN`)
    try {
      await terminate(l.processId)
      await eventually(() => reconnectingCodes(events).filter((c) => c === '28000').length >= 3, 15_000)
      // Each refusal is a failed attempt: the waits keep doubling, it does not spin.
      const attempts = events.filter((e) => e.name === 'reconnecting').map((e) => (e.value as ListenerEvents['reconnecting']).attempt)
      expect(attempts).toEqual(attempts.map((_, i) => i + 1))
    } finally {
      await admin.query(`ALTER ROLE ${USERS.trust.user} LOGIN`)
    }
    await eventually(() => events.some((e) => e.name === 'reconnected'), 15_000)
    await notify('login', 'back')
    await eventually(() => heard.items.length === 2)
    expect(payloads(heard.items)).toEqual(['Gap', 'back'])
  })

  test('its database dropped WITH (FORCE): 3D000 on every attempt; made again, it comes back with a Gap', { timeout: 20_000 }, async () => {
    await admin.query('CREATE DATABASE pglisten_dropped')
    const l = await listen(superuserOptions(cluster.server, { database: 'pglisten_dropped' }))
    await l.listen('dropped')
    const events = watch(l)
    l.on('error', () => {})
    const heard = collect(l.notifications())
    await admin.query('DROP DATABASE pglisten_dropped WITH (FORCE)') // terminates the listener's backend
    await eventually(() => reconnectingCodes(events).filter((c) => c === '3D000').length >= 3, 15_000)
    await admin.query('CREATE DATABASE pglisten_dropped')
    try {
      await eventually(() => events.some((e) => e.name === 'reconnected'), 15_000)
      const c = await connect(superuserOptions(cluster.server, { database: 'pglisten_dropped' }))
      await c.query("SELECT pg_notify('dropped', 'back')")
      await c.close()
      await eventually(() => heard.items.length === 2)
      expect(payloads(heard.items)).toEqual(['Gap', 'back'])
    } finally {
      await l.close()
      await admin.query('DROP DATABASE pglisten_dropped WITH (FORCE)')
    }
  })
})

describe('cut off by the server', () => {
  // idle_session_timeout came with PostgreSQL 14; the matrix runs 13 too (its own cluster is of the same binaries as the shared server).
  test.runIf((server().serverVersion ?? 180000) >= 140000)('idle_session_timeout for its role (FATAL 57P05, unprompted): a Gap, then it listens again', { timeout: 20_000 }, async () => {
    await admin.query(`ALTER ROLE ${USERS.trust.user} SET idle_session_timeout = '500ms'`)
    try {
      const l = await listen(asTrust())
      await l.listen('idle')
      const events = watch(l)
      const heard = collect(l.notifications())
      await eventually(() => events.some((e) => e.name === 'reconnected'), 15_000)
      const lost = events.find((e) => e.name === 'disconnected')!.value as ListenerEvents['disconnected']
      expect(codeOf(lost.error?.cause)).toBe('57P05')
      expect(heard.items[0]).toMatchObject({ type: 'Gap' })
    } finally {
      await admin.query(`ALTER ROLE ${USERS.trust.user} RESET idle_session_timeout`)
    }
  })

  test('pg_ctl restart -m immediate: it reconnects, the Gap first, and hears what comes after', { timeout: 20_000 }, async () => {
    const l = await listen(superuserOptions(cluster.server))
    await l.listen('immediate')
    const events = watch(l)
    l.on('error', () => {}) // attempts while the server starts up are refused (57P03)
    const heard = collect(l.notifications())
    const data = join(cluster.dir, 'data')
    await mustRun(join(cluster.binaries.bin, 'pg_ctl'), ['restart', '-w', '-t', '60', '-s', '-D', data, '-m', 'immediate', '-l', join(cluster.dir, 'postgres.log')], { as: serverUser(), cwd: cluster.dir })
    await admin.close().catch(() => undefined)
    admin = await connect(superuserOptions(cluster.server))
    await eventually(() => events.some((e) => e.name === 'reconnected'), 15_000)
    await notify('immediate', 'after')
    await eventually(() => heard.items.length === 2)
    expect(payloads(heard.items)).toEqual(['Gap', 'after'])
  })

  test('a NOTIFY committed in the transaction that terminates its backend: delivered, or inside the Gap', { timeout: 20_000 }, async () => {
    const l = await listen(superuserOptions(cluster.server))
    await l.listen('doomed')
    const events = watch(l)
    const heard = collect(l.notifications())
    const pid = l.processId
    await admin.query(`BEGIN; SELECT pg_notify('doomed', 'with the kill'); SELECT pg_terminate_backend(${Number(pid)}); COMMIT`)
    const committedAt = Date.now()
    await eventually(() => events.some((e) => e.name === 'reconnected'), 15_000)
    await notify('doomed', 'after')
    await eventually(() => payloads(heard.items).includes('after'))
    const gaps = heard.items.filter((i): i is Gap => i.type === 'Gap')
    expect(gaps).toHaveLength(1)
    if (!payloads(heard.items).includes('with the kill')) expect(gaps[0]!.from.getTime()).toBeLessThanOrEqual(committedAt)
    expect(payloads(heard.items).at(-1)).toBe('after')
  })

  test('a NOTIFY storm on three channels while they are LISTENed again: nothing lost without the Gap', { timeout: 20_000 }, async () => {
    const channels = ['storm a', 'storm b', 'storm c']
    const l = await listen(superuserOptions(cluster.server))
    for (const channel of channels) await l.listen(channel)
    const events = watch(l)
    const per = new Map(channels.map((c) => [c, [] as ListenerItem[]]))
    for (const channel of channels) {
      const items = per.get(channel)!
      void (async () => {
        for await (const item of l.notifications({ channels: [channel] })) items.push(item)
      })()
    }
    const writers = channels.map((c) => numberedWriter(c, superuserOptions(cluster.server), 2))
    await eventually(() => [...per.values()].every((items) => items.length >= 5), 10_000)
    for (let round = 0; round < 3; round++) {
      const before = l.stats.reconnects
      await terminate(l.processId)
      await eventually(() => l.stats.reconnects === before + 1, 10_000)
    }
    // Each writer's last number must be heard only if it was sent after the last reconnect: one
    // sent while the listener was away is inside its Gap.
    const afterRecovery = writers.map((w) => w.sentSoFar() + 1)
    await eventually(() => writers.every((w, i) => w.succeeded().some((n) => n > afterRecovery[i]!)), 10_000)
    const lasts = await Promise.all(writers.map((w) => w.stop()))
    await eventually(() => channels.every((c, i) => per.get(c)!.some((item) => item.type === 'NotificationResponse' && Number(item.payload) === lasts[i])), 10_000)
    expect(events.filter((e) => e.name === 'error')).toEqual([])
    channels.forEach((c, i) => {
      const items = per.get(c)!
      expect(items.filter((item) => item.type === 'Gap')).toHaveLength(3)
      expect(unannouncedLosses(items, writers[i]!.failed(), writers[i]!.sentAt())).toMatchObject({ unannounced: [], duplicated: [], reordered: [] })
    })
  })
})

describe('a server that drops every new session at once', () => {
  // As a watchdog killing the role's sessions, or an idle_session_timeout of a millisecond,
  // would: each reconnect succeeds, LISTENs, and is cut straight away. Counting that as a
  // success (the backoff starting over) made the listener reconnect every minDelay for ever,
  // with maxAttempts never reached.
  test('the waits keep doubling, each loss counts as a failed attempt, and maxAttempts ends it', { timeout: 20_000 }, async () => {
    const l = await listen({ ...superuserOptions(cluster.server), reconnect: { minDelay: 1000, maxDelay: 4000, maxAttempts: 3 } })
    await l.listen('flap')
    const events = watch(l)
    const heard = collect(l.notifications())
    heard.done.catch(() => undefined) // judged below
    // Each kill awaited below, in the test: one still in flight when afterAll closed `admin`
    // was rejected with nobody to hear it (an unhandled rejection, seen in CI's matrix).
    const kills: Promise<void>[] = []
    l.on('reconnected', () => void kills.push(terminate(l.processId)))
    await terminate(l.processId)
    await eventually(() => events.filter((e) => e.name === 'reconnecting').length === 3, 15_000)
    const attempts = events.filter((e) => e.name === 'reconnecting').map((e) => (e.value as ListenerEvents['reconnecting']).attempt)
    expect(attempts).toEqual([1, 2, 3])
    await expect(heard.done).rejects.toThrow('gave up after 3 attempts to reconnect')
    expect(payloads(heard.items)).toEqual(['Gap', 'Gap', 'Gap']) // each reconnect said so, before the end
    await Promise.all(kills)
  })
})
