/**
 * Issue 12 (RELIABILITY.md): pglisten, pg-listen (on pg) and postgres.js's sql.listen under the
 * same faults, those of test/support/faults.ts, injected by the same code. For each client and
 * fault, in a process of its own, the client listens through a fault proxy to a throwaway
 * primary (and for failover is also given a second cluster, if it takes a host list) while a
 * direct connection sends numbered NOTIFYs every 50 ms; then the fault is injected, and the case
 * records when the client noticed, when it listened again, whether it said that notifications
 * may have been lost, and which numbers went missing with or without that signal.
 * Writes a markdown table and the JSON to bench/results/reliability-compare-DATE.{md,json}.
 *
 *   npm run reliability:compare -- [--bound 60] [--clients a,b] [--faults x,y] [--out PATH-STEM]
 *
 * Imports the test harness and support (clusters, proxy, faults, writer) and compare-*.ts.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { connect } from '../../src/protocol/index.ts'
import { startCluster, type Cluster } from '../../test/harness/cluster.ts'
import { startFaultProxy } from '../../test/support/fault-proxy.ts'
import { faults, superuserOptions, type Fault } from '../../test/support/faults.ts'
import { numberedWriter, type NumberedWriter } from '../../test/support/numbered-writer.ts'
import { clientNames, settings, type ClientName, type Signal, type Target } from './compare-clients.ts'
import { judge, type CaseRecord } from './compare-score.ts'
import { report } from './compare-report.ts'

const { values } = parseArgs({
  options: {
    bound: { type: 'string', default: '60' },
    clients: { type: 'string', default: clientNames.join(',') },
    faults: { type: 'string', default: faults.map((f) => f.name).join(',') },
    out: { type: 'string' },
  },
})
const boundMs = Number(values.bound) * 1000
if (!(boundMs > 0)) throw new RangeError(`--bound must be a positive number of seconds, not ${values.bound}`)
const clients = values.clients.split(',') as ClientName[]
for (const c of clients) if (!clientNames.includes(c)) throw new RangeError(`no client named ${c}; choose from ${clientNames.join(', ')}`)
const chosen = values.faults.split(',')
for (const f of chosen) if (!faults.some((x) => x.name === f)) throw new RangeError(`no fault named ${f}`)
// failover stops the primary; it goes last, and the primary is started again after each case.
const order = faults.filter((f) => chosen.includes(f.name)).sort((a, b) => Number(a.permanent) - Number(b.permanent))

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
const text = (error: unknown) => (error instanceof Error ? error.message : String(error))

/** Polls `condition` until it holds (true) or `ms` pass (false). */
async function until(condition: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) return false
    await sleep(20)
  }
  return true
}

/** `promise`'s value, or undefined once `ms` have passed. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)))
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

const started = Date.now()
console.error(`starting two clusters ...`)
const [primary, secondary] = await Promise.all([startCluster(), startCluster()])
const stopAll = () => {
  primary.stopSync()
  secondary.stopSync()
}
process.once('SIGINT', () => (stopAll(), process.exit(130)))

const records: CaseRecord[] = []
try {
  for (const fault of order) {
    for (const client of clients) {
      console.error(`${fault.name} / ${client} ...`)
      const record = await runCase(client, fault)
      records.push(record)
      const v = judge(record)
      console.error(`  ${(record.durationMs / 1000).toFixed(1)} s: noticed ${v.noticedMs ?? '-'} ms, listening ${v.listeningMs ?? '-'} ms, ` +
        `lost ${v.losses.total} (announced ${v.losses.announced}), ${record.problems.join('; ') || 'ok'}`)
    }
  }
} finally {
  await Promise.all([primary.stop(), secondary.stop()])
}

const versions = {
  pglisten: pglistenVersion(),
  pg: packageVersion('pg'),
  'pg-listen': packageVersion('pg-listen'),
  postgres: packageVersion('postgres'),
  node: process.version,
  postgresql: primary.binaries.version,
}
const command = `npm run reliability:compare${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`
const { markdown, json } = report({ records, versions, settings, command, boundMs, faults: order, clients, durationMs: Date.now() - started })
const stem = values.out ?? freeStem(`bench/results/reliability-compare-${new Date().toISOString().slice(0, 10)}`)
writeFileSync(`${stem}.md`, markdown)
writeFileSync(`${stem}.json`, JSON.stringify(json, null, 2) + '\n')
process.stdout.write(markdown)
console.error(`wrote ${stem}.md and ${stem}.json`)

/**
 * One client under one fault: a fresh proxy, the client in its own process, the writer, the
 * fault; then the wait for the client to listen again (at most `boundMs`), a second of traffic
 * after it, and the cleanup, which also heals whatever the fault left broken.
 */
async function runCase(client: ClientName, fault: Fault): Promise<CaseRecord> {
  const caseStart = Date.now()
  const channel = `cmp_${client}_${fault.name}`.replace(/\W/g, '_')
  const record: CaseRecord = {
    client,
    fault: fault.name,
    multiHost: fault.permanent && client !== 'pg-listen',
    boundMs,
    injectedAt: undefined,
    seqAtInjection: 0,
    afterRecovery: undefined,
    signals: [],
    succeeded: [],
    failed: [],
    problems: [],
    durationMs: 0,
  }
  const heard = () => record.signals.filter((s) => s.type === 'notification').length
  const proxy = await startFaultProxy(primary.server.host, primary.server.port)
  const hosts = [{ host: '127.0.0.1', port: proxy.port }]
  if (record.multiHost) hosts.push({ host: secondary.server.host, port: secondary.server.port })
  const target: Target = { hosts, user: primary.server.superuser.user, database: primary.server.database, channel, applicationName: channel }
  const child = startChild(client, target, record)
  let writer: NumberedWriter | undefined
  let healed: Promise<unknown> = Promise.resolve()
  let isHealed = true
  try {
    if (!(await until(() => record.signals.some((s) => s.type === 'ready' || s.type === 'crash') || child.exitCode !== null, 20_000))) {
      throw new Error('the client did not start listening within 20 s')
    }
    if (!record.signals.some((s) => s.type === 'ready')) throw new Error(`the client did not start: ${JSON.stringify(record.signals.at(-1))}`)
    writer = numberedWriter(channel, superuserOptions(primary.server), 50)
    if (!(await until(() => heard() >= 5, 10_000))) throw new Error('the client heard fewer than 5 notifications before the fault')
    const pid = await listenerPid(primary, channel)
    record.seqAtInjection = writer.sentSoFar()
    record.injectedAt = Date.now()
    const injected = await fault.inject({ primary, secondary, proxy, listenerPid: () => pid }).catch((error: unknown) => {
      record.injectedAt = undefined
      throw new Error(`injecting ${fault.name} failed: ${text(error)}`)
    })
    isHealed = false
    healed = injected.healed.then(() => (isHealed = true))
    if (fault.permanent) writer.moveTo(superuserOptions(secondary.server))
    const t0 = record.injectedAt
    const listening = () => record.signals.some((s) => s.type === 'listening' && s.at >= t0)
    await until(() => listening() || child.exitCode !== null, t0 + boundMs - Date.now())
    if (listening()) {
      await within(healed, 30_000) // down: the server is back before "after recovery" begins
      const from = (record.afterRecovery = writer.sentSoFar() + 1)
      if (!(await until(() => writer!.succeeded().some((n) => n >= from + 20), 15_000))) record.problems.push('the writer could not send after recovery')
    }
    const last = await writer.stop()
    if (listening()) await until(() => record.signals.some((s) => s.type === 'notification' && Number(s.payload) === last), 3000)
  } catch (error) {
    record.problems.push(text(error))
  } finally {
    await writer?.stop()
    if (writer) (record.succeeded = [...writer.succeeded()]), (record.failed = [...writer.failed()])
    if (child.exitCode !== null && !record.problems.some((p) => p.startsWith('the client process'))) {
      record.problems.push(`the client process exited (${child.exitCode ?? child.signalCode}) during the case`)
    }
    await stopChild(child)
    // stall-reconnect heals when the proxy accepts a connection: if the client never made one, one is made here.
    if (!isHealed) await poke(proxy.port)
    await within(healed, 30_000)
    await proxy.close()
    if (fault.permanent) await primary.up().catch((error) => record.problems.push(`restarting the primary: ${text(error)}`))
    record.durationMs = Date.now() - caseStart
  }
  return record
}

function startChild(client: ClientName, target: Target, record: CaseRecord): ChildProcess {
  const script = fileURLToPath(new URL('./compare-child.ts', import.meta.url))
  // Nothing from this machine's PG* environment (postgres.js and pg read it).
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PG')))
  const child = fork(script, [client, JSON.stringify(target)], { execArgv: process.execArgv, env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] })
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => void (stderr = (stderr + chunk.toString()).slice(-2000)))
  child.on('message', (signal: Signal) => void record.signals.push(signal))
  child.on('exit', (code, signal) => {
    if (code !== 0 && stderr.trim()) record.problems.push(`the client process's stderr: ${stderr.trim().split('\n').slice(-3).join(' | ')}`)
    void signal
  })
  return child
}

/** Asks the child to close its client; kills it if it has not exited 5 s later. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  if (child.connected) child.send('close')
  if ((await within(exited.then(() => true), 5000)) === undefined) {
    child.kill('SIGKILL')
    await within(exited, 2000)
  }
}

/** The listening backend's process ID, found by its application_name. */
async function listenerPid(cluster: Cluster, applicationName: string): Promise<number | undefined> {
  const admin = await connect(superuserOptions(cluster.server))
  try {
    const [result] = await admin.query(`SELECT pid FROM pg_stat_activity WHERE application_name = '${applicationName}'`)
    const pids = result!.rows.map(([pid]) => Number(pid))
    return pids.length === 1 ? pids[0] : undefined
  } finally {
    await admin.close()
  }
}

/** Opens a TCP connection to `port` and closes it again. */
function poke(port: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => setTimeout(() => (socket.destroy(), resolve()), 50))
    socket.on('error', () => resolve())
  })
}

function packageVersion(name: string): string {
  return JSON.parse(readFileSync(new URL(`../../node_modules/${name}/package.json`, import.meta.url), 'utf8')).version
}

/** The package's version and the commit it was run at (read-only git). */
function pglistenVersion(): string {
  const version = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version
  const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  try {
    const dirty = git('status', '--porcelain', '--untracked-files=no') ? ', with uncommitted changes' : ''
    return `${version} (source at ${git('rev-parse', '--short=12', 'HEAD')}${dirty})`
  } catch {
    return `${version} (commit unknown)`
  }
}

function freeStem(base: string): string {
  if (!existsSync(`${base}.md`) && !existsSync(`${base}.json`)) return base
  for (let n = 2; ; n++) if (!existsSync(`${base}-${n}.md`) && !existsSync(`${base}-${n}.json`)) return `${base}-${n}`
}
