/**
 * A Durable Object that holds one listener open across requests and forwards what it hears to
 * WebSocket clients: the way to LISTEN from Cloudflare Workers. A plain Worker cannot do this:
 * a socket belongs to the request that opened it, and workerd closes it when that request ends
 * (a listener kept in module scope finds its connection lost at the next request, and workerd
 * warns of "a promise resolved from a different request context"). A Durable Object's I/O
 * belongs to the object, so the listener it opens (and reopens after a loss, with no request
 * running) serves every request that reaches it. ../workerd.ts runs this through miniflare;
 * `/global` is there to show that the plain Worker cannot.
 *
 *   GET  /ws?channel=c  (Upgrade: websocket)  LISTEN on c; sends {type:'ready', processId},
 *                                              then {type:'notification', channel, payload,
 *                                              processId} for c and {type:'gap', from, to}
 *   POST /notify?channel=c                    NOTIFY c with the body, through the listener
 *
 * The connection settings are the Worker's bindings (secrets in production), named as libpq's
 * environment variables and handed to pglisten as its env option: PGHOST, PGPORT, PGUSER,
 * PGPASSWORD, PGDATABASE, PGSSLMODE. No nodejs_compat: 'pglisten' resolves to its workerd build.
 */
import { createListener, type Listener } from 'pglisten'

/** The parts of the Workers runtime used here (no @cloudflare/workers-types dependency). */
interface WorkerSocket {
  accept(): void
  send(message: string): void
  close(code?: number, reason?: string): void
  addEventListener(type: 'close' | 'error', handler: () => void): void
}
declare const WebSocketPair: { new (): { 0: WorkerSocket; 1: WorkerSocket } }
interface DurableObjectNamespace {
  idFromName(name: string): unknown
  get(id: unknown): { fetch(request: Request): Promise<Response> }
}

interface Env {
  HUB: DurableObjectNamespace
  [binding: string]: unknown
}

/** The PG* bindings, as pglisten's env option reads them. */
const pgEnvironment = (env: Env) =>
  Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[0].startsWith('PG') && typeof e[1] === 'string'))

export class NotificationHub {
  readonly #env: Env
  /** Opened by the first request, then kept: every later request and socket uses this one. */
  #listener: Promise<Listener> | undefined
  readonly #clients = new Map<WorkerSocket, string>()

  constructor(_state: unknown, env: Env) {
    this.#env = env
  }

  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url)
    const channel = url.searchParams.get('channel')
    if (!channel) return new Response('?channel= is missing\n', { status: 400 })
    const listener = await this.#open()
    if (url.pathname === '/notify' && request.method === 'POST') {
      await listener.notify(channel, await request.text())
      return new Response(null, { status: 204 })
    }
    if (url.pathname !== '/ws' || request.headers.get('Upgrade') !== 'websocket') return new Response('not found\n', { status: 404 })

    await listener.listen(channel) // listening already is fine: LISTEN is idempotent
    const pair = new WebSocketPair()
    const [client, server] = [pair[0], pair[1]]
    server.accept()
    this.#clients.set(server, channel)
    const forget = () => this.#clients.delete(server)
    server.addEventListener('close', forget)
    server.addEventListener('error', forget)
    server.send(JSON.stringify({ type: 'ready', processId: listener.processId }))
    return new Response(null, { status: 101, webSocket: client } as ResponseInit)
  }

  /** The listener, opened once; its forwarding loop outlives the request that opened it. */
  #open(): Promise<Listener> {
    this.#listener ??= createListener({ env: pgEnvironment(this.#env) }).then((listener) => {
      void this.#forward(listener)
      return listener
    })
    // A failed first connection is not kept: the next request tries again.
    this.#listener.catch(() => (this.#listener = undefined))
    return this.#listener
  }

  async #forward(listener: Listener): Promise<void> {
    try {
      for await (const item of listener.notifications()) {
        for (const [socket, channel] of this.#clients) {
          const message = item.type === 'Gap'
            ? { type: 'gap', from: item.from, to: item.to }
            : item.channel === channel ? { type: 'notification', channel, payload: item.payload, processId: item.processId } : undefined
          if (message === undefined) continue
          try {
            socket.send(JSON.stringify(message))
          } catch {
            this.#clients.delete(socket) // closing, not yet forgotten: only this client is dropped
          }
        }
      }
    } catch (error) {
      // The listener gave up (reconnect limits): tell the clients, close it for good, and let
      // the next request open another.
      for (const socket of this.#clients.keys()) socket.close(1011, String(error).slice(0, 120))
      this.#listener = undefined
      await listener.close().catch(() => {})
    }
  }
}

/** A listener kept in a plain Worker's module scope: the wrong way, shown by /global. */
let global: Listener | undefined

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url)
    if (url.pathname === '/global') return tryGlobal(env)
    // Every request for the hub reaches the same object, wherever it came in.
    return env.HUB.get(env.HUB.idFromName('hub')).fetch(request)
  },
}

/** The first call opens a listener in this request; a later call, another request, tries to use it. */
async function tryGlobal(env: Env): Promise<Response> {
  try {
    if (!global) {
      global = await createListener({ env: pgEnvironment(env), reconnect: false })
      return Response.json({ opened: global.processId })
    }
    await global.listen('global') // a LISTEN on the socket the first request opened
    return Response.json({ reused: true })
  } catch (error) {
    return Response.json({ reused: false, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) })
  }
}
