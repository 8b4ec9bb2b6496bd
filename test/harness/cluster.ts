// Starts a throwaway PostgreSQL cluster in a temp folder: initdb, TLS files, roles made in
// single-user mode, then `pg_ctl start`; stop() shuts it down and removes the folder, as does a
// start that fails (unless the folder is to be kept).
// Imports node: modules and the other harness modules (never src/: no client is needed).

import { type ChildProcess, spawn } from 'node:child_process'
import { rmSync } from 'node:fs'
import { appendFile, chmod, chown, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { type Socket, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SUPERUSER, USERS, checkStoredKinds, pgHbaConf, rolesSql, storedKindsSql } from './auth.ts'
import { type PostgresBinaries, findPostgresBinaries } from './postgres-binaries.ts'
import { type OsUser, mustRun, runSync, serverUser } from './run-as.ts'
import type { TestServer } from './server.ts'
import { singleUser } from './single-user.ts'
import { machineTmpdir } from './temp-folder.ts'
import { makeTls } from './tls.ts'

export interface ClusterOptions {
  binaries?: PostgresBinaries
  /**
   * keep the temp folder (data and log) after stop or a failed start, for a look afterwards; it
   * is then made in the machine's temporary folder, which outlives the run's (temp-folder.ts)
   */
  keep?: boolean
}

export interface Cluster {
  server: TestServer
  binaries: PostgresBinaries
  /** the temp folder: data/, tls/, postgres.log and the Unix socket */
  dir: string
  /** pg_ctl restart: every connection is cut, and the server comes back on the same port. */
  restart(): Promise<void>
  /** pg_ctl stop -m fast: every connection is cut, and nothing answers on the port until up(). */
  down(): Promise<void>
  /** pg_ctl start, after down(). */
  up(): Promise<void>
  stop(): Promise<void>
  /** the same, synchronously: for exit and signal handlers, where nothing asynchronous finishes */
  stopSync(): void
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const as = serverUser()
  const binaries = options.binaries ?? (await findPostgresBinaries(as))
  const dir = await mkdtemp(join(options.keep ? machineTmpdir() : tmpdir(), 'pglisten-'))
  await chmod(dir, 0o755) // clients of any user must reach the socket in it
  if (as) await chown(dir, as.uid, as.gid)
  const data = join(dir, 'data')
  const logFile = join(dir, 'postgres.log')
  const pg = (program: string, args: string[]) => mustRun(join(binaries.bin, program), args, { as, cwd: dir })
  const watchdog = startWatchdog(join(binaries.bin, 'pg_ctl'), data, dir, as, options.keep ?? false)
  const stopSync = once(() => {
    watchdog.kill('SIGKILL')
    stopServer(binaries.bin, data, as)
    if (options.keep) console.error(`pglisten: kept the test cluster's folder ${dir}`)
    else rmSync(dir, { recursive: true, force: true })
  })

  try {
    // initdb takes about a second; the certificates are made meanwhile.
    const [tls] = await Promise.all([
      makeTls(join(dir, 'tls'), USERS.cert.user, as),
      // --no-sync: a throwaway cluster needs no fsync; C locale: same behaviour everywhere.
      pg('initdb', ['-D', data, '-U', SUPERUSER.user, '-A', 'trust', '-E', 'UTF8', '--no-locale', '--no-sync']),
    ])
    const facts = await singleUser(binaries.bin, data, [
      ...rolesSql(),
      storedKindsSql(),
      // tcn ships as contrib; CREATE EXTENSION loads its shared library, so this proves the
      // extension really works here. Dropped again to leave the database as initdb made it.
      'CREATE EXTENSION tcn',
      'DROP EXTENSION tcn',
      "SELECT current_setting('server_version_num') AS server_version_num",
    ], as)
    checkStoredKinds(facts)

    const ipv6 = await canListen('::1', 0).then(Boolean)
    const port = await freePort(ipv6)
    await appendFile(join(data, 'postgresql.conf'), postgresqlConf({ port, ipv6, dir, tls }))
    await writeFile(join(data, 'pg_hba.conf'), pgHbaConf())
    await pg('pg_ctl', ['start', '-w', '-t', '60', '-s', '-D', data, '-l', logFile])

    const server: TestServer = {
      kind: 'embedded',
      host: '127.0.0.1',
      port,
      socketDir: dir,
      ipv6,
      database: 'postgres',
      superuser: SUPERUSER,
      serverVersion: Number(facts.get('server_version_num')),
      users: USERS,
      tls: { caFile: tls.caFile, ca: tls.ca, clientCertFile: tls.clientCertFile, clientKeyFile: tls.clientKeyFile, serverName: tls.serverName },
      logFile,
    }
    const restart = async () => {
      await withLog(logFile, pg('pg_ctl', ['restart', '-w', '-t', '60', '-s', '-D', data, '-m', 'fast', '-l', logFile]))
    }
    const down = async () => {
      await pg('pg_ctl', ['stop', '-w', '-t', '60', '-s', '-D', data, '-m', 'fast'])
    }
    const up = async () => {
      await withLog(logFile, pg('pg_ctl', ['start', '-w', '-t', '60', '-s', '-D', data, '-l', logFile]))
    }
    return { server, binaries, dir, restart, down, up, stop: async () => stopSync(), stopSync }
  } catch (error) {
    watchdog.kill('SIGKILL') // the folder is removed here, or kept for a look
    stopServer(binaries.bin, data, as) // in case pg_ctl started it but gave up waiting
    const log = await readFile(logFile, 'utf8').catch(() => '(no log)')
    const tail = log.trimEnd().split('\n').slice(-30).join('\n')
    // The folder holds the TLS keys; the log's tail goes into the error instead.
    if (!options.keep) rmSync(dir, { recursive: true, force: true })
    const kept = options.keep ? `its folder is kept: ${dir}` : 'PGLISTEN_KEEP_CLUSTER=1 keeps its folder'
    throw new Error(
      `PostgreSQL ${binaries.version} test cluster did not start; ${kept}\n` +
        `${error instanceof Error ? error.message : String(error)}\n--- last lines of ${logFile} ---\n${tail}`,
      { cause: error },
    )
  }
}

interface ConfInput {
  port: number
  ipv6: boolean
  dir: string
  tls: { caFile: string; serverCertFile: string; serverKeyFile: string }
}

function postgresqlConf(o: ConfInput): string {
  const q = (s: string) => `'${s.replaceAll("'", "''")}'`
  // Each setting exists from PostgreSQL 13 on. Appended to initdb's file: the last one wins.
  return `
# --- pglisten test harness (test/harness/cluster.ts) ---
port = ${o.port}
listen_addresses = ${q(o.ipv6 ? '127.0.0.1,::1' : '127.0.0.1')}
unix_socket_directories = ${q(o.dir)}
max_connections = 100
shared_buffers = 16MB

# a throwaway cluster: durability buys nothing, and costs time
fsync = off
synchronous_commit = off
full_page_writes = off

ssl = on
ssl_cert_file = ${q(o.tls.serverCertFile)}
ssl_key_file = ${q(o.tls.serverKeyFile)}
ssl_ca_file = ${q(o.tls.caFile)}

# logical replication (pglisten/replication): the WAL must carry what decoding needs, and
# two-phase tests need prepared transactions; room for the slots and walsenders tests open
wal_level = logical
max_wal_senders = 20
max_replication_slots = 20
max_prepared_transactions = 10

# 13's default is md5: say it, so ALTER ROLE ... PASSWORD in a test means SCRAM everywhere
password_encryption = 'scram-sha-256'

# stderr, which pg_ctl -l sends to postgres.log; connections too, to see which auth ran
logging_collector = off
log_destination = 'stderr'
log_min_messages = warning
log_connections = on
log_line_prefix = '%m [%p] %q%u@%d '
`
}

/** pg_ctl stop: fast (roll back, disconnect, checkpoint) then, if that hangs, immediate. */
function stopServer(bin: string, data: string, as?: OsUser): void {
  const pgCtl = join(bin, 'pg_ctl')
  const fast = runSync(pgCtl, ['stop', '-w', '-t', '20', '-s', '-D', data, '-m', 'fast'], { as })
  // A failed stop may just mean it was not running; only if `status` says it is (exit 0), insist.
  if (fast.code !== 0 && runSync(pgCtl, ['status', '-D', data], { as }).code === 0) {
    runSync(pgCtl, ['stop', '-w', '-t', '20', '-s', '-D', data, '-m', 'immediate'], { as })
  }
}

/**
 * Starts watchdog.mjs, which stops the cluster if this process dies without stop(): SIGKILL,
 * a crash, a signal during startup. It holds a pipe from us whose end of file is our death;
 * both ends are unref'd so that it never keeps this process alive.
 */
function startWatchdog(pgCtl: string, data: string, dir: string, as: OsUser | undefined, keep: boolean): ChildProcess {
  const script = fileURLToPath(new URL('./watchdog.mjs', import.meta.url))
  const args = [script, pgCtl, data, dir, String(as?.uid ?? ''), String(as?.gid ?? ''), keep ? '1' : '']
  const child = spawn(process.execPath, args, { detached: true, stdio: ['pipe', 'ignore', 'ignore'] })
  child.unref()
  ;(child.stdin as Socket | null)?.unref()
  return child
}

/**
 * A port free on 127.0.0.1 (and ::1 when used); PostgreSQL must bind the same port on both.
 * Drawn below the kernel's ephemeral range (Linux: 32768 to 60999), not from it as port 0
 * would be: while a cluster restarts (cluster.restart()), its port is free, and an outgoing
 * connection of a test running beside it could be given it as its local port, so that the
 * server could not bind it again (pg_ctl restart failed so once, 2026-12-07).
 */
export async function freePort(ipv6: boolean): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * 22_000)
    if ((await canListen('127.0.0.1', port)) && (!ipv6 || (await canListen('::1', port)))) return port
  }
  throw new Error('found no TCP port free on both 127.0.0.1 and ::1')
}

/** Listens on host:port and closes again; resolves the bound port, or 0 if it cannot. */
function canListen(host: string, port: number): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer()
    s.once('error', () => resolve(0))
    s.listen({ host, port, exclusive: true }, () => {
      const bound = (s.address() as { port: number }).port
      s.close(() => resolve(bound))
    })
  })
}

/** A server that would not start again says why only in its log: its last lines join the error. */
async function withLog(logFile: string, started: Promise<unknown>): Promise<void> {
  try {
    await started
  } catch (error) {
    const log = await readFile(logFile, 'utf8').catch(() => '')
    throw new Error(`${(error as Error).message}\n${log.split('\n').slice(-12).join('\n')}`, { cause: error })
  }
}

function once(fn: () => void): () => void {
  let done = false
  return () => {
    if (!done) (done = true), fn()
  }
}
