/**
 * Runs the Workers under workerd through miniflare's Node API: the scenario Worker
 * (workers/scenario-worker.ts) in one request, and the Durable Object example
 * (workers/durable-object.ts) with a WebSocket client. Each is bundled with esbuild as wrangler
 * bundles a Worker: the "workerd" export condition, ES modules, cloudflare:* left to the runtime.
 *
 * workerd verifies a server's certificate against its own trust store only (a Worker cannot
 * pass a CA), so the test CA is added to that store: connect() goes out through the Worker's
 * global outbound service, and miniflare's outboundService sets it to a network service whose
 * tlsOptions.trustedCertificates holds the CA (workerd.capnp, TlsOptions). No nodejs_compat.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { Miniflare, type MiniflareOptions, type WebSocket } from 'miniflare'
import type { TestServer } from '../harness/server.ts'
import { connect, type Connection } from '../../dist/index.js'
import { serverOptions, type ScenarioConfig, type Verdict } from './scenario.ts'

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url))

/** The date the installed workerd was released: the newest compatibility date it knows. */
export function workerdVersion(): string {
  const require = createRequire(import.meta.url)
  const miniflare = JSON.parse(readFileSync(require.resolve('miniflare/package.json'), 'utf8')) as { version: string }
  return `workerd ${compatibilityDate()} (miniflare ${miniflare.version})`
}

function compatibilityDate(): string {
  const require = createRequire(import.meta.url)
  const workerd = JSON.parse(readFileSync(require.resolve('workerd/package.json'), 'utf8')) as { version: string }
  // workerd's version is 1.YYYYMMDD.n
  const day = workerd.version.split('.')[1]!
  return `${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6, 8)}`
}

/** Bundles a Worker the way wrangler does; the bundle must import nothing but cloudflare:*. */
async function bundle(entry: string): Promise<string> {
  const result = await build({
    entryPoints: [here(entry)],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'],
    external: ['cloudflare:*'],
    logLevel: 'silent',
  })
  const code = result.outputFiles[0]!.text
  const outside = [...code.matchAll(/^import .* from ["']([^"']+)["'];?$/gm)].map((m) => m[1]).filter((m) => !m!.startsWith('cloudflare:'))
  if (outside.length > 0) throw new Error(`the bundle of ${entry} imports ${outside.join(', ')}: a Worker without nodejs_compat has none of these`)
  return code
}

/**
 * Miniflare options every Worker here shares: no compatibility flags, and the test CA trusted,
 * or, with `ca` undefined, a trust store with nothing in it.
 */
function workerOptions(script: string, ca: string | undefined): MiniflareOptions {
  return {
    modules: true,
    script,
    compatibilityDate: compatibilityDate(),
    compatibilityFlags: [],
    outboundService: {
      network: {
        // loopback only: the test server is there, and nothing else need be reachable
        allow: ['local'],
        tlsOptions: { trustBrowserCas: false, trustedCertificates: ca === undefined ? [] : [ca] },
      },
    },
  }
}

/** The scenario in one request to the Worker. */
export function runWorkerd(config: ScenarioConfig, ca: string): Promise<Verdict> {
  return runWorker('./workers/scenario-worker.ts', config, ca)
}

/**
 * A Worker whose workerd does not trust the server's certificate: workers/untrusted-worker.ts
 * expects the error that says so (workerd itself reports only "internal error", and logs the
 * reason, "TLS peer's certificate is not trusted", on its standard error: the run shows it).
 */
export function runUntrustedWorkerd(config: ScenarioConfig): Promise<Verdict> {
  return runWorker('./workers/untrusted-worker.ts', config, undefined)
}

/** One request to a Worker, with the configuration as its body and a verdict as its answer. */
async function runWorker(entry: string, config: ScenarioConfig, ca: string | undefined): Promise<Verdict> {
  const mf = new Miniflare(workerOptions(await bundle(entry), ca))
  try {
    const response = await mf.dispatchFetch('http://worker/', { method: 'POST', body: JSON.stringify(config) })
    const text = await response.text()
    if (!response.ok) return { ok: false, steps: [], error: `the Worker answered ${response.status}: ${text}` }
    return JSON.parse(text) as Verdict
  } finally {
    await mf.dispose()
  }
}

/**
 * The Durable Object example: WebSocket clients of the object hear NOTIFYs sent from Node; the
 * listener the first request opened serves later requests, and reconnects with none running.
 */
export async function runDurableObject(config: ScenarioConfig, server: TestServer): Promise<Verdict> {
  const started = Date.now()
  const steps: string[] = []
  let step = 'start'
  const pass = (what: string) => steps.push(`${String(Date.now() - started).padStart(5)} ms  ${what}`)
  const base = workerOptions(await bundle('./workers/durable-object.ts'), server.tls!.ca)
  let node: Connection | undefined
  const mf = new Miniflare({
    ...base,
    durableObjects: { HUB: 'NotificationHub' },
    // As a deployed Worker has them: bindings (the password a secret), named as libpq's variables.
    bindings: {
      PGHOST: config.host,
      PGPORT: String(config.port),
      PGUSER: config.user,
      PGPASSWORD: config.password,
      PGDATABASE: config.database,
      PGSSLMODE: 'verify-full',
    },
  } as MiniflareOptions)
  // NOTIFY and pg_terminate_backend from Node, over TLS, as another client of the database would.
  const opening = connect({
    ...serverOptions(config),
    sslmode: 'verify-full',
    sslrootcert: { pem: config.ca },
  })
  const sockets: WebSocket[] = []
  const suffix = Math.random().toString(36).slice(2, 8)
  const [first, second] = [`orders ✓ ${suffix}`, `jobs 🔔 ${suffix}`]
  const notify = (channel: string, payload: string) => node!.query(`SELECT pg_notify(${literal(channel)}, ${literal(payload)})`)
  const open = async (channel: string) => {
    const response = await mf.dispatchFetch(`http://hub/ws?channel=${encodeURIComponent(channel)}`, { headers: { Upgrade: 'websocket' } })
    const socket = response.webSocket
    check(response.status === 101 && socket, `the upgrade was answered ${response.status}: ${await response.text()}`)
    sockets.push(socket)
    const inbox = messages(socket)
    socket.accept()
    return inbox
  }

  try {
    step = "Node's own connection"
    node = await opening
    step = 'a WebSocket client; the object opens its listener'
    const a = await open(first)
    const ready = await a.next('ready')
    check(ready.type === 'ready' && typeof ready.processId === 'number', `expected ready, got ${JSON.stringify(ready)}`)
    pass(`${step}: backend ${ready.processId}`)

    step = 'a NOTIFY from Node reaches the WebSocket'
    await notify(first, 'from Node 🔔 ✓')
    expectNotification(await a.next('the notification'), first, 'from Node 🔔 ✓')
    pass(step)

    step = 'a second client, another request: the same listener'
    const b = await open(second)
    const again = await b.next('ready')
    check(again.processId === ready.processId, `backend ${again.processId}: the listener was not kept (was ${ready.processId})`)
    pass(step)

    step = "listener.notify() from a third request (POST /notify)"
    const posted = await mf.dispatchFetch(`http://hub/notify?channel=${encodeURIComponent(second)}`, { method: 'POST', body: 'through the object 🦀' })
    check(posted.status === 204, `POST /notify answered ${posted.status}: ${await posted.text()}`)
    expectNotification(await b.next('the notification'), second, 'through the object 🦀')
    pass(step)

    step = "pg_terminate_backend of the object's listener, no request running"
    await node!.query(`SELECT pg_terminate_backend(${ready.processId})`)
    const gaps = [await a.next('the gap'), await b.next('the gap')]
    check(gaps.every((g) => g.type === 'gap'), `expected gaps, got ${JSON.stringify(gaps)}`)
    await notify(first, 'after the gap 𝄞')
    expectNotification(await a.next('the notification after the gap'), first, 'after the gap 𝄞')
    pass(`${step}: Gap to both clients, later notifications heard`)

    step = "a plain Worker's listener used by a later request"
    const opened = (await (await mf.dispatchFetch('http://hub/global')).json()) as { opened?: number }
    check(typeof opened.opened === 'number', `the first request did not open a listener: ${JSON.stringify(opened)}`)
    const reused = (await (await mf.dispatchFetch('http://hub/global')).json()) as { reused: boolean; error?: string }
    check(!reused.reused, 'a later request used the socket of an earlier one: workerd allowed it')
    // workerd closed the first request's socket when that request ended, and warns about it (printed above)
    pass(`${step}: refused (${reused.error})`)
    return { ok: true, steps }
  } catch (error) {
    return { ok: false, steps, error: `${step}: ${error instanceof Error ? error.message : String(error)}` }
  } finally {
    for (const socket of sockets) socket.close(1000)
    await node?.close()
    await mf.dispose()
  }
}

interface Message {
  type: string
  processId?: number
  channel?: string
  payload?: string
}

/** A WebSocket's messages, taken one at a time, each within a few seconds. */
function messages(socket: WebSocket): { next(what: string): Promise<Message> } {
  const queue: Message[] = []
  const waiting: ((m: Message) => void)[] = []
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as Message
    const take = waiting.shift()
    if (take) take(message)
    else queue.push(message)
  })
  return {
    next: (what) =>
      new Promise((resolve, reject) => {
        const queued = queue.shift()
        if (queued) return resolve(queued)
        const timer = setTimeout(() => reject(new Error(`waited 10 s for ${what}`)), 10_000)
        waiting.push((m) => (clearTimeout(timer), resolve(m)))
      }),
  }
}

function expectNotification(message: Message, channel: string, payload: string): void {
  check(
    message.type === 'notification' && message.channel === channel && message.payload === payload,
    `expected ${JSON.stringify(payload)} on ${JSON.stringify(channel)}, got ${JSON.stringify(message)}`,
  )
}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message)
}

function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`
}
