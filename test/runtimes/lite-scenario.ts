/**
 * pglisten/lite's scenario, which every runtime runs after the listener's (scenario.ts): SCRAM
 * over verified TLS with the lite connection, LISTEN on a non-ASCII channel, Unicode payloads,
 * the listener's backend killed, the Gap, notifications after it, close(). Runtime-neutral: it
 * is handed the built module (dist/lite.js, or dist/lite-workers.js under workerd).
 */
import type * as Lite from '../../src/lite.ts'
import { AFTER, BEFORE, STEP_TIMEOUT, closeAll, errorText, expect, literal, within, type ScenarioConfig, type Verdict } from './scenario.ts'

/** What the scenario uses of pglisten/lite, written out: the module it is handed is dist/'s, not src's. */
export interface LiteModule {
  connect(options: Lite.LiteOptions): Promise<{ readonly processId: number | undefined; query(sql: string): Promise<{ rows: readonly (readonly (string | null)[])[] }[]>; close(): Promise<void> }>
  createListener(options: Lite.LiteListenerOptions): Promise<{
    listen(channel: string): Promise<void>
    notifications(): AsyncIterator<Lite.LiteItem>
    close(): Promise<void>
  }>
}

export async function runLiteScenario(lite: LiteModule, config: ScenarioConfig): Promise<Verdict> {
  const started = Date.now()
  const steps: string[] = []
  let step = 'start'
  const pass = (what: string) => steps.push(`${String(Date.now() - started).padStart(5)} ms  lite: ${what}`)
  const opened: { close(): Promise<void> }[] = []
  try {
    const options = {
      host: config.host,
      port: config.port,
      database: config.database,
      user: config.user,
      password: config.password,
      sslmode: 'verify-full' as const,
      ...(config.ownTrustStore ? {} : { ca: config.ca }),
    }

    step = 'connect: SCRAM over TLS, verify-full'
    const admin = await lite.connect(options)
    opened.push(admin)
    const rows = async (sql: string) => (await admin.query(sql))[0]?.rows ?? []
    expect((await rows('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()'))[0]?.[0] === 't', 'the connection is not on TLS')
    pass(step)

    step = 'createListener, LISTEN on a non-ASCII channel'
    const listener = await lite.createListener({ ...options, reconnect: { minDelay: 50, maxDelay: 500 } })
    opened.push(listener)
    const channel = `lite ñandú ${config.runtime} ${Math.random().toString(36).slice(2, 8)}`
    await listener.listen(channel)
    const items = listener.notifications()
    const next = async (what: string): Promise<Lite.LiteItem> => {
      const result = await within(items.next(), STEP_TIMEOUT, `waited ${STEP_TIMEOUT} ms for ${what}`)
      expect(!result.done, `the notifications ended while waiting for ${what}`)
      return result.value
    }
    const hear = async (payload: string) => {
      const item = await next(`the notification ${JSON.stringify(payload)}`)
      expect(item.type === 'NotificationResponse' && item.channel === channel && item.payload === payload, `expected ${JSON.stringify(payload)}, got ${JSON.stringify(item)}`)
    }
    pass(step)

    step = 'Unicode payloads, from another session'
    for (const payload of BEFORE) await admin.query(`SELECT pg_notify(${literal(channel)}, ${literal(payload)})`)
    for (const payload of BEFORE) await hear(payload)
    pass(`${step}: ${BEFORE.length} heard exactly, in order`)

    step = "pg_terminate_backend of the listener's backend, and the Gap"
    const killed = await rows(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = ${literal(`LISTEN "${channel}"`)}`)
    expect(killed.length === 1 && killed[0]![0] === 't', `pg_terminate_backend found ${killed.length} backends listening on the channel`)
    const gap = await next('the Gap after the reconnect')
    expect(gap.type === 'Gap' && gap.from.getTime() <= gap.to.getTime(), `expected a Gap, got ${JSON.stringify(gap)}`)
    pass(step)

    step = 'notifications after the Gap'
    for (const payload of AFTER) await admin.query(`SELECT pg_notify(${literal(channel)}, ${literal(payload)})`)
    for (const payload of AFTER) await hear(payload)
    pass(`${step}: ${AFTER.length} heard`)

    step = 'close'
    await closeAll(listener, admin, items)
    pass(step)
    return { ok: true, steps }
  } catch (error) {
    await Promise.allSettled(opened.map((c) => c.close()))
    return { ok: false, steps, error: `${step}: ${errorText(error)}` }
  }
}

/** Both verdicts as one: the steps of each, and the first failure. */
export function both(first: Verdict, second: Verdict): Verdict {
  const error = first.error ?? second.error
  return { ok: first.ok && second.ok, steps: [...first.steps, ...second.steps], ...(error !== undefined ? { error } : {}) }
}
