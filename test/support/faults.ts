/**
 * The faults of the reliability suite (RELIABILITY.md): each a way a listening connection dies or
 * goes deaf, injected into a world of one or two throwaway clusters and a fault proxy. The fault
 * suite, the no-loss check and the comparison with other clients all inject them from here, so
 * that "the same faults" means the same code.
 * Imports the test harness and support only (and src/protocol for the superuser's connection).
 */
import type { Cluster } from '../harness/cluster.ts'
import type { TestServer } from '../harness/server.ts'
import { connect, type ConnectOptions } from '../../src/protocol/index.ts'
import type { FaultProxy } from './fault-proxy.ts'

export interface FaultWorld {
  /** The cluster the client listens on, through `proxy`. */
  primary: Cluster
  /** A second cluster, listed after the proxy in the client's hosts: where failover leads. */
  secondary?: Cluster | undefined
  proxy: FaultProxy
  /** The listening backend's process ID on the primary, for pg_terminate_backend. */
  listenerPid(): number | undefined
  /** How long `down` keeps the server stopped; default 10 s. */
  downFor?: number
}

export type FaultName = 'terminate' | 'rst' | 'fin' | 'stall' | 'restart' | 'down' | 'stall-reconnect' | 'failover'

export interface Fault {
  name: FaultName
  /** What happens, in a few words, for the tables. */
  what: string
  /** Whether the server goes away too (a writer on it fails meanwhile). */
  hitsServer: boolean
  /** Whether the first host is gone for good, so only the second host brings recovery. */
  permanent: boolean
  /** Injects the fault; resolves once it is in place. What heals it later runs on, in `healed`. */
  inject(world: FaultWorld): Promise<{ healed: Promise<void> }>
}

const now = { healed: Promise.resolve() }
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export const faults: readonly Fault[] = [
  {
    name: 'terminate',
    what: 'pg_terminate_backend on the listening backend',
    hitsServer: false,
    permanent: false,
    async inject(world) {
      const pid = world.listenerPid()
      if (pid === undefined) throw new Error('terminate: no listening backend to terminate')
      const admin = await connect(superuserOptions(world.primary.server))
      try {
        await admin.query(`SELECT pg_terminate_backend(${Number(pid)})`)
      } finally {
        await admin.close()
      }
      return now
    },
  },
  {
    name: 'rst',
    what: 'the proxy resets the connection (RST)',
    hitsServer: false,
    permanent: false,
    inject: async (world) => (world.proxy.cut('rst'), now),
  },
  {
    name: 'fin',
    what: 'the proxy closes the connection (FIN), no ErrorResponse',
    hitsServer: false,
    permanent: false,
    inject: async (world) => (world.proxy.cut('fin'), now),
  },
  {
    name: 'stall',
    what: 'the proxy stops forwarding; the connection stays open',
    hitsServer: false,
    permanent: false,
    inject: async (world) => (world.proxy.stall(), now),
  },
  {
    name: 'restart',
    what: 'pg_ctl restart -m fast',
    hitsServer: true,
    permanent: false,
    inject: async (world) => (await world.primary.restart(), now),
  },
  {
    name: 'down',
    what: 'server stopped (-m fast) for 10 s, then started',
    hitsServer: true,
    permanent: false,
    async inject(world) {
      await world.primary.down()
      return { healed: sleep(world.downFor ?? 10_000).then(() => world.primary.up()) }
    },
  },
  {
    name: 'stall-reconnect',
    what: 'connection reset, then the next connection is accepted and never answered',
    hitsServer: false,
    permanent: false,
    async inject(world) {
      const { proxy } = world
      const before = proxy.accepted
      proxy.newConnections = 'silent'
      proxy.cut('rst')
      // One attempt meets the silence; the ones after it get through. A client that never
      // tries again (it did not notice) gets the proxy back after a minute all the same.
      const healed = (async () => {
        const giveUp = Date.now() + 60_000
        while (proxy.accepted === before && Date.now() < giveUp) await sleep(5)
        proxy.restore()
      })()
      return { healed }
    },
  },
  {
    name: 'failover',
    what: 'first host stopped for good; the second host in the list takes over',
    hitsServer: true,
    permanent: true,
    async inject(world) {
      if (!world.secondary) throw new Error('failover: the world has no second cluster')
      await world.primary.down()
      return now
    },
  },
]

export function fault(name: FaultName): Fault {
  const found = faults.find((f) => f.name === name)
  if (!found) throw new Error(`no fault named ${name}`)
  return found
}

/** The superuser over TCP without TLS, with nothing from the machine's environment. */
export function superuserOptions(server: TestServer, extra: Partial<ConnectOptions> = {}): ConnectOptions {
  return {
    env: {},
    passfile: '/nonexistent/pglisten-test-pgpass',
    host: server.host,
    port: server.port,
    user: server.superuser.user,
    database: server.database,
    sslmode: 'disable',
    connectTimeout: 10,
    ...extra,
  }
}
