/**
 * The three listeners that compare.ts puts under the same faults, each used the way its
 * documentation shows for a long-lived listener and set up for resilience with the options it
 * documents, and what each tells the application, translated into one vocabulary (`Signal`).
 * Runs in a child process of its own (compare-child.ts); imports pglisten's source, pg-listen
 * (on pg) and postgres, the benchmark's dev dependencies.
 */

export type ClientName = 'pglisten' | 'pg-listen' | 'postgres.js'
export const clientNames: readonly ClientName[] = ['pglisten', 'pg-listen', 'postgres.js']

/** Where to listen: the hosts in the order to try them, and a name to find the backend by. */
export interface Target {
  hosts: { host: string; port: number }[]
  user: string
  database: string
  channel: string
  /** application_name: how compare.ts finds the listening backend's process ID. */
  applicationName: string
}

/**
 * What a client told the application, in the order it did, timed with Date.now():
 * - notice: it found trouble (an event, a callback, an error);
 * - listening: it listens again after a loss (its own "reconnected" signal);
 * - loss: it says that notifications may have been lost (pglisten's Gap);
 * - crash: an uncaught exception or unhandled rejection in the client's process.
 */
export type Signal =
  | { type: 'ready'; at: number }
  | { type: 'notification'; at: number; payload: string }
  | { type: 'notice' | 'listening' | 'crash'; at: number; what: string }
  | { type: 'loss'; at: number; what: string; from: number; to: number }

export interface Running {
  close(): Promise<void>
}

type Report = (signal: Signal) => void
type Drive = (target: Target, report: Report) => Promise<Running>

/** What each client is given beyond where to connect: recorded with the results. */
export const settings: Record<ClientName, string> = {
  pglisten:
    "createListener({ sslmode: 'disable', heartbeat: { interval: 1000 } (timeout defaults to the interval), " +
    "reconnect: { minDelay: 100, maxDelay: 1000, attemptTimeout: 2000 } }); listener.on('notification' | 'disconnected' | " +
    "'reconnecting' | 'reconnected' | 'gap' | 'error'); multi-host: host 'h1,h2', port 'p1,p2'",
  'pg-listen':
    'createSubscriber({ ssl: false, connectionTimeoutMillis: 2000, query_timeout: 1000 } (pg Client options; pg-listen forces keepAlive: true), ' +
    '{ paranoidChecking: 1000, retryInterval: n => min(100 * 2^n, 1000), retryLimit: Infinity, retryTimeout: Infinity, parse: String }); ' +
    "events.on('notification' | 'reconnect' | 'connected' | 'error'); pg has no multi-host: the first host only",
  'postgres.js':
    "postgres('postgres://user@h1:p1[,h2:p2]/db', { ssl: false, connect_timeout: 2, onnotice: () => {} }); " +
    'sql.listen(channel, onnotify, onlisten); keep_alive left at its default (60 s TCP keepalive, not in the README)',
}

const now = () => Date.now()

export const drivers: Record<ClientName, Drive> = {
  /** createListener and its events; the Gap comes with 'reconnected' and as 'gap'. */
  async pglisten(target, report) {
    const { createListener } = await import('../../src/index.ts')
    const listener = await createListener({
      env: {},
      passfile: '/nonexistent/pglisten-compare-pgpass',
      host: target.hosts.map((h) => h.host).join(','),
      port: target.hosts.map((h) => h.port).join(','),
      user: target.user,
      database: target.database,
      applicationName: target.applicationName,
      sslmode: 'disable',
      heartbeat: { interval: 1000 },
      reconnect: { minDelay: 100, maxDelay: 1000, attemptTimeout: 2000 },
    })
    listener.on('notification', (n) => report({ type: 'notification', at: now(), payload: n.payload }))
    listener.on('disconnected', ({ error }) => report({ type: 'notice', at: now(), what: `'disconnected': ${error?.message ?? 'no error'}` }))
    listener.on('reconnecting', ({ attempt }) => report({ type: 'notice', at: now(), what: `'reconnecting' attempt ${attempt}` }))
    listener.on('error', (error) => report({ type: 'notice', at: now(), what: `'error': ${error.message}` }))
    listener.on('gap', (gap) => report({ type: 'loss', at: now(), what: 'Gap', from: gap.from.getTime(), to: gap.to.getTime() }))
    listener.on('reconnected', () => report({ type: 'listening', at: now(), what: "'reconnected'" }))
    await listener.listen(target.channel)
    return { close: () => listener.close() }
  },

  /** The README's subscriber: events.on(...), connect(), listenTo(). */
  async 'pg-listen'(target, report) {
    // A CommonJS module with exports.default: import() gives module.exports as `default`.
    const createSubscriber = (await import('pg-listen')).default.default
    const first = target.hosts[0]!
    const subscriber = createSubscriber(
      {
        host: first.host,
        port: first.port,
        user: target.user,
        database: target.database,
        application_name: target.applicationName,
        ssl: false,
        connectionTimeoutMillis: 2000,
        query_timeout: 1000,
      },
      {
        paranoidChecking: 1000,
        retryInterval: (n: number) => Math.min(100 * 2 ** n, 1000),
        retryLimit: Infinity,
        retryTimeout: Infinity,
        parse: String,
      },
    )
    subscriber.events.on('notification', (n) => report({ type: 'notification', at: now(), payload: String(n.payload) }))
    subscriber.events.on('reconnect', (attempt) => report({ type: 'notice', at: now(), what: `'reconnect' attempt ${attempt}` }))
    subscriber.events.on('error', (error) => report({ type: 'notice', at: now(), what: `'error': ${error.message}` }))
    await subscriber.connect()
    await subscriber.listenTo(target.channel)
    // 'connected' came once for connect(); from now on it means "reconnected and LISTENing again".
    subscriber.events.on('connected', () => report({ type: 'listening', at: now(), what: "'connected'" }))
    return { close: () => subscriber.close() }
  },

  /** sql.listen with onlisten, which postgres.js calls again after every reconnect. */
  async 'postgres.js'(target, report) {
    const { default: postgres } = await import('postgres')
    const hosts = target.hosts.map((h) => `${h.host}:${h.port}`).join(',')
    const sql = postgres(`postgres://${encodeURIComponent(target.user)}@${hosts}/${encodeURIComponent(target.database)}`, {
      ssl: false,
      connect_timeout: 2,
      onnotice: () => {},
      connection: { application_name: target.applicationName },
    })
    let listens = 0
    await sql.listen(
      target.channel,
      (payload) => report({ type: 'notification', at: now(), payload }),
      () => {
        if (++listens > 1) report({ type: 'listening', at: now(), what: 'onlisten' })
      },
    )
    return { close: () => sql.end({ timeout: 0 }) }
  },
}
