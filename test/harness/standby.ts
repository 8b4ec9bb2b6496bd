// A hot standby of a test cluster, for tests that must not settle on one: the primary is
// stopped cleanly, its data folder copied, and the copy started with standby.signal. With no
// primary_conninfo it streams nothing, but it is in recovery and accepts read-only connections
// (hot_standby is on by default), so LISTEN there fails as on any standby.
// Imports the other harness modules only.

import { appendFile, chmod, chown, mkdtemp, writeFile } from 'node:fs/promises'
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, type Cluster } from './cluster.ts'
import { mustRun, serverUser } from './run-as.ts'
import type { TestServer } from './server.ts'

export interface Standby {
  server: TestServer
  stop(): Promise<void>
}

export async function startStandby(primary: Cluster): Promise<Standby> {
  const as = serverUser()
  const bin = (program: string) => join(primary.binaries.bin, program)
  const primaryData = join(primary.dir, 'data')
  const dir = await mkdtemp(join(tmpdir(), 'pglisten-standby-'))
  const data = join(dir, 'data')
  const logFile = join(dir, 'postgres.log')
  const stop = async () => {
    await mustRun(bin('pg_ctl'), ['stop', '-w', '-s', '-D', data, '-m', 'immediate'], { as }).catch(() => undefined)
    rmSync(dir, { recursive: true, force: true })
  }

  try {
    await chmod(dir, 0o755)
    if (as) await chown(dir, as.uid, as.gid)
    // A clean shutdown leaves a consistent copy: the standby is ready as soon as it starts.
    await mustRun(bin('pg_ctl'), ['stop', '-w', '-s', '-D', primaryData, '-m', 'fast'], { as })
    try {
      await mustRun('cp', ['-a', primaryData, data], { as })
    } finally {
      await mustRun(bin('pg_ctl'), ['start', '-w', '-t', '60', '-s', '-D', primaryData, '-l', join(primary.dir, 'postgres.log')], { as })
    }
    const port = await freePort(false)
    await writeFile(join(data, 'standby.signal'), '')
    await appendFile(join(data, 'postgresql.conf'), `\n# --- hot standby copy ---\nport = ${port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '${dir}'\n`)
    await mustRun(bin('pg_ctl'), ['start', '-w', '-t', '60', '-s', '-D', data, '-l', logFile], { as })
    return { server: { ...primary.server, port, socketDir: dir, ipv6: false, logFile }, stop }
  } catch (error) {
    await stop() // the caller gets no Standby to stop, and the copy holds the roles' password hashes
    throw error
  }
}
