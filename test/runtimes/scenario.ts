/**
 * The listener scenario every runtime runs (Bun, Deno, workerd): SCRAM over plain TCP and over
 * verified TLS, LISTEN on a non-ASCII channel, Unicode payloads, the listener's backend killed
 * with pg_terminate_backend, the Gap that says so, and notifications heard after it.
 * Runtime-neutral: it is handed the built package's module (Node's or the workerd build), so it
 * imports nothing at run time but types.
 */
import type * as Pglisten from '../../src/index.ts'

/** What the scenario is given: one SCRAM role on the test cluster, and its throwaway CA. */
export interface ScenarioConfig {
  /** which runtime runs it; part of the channel name, so that runs never hear each other */
  runtime: string
  host: string
  port: number
  database: string
  user: string
  password: string
  /** the test CA, PEM text (test/harness/tls.ts) */
  ca: string
  /**
   * Whether the runtime shows the server's certificate to pglisten (Node's TLS in Bun and Deno),
   * so SCRAM can bind to it: channel_binding=require then, and SCRAM-SHA-256-PLUS is asserted.
   */
  channelBinding: boolean
  /**
   * Where the runtime verifies against its own trust store only (workerd): sslrootcert is not
   * passed, and the CA must have been added to that store.
   */
  ownTrustStore: boolean
}

export interface Verdict {
  ok: boolean
  /** each step passed, in order, with its time from the start in ms */
  steps: string[]
  /** the failed step and why */
  error?: string
}

/**
 * What the scenario uses of the package, written out rather than taken from src/: the module it
 * is handed is dist/ (Node's build, or the workerd bundle), whose classes are not src's.
 */
export interface PglistenModule {
  connect(options: ConnectionSettings): Promise<Connection>
  createListener(options: ConnectionSettings & { reconnect?: { minDelay: number; maxDelay: number } }): Promise<Listener>
}

type ConnectionSettings = Pick<
  Pglisten.ConnectOptions,
  'host' | 'port' | 'database' | 'user' | 'password' | 'env' | 'connectTimeout' | 'sslmode' | 'sslrootcert' | 'sslcertmode' | 'channelBinding' | 'requireAuth'
>

interface Connection {
  readonly processId: number | undefined
  readonly encrypted: boolean
  readonly authentication: string
  query(sql: string): Promise<{ rows: readonly (readonly (string | null)[])[] }[]>
  close(): Promise<void>
}

interface Listener {
  readonly processId: number | undefined
  readonly notifierProcessId: Promise<number | undefined>
  readonly channels: ReadonlySet<string>
  listen(channel: string): Promise<void>
  notify(channel: string, payload: string): Promise<void>
  notifications(): AsyncIterator<Item>
  close(): Promise<void>
}

type Item = Pglisten.ListenerItem

/** How long one step may wait for the server (a reconnect included). */
export const STEP_TIMEOUT = 10_000

/** Payloads that need care: two-, three- and four-byte UTF-8 (astral plane: surrogate pairs in JS). */
export const BEFORE = ['héllo wörld ✓ 日本語', '𝄞 𝕳𝖊𝖑𝖑𝖔 😀 🀄 𠜎', 'e\u0301 is not \u00e9', "it's \\ a 'quote' 🔔"]
export const AFTER = ['after the gap: 🦀 ñandú', '𐍈𐌰𐌹 🏳️‍🌈 a ZWJ sequence']

/** Runs the scenario; never throws: a failure comes back as the verdict, with the step it was in. */
/**
 * The connection options every runtime's client uses: the test server, the password given, and
 * nothing from the machine (no PG* variables, so no environment access is needed either).
 */
export function serverOptions(config: ScenarioConfig) {
  return { host: config.host, port: config.port, database: config.database, user: config.user, password: config.password, env: {}, connectTimeout: 10 }
}

export async function runScenario(pg: PglistenModule, config: ScenarioConfig): Promise<Verdict> {
  const started = Date.now()
  const steps: string[] = []
  let step = 'start'
  const pass = (what: string) => steps.push(`${String(Date.now() - started).padStart(5)} ms  ${what}`)
  const opened: { close(): Promise<void> }[] = []

  try {
    const base = serverOptions(config)
    const tls = {
      ...base,
      sslmode: 'verify-full' as const,
      ...(config.ownTrustStore ? {} : { sslrootcert: { pem: config.ca } }),
      // No client certificate: so libpq's default one (~/.postgresql/postgresql.crt) is not
      // looked for, and Deno needs no access to the home folder.
      sslcertmode: 'disable' as const,
      channelBinding: config.channelBinding ? ('require' as const) : ('prefer' as const),
      requireAuth: 'scram-sha-256',
    }
    const scramOverTls = config.channelBinding ? 'SCRAM-SHA-256-PLUS' : 'SCRAM-SHA-256'

    step = 'SCRAM over plain TCP'
    const plain = await pg.connect({ ...base, sslmode: 'disable', requireAuth: 'scram-sha-256' })
    opened.push(plain)
    expect(plain.encrypted === false, 'the plain connection is not encrypted')
    expect(plain.authentication === 'SCRAM-SHA-256', `authenticated with ${plain.authentication}, not SCRAM-SHA-256`)
    await plain.close()
    pass(`${step}: ${plain.authentication}`)

    step = 'SCRAM over TLS, verify-full'
    const admin = await pg.connect(tls)
    opened.push(admin)
    expect(admin.encrypted, 'the connection is not encrypted')
    expect(admin.authentication === scramOverTls, `authenticated with ${admin.authentication}, not ${scramOverTls}`)
    pass(`${step}: ${admin.authentication}${config.channelBinding ? ' (channel binding required)' : ''}`)

    step = 'createListener over TLS'
    const listener = await pg.createListener({ ...tls, reconnect: { minDelay: 50, maxDelay: 500 } })
    opened.push(listener)
    const firstPid = listener.processId
    expect(typeof firstPid === 'number', 'the listener has no backend process ID')
    expect((await value(admin, `SELECT ssl FROM pg_stat_ssl WHERE pid = ${firstPid}`)) === 't', "the listener's backend is not on TLS")
    pass(`${step}: backend ${firstPid}, TLS per pg_stat_ssl`)

    step = 'LISTEN on a non-ASCII channel'
    const channel = `ñandú 🔔 日本 ${config.runtime} ${Math.random().toString(36).slice(2, 8)}`
    expect(new TextEncoder().encode(channel).length < 64, 'the test channel name is too long for NAMEDATALEN')
    await listener.listen(channel)
    expect(listener.channels.has(channel), 'listener.channels lacks the channel')
    const listening = await value(admin, `SELECT count(*) FROM pg_stat_activity WHERE pid = ${firstPid}`)
    expect(listening === '1', "the listener's backend is not in pg_stat_activity")
    pass(`${step}: ${JSON.stringify(channel)}`)

    const items = listener.notifications()
    const next = async (what: string): Promise<Item> => {
      const result = await within(items.next(), STEP_TIMEOUT, `waited ${STEP_TIMEOUT} ms for ${what}`)
      expect(!result.done, `the notifications ended while waiting for ${what}`)
      return result.value
    }
    const hear = async (payload: string, from: number | undefined) => {
      const item = await next(`the notification ${JSON.stringify(payload)}`)
      expect(item.type === 'NotificationResponse', `expected a notification, got ${describe(item)}`)
      if (item.type !== 'NotificationResponse') return
      expect(item.channel === channel, `channel ${JSON.stringify(item.channel)}, expected ${JSON.stringify(channel)}`)
      expect(item.payload === payload, `payload ${JSON.stringify(item.payload)}, expected ${JSON.stringify(payload)}`)
      if (from !== undefined) expect(item.processId === from, `sent by backend ${item.processId}, expected ${from}`)
    }

    step = 'Unicode payloads, from another session'
    for (const payload of BEFORE) await admin.query(`SELECT pg_notify(${literal(channel)}, ${literal(payload)})`)
    for (const payload of BEFORE) await hear(payload, admin.processId)
    pass(`${step}: ${BEFORE.length} heard exactly, in order`)

    step = 'listener.notify()'
    await listener.notify(channel, BEFORE[1]!)
    await hear(BEFORE[1]!, await listener.notifierProcessId)
    pass(step)

    step = "pg_terminate_backend of the listener's backend"
    const killed = await value(admin, `SELECT pg_terminate_backend(${firstPid})`)
    expect(killed === 't', `pg_terminate_backend(${firstPid}) returned ${killed}`)
    pass(step)

    step = 'the Gap'
    const gap = await next('the Gap after the reconnect')
    expect(gap.type === 'Gap', `expected a Gap, got ${describe(gap)}`)
    if (gap.type === 'Gap') expect(gap.from.getTime() <= gap.to.getTime(), 'the Gap ends before it begins')
    const secondPid = listener.processId
    expect(typeof secondPid === 'number' && secondPid !== firstPid, `the backend is still ${secondPid} after the reconnect`)
    expect(listener.channels.has(channel), 'the channel was lost in the reconnect')
    pass(`${step}: reconnected to backend ${secondPid}`)

    step = 'notifications after the Gap'
    for (const payload of AFTER) await admin.query(`SELECT pg_notify(${literal(channel)}, ${literal(payload)})`)
    for (const payload of AFTER) await hear(payload, admin.processId)
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

export class ScenarioFailure extends Error {}

/** Both scenarios' last step: close() the listener and the connection; the iterator must end. */
export async function closeAll(listener: { close(): Promise<void> }, admin: { close(): Promise<void> }, items: AsyncIterator<unknown>): Promise<void> {
  await listener.close()
  await admin.close()
  const ended = await within(items.next(), STEP_TIMEOUT, 'the notifications to end after close()')
  expect(ended.done === true, 'the notifications went on after close()')
}

export function expect(condition: boolean, message: string): asserts condition {
  if (!condition) throw new ScenarioFailure(message)
}

/** The first column of the first row of a query. */
async function value(connection: Connection, sql: string): Promise<string | null | undefined> {
  const results = await connection.query(sql)
  return results[0]?.rows[0]?.[0]
}

/** A SQL string literal; standard_conforming_strings is on (since 9.1), so only ' is doubled. */
export function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`
}

export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new ScenarioFailure(what)), ms)))
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

function describe(item: Item): string {
  return item.type === 'Gap' ? 'a Gap' : `the notification ${JSON.stringify(item.payload)} on ${JSON.stringify(item.channel)}`
}

/** The error and its causes, each with its class name (what a failure report needs). */
export function errorText(error: unknown): string {
  const parts: string[] = []
  for (let e: unknown = error, depth = 0; e !== undefined && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    parts.push(e instanceof ScenarioFailure ? e.message : e instanceof Error ? `${e.name}: ${e.message}` : String(e))
    if (!(e instanceof Error)) break
  }
  return parts.join(' <- caused by ')
}
