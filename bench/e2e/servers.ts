/**
 * The servers the end-to-end benchmark runs against: a throwaway PostgreSQL 18 from the test
 * harness (or the one --url names), and the scripted fake server in a process of its own, so
 * that its work never lands in a listener's process.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import { startCluster } from '../../test/harness/cluster.ts'
import type { ServerAddress } from './workloads.ts'

export interface RealServer {
  address: ServerAddress
  /** 'embedded' (the harness's throwaway cluster) or 'url' */
  kind: 'embedded' | 'url'
  stop(): Promise<void>
  stopSync(): void
}

export async function startRealServer(url: string | undefined): Promise<RealServer> {
  if (url !== undefined) {
    const u = new URL(url)
    const address: ServerAddress = {
      host: decodeURIComponent(u.hostname).replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
      port: Number(u.port || 5432),
      user: decodeURIComponent(u.username) || 'postgres',
      database: decodeURIComponent(u.pathname.slice(1)) || decodeURIComponent(u.username) || 'postgres',
      ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    }
    return { address, kind: 'url', stop: async () => {}, stopSync: () => {} }
  }
  const cluster = await startCluster()
  const s = cluster.server
  const address: ServerAddress = { host: s.host, port: s.port, user: s.superuser.user, database: s.database }
  return { address, kind: 'embedded', stop: () => cluster.stop(), stopSync: () => cluster.stopSync() }
}

export class FakeServer {
  private constructor(private readonly child: ChildProcess, readonly address: ServerAddress) {}

  static async start(): Promise<FakeServer> {
    const script = fileURLToPath(new URL('./fake-server.ts', import.meta.url))
    // Under tsx, as the runner is (process.execArgv carries its loader).
    const child = spawn(process.execPath, [...process.execArgv, script], { stdio: ['pipe', 'pipe', 'inherit'] })
    const first = await new Promise<string>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! })
      lines.once('line', (line) => (lines.close(), resolve(line)))
      child.once('exit', (code) => reject(new Error(`the fake server exited (code ${code}) before saying its port`)))
    })
    const port = Number(/^port (\d+)$/.exec(first)?.[1])
    if (!port) throw new Error(`the fake server said ${JSON.stringify(first)}, not its port`)
    return new FakeServer(child, { host: '127.0.0.1', port, user: 'bench', database: 'bench' })
  }

  /** Every connection listening on `channel` gets `count` notifications with `payload`-byte payloads. */
  stream(channel: string, count: number, payload: number): void {
    this.child.stdin!.write(`stream ${channel} ${count} ${payload}\n`)
  }

  stop(): void {
    this.child.stdin!.end()
    this.child.kill()
  }
}
