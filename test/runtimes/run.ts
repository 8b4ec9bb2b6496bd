/**
 * `npm run test:runtimes`: the listener scenario (scenario.ts) against the built package under
 * Bun, Deno and workerd, one after another, on one throwaway PostgreSQL (test/harness/cluster.ts),
 * then workerd with the test CA left out of its trust store (workers/untrusted-worker.ts), then
 * the Durable Object example (workers/durable-object.ts). Prints a table; exits 1 if any
 * failed. Builds nothing: the npm script runs tsc first. Run by tsx under Node.
 *   --only bun,deno,workerd,workerd-untrusted,durable-object   picks some
 *
 * The password goes to each runtime on standard input (Bun, Deno) or in the request body
 * (workerd), never in argv or the environment, and is never printed.
 */
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startCluster, type Cluster } from '../harness/cluster.ts'
import type { ScenarioConfig, Verdict } from './scenario.ts'
import { runDurableObject, runUntrustedWorkerd, runWorkerd, workerdVersion } from './workerd.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
const bin = (name: string) => join(root, 'node_modules/.bin', name)
const main = join(root, 'test/runtimes/main.ts')

/** A runtime's whole run, the scenario's own timeout (main.ts) included, may take this long. */
const RUNTIME_TIMEOUT = 60_000
/** The runner's own bound, past RUNTIME_TIMEOUT: Bun and Deno are killed first, and their output shown. */
const VERDICT_TIMEOUT = RUNTIME_TIMEOUT + 10_000

interface Runtime {
  name: string
  version(): string
  /** true: channel_binding=require; false: the runtime shows pglisten no certificate */
  channelBinding: boolean
  ownTrustStore: boolean
  run(config: ScenarioConfig, server: Cluster['server']): Promise<Verdict>
}

const runtimes: Runtime[] = [
  {
    name: 'bun',
    version: () => `Bun ${versionOf(bun(), ['--version'])}`,
    channelBinding: true,
    ownTrustStore: false,
    run: (config) => runProgram(bun(), [main], config),
  },
  {
    name: 'deno',
    version: () => `Deno ${versionOf(bin('deno'), ['--version']).split(/\s+/)[1]}`,
    channelBinding: true,
    ownTrustStore: false,
    // Least privilege, and main.ts fails on any warning pglisten gives for a refused look-up:
    // the network, to the test server's address and port, and nothing else. Not needed:
    // --allow-env (the env option is {}), --allow-sys (a user is given, so no OS user; a password
    // and sslrootcert are given and sslcertmode=disable, so no home folder for .pgpass or
    // ~/.postgresql), reading dist/ (static imports need no permission).
    run: (config) =>
      runProgram(bin('deno'), ['run', '--no-prompt', '--no-config', '--no-lock', `--allow-net=${config.host}:${config.port}`, main], config),
  },
  {
    name: 'workerd',
    version: () => workerdVersion(),
    channelBinding: false,
    ownTrustStore: true,
    run: (config, server) => runWorkerd(config, server.tls!.ca),
  },
  {
    // Not a scenario: workerd with the test CA left out of its store, and the error that says so.
    name: 'workerd-untrusted',
    version: () => workerdVersion(),
    channelBinding: false,
    ownTrustStore: true,
    run: (config) => runUntrustedWorkerd(config),
  },
  {
    name: 'durable-object',
    version: () => workerdVersion(),
    channelBinding: false,
    ownTrustStore: true,
    run: (config, server) => runDurableObject(config, server),
  },
]

const only = argValue('--only')?.split(',')
const chosen = runtimes.filter((r) => !only || only.includes(r.name))
if (chosen.length === 0) throw new Error(`--only ${only}: expected some of ${runtimes.map((r) => r.name).join(',')}`)

// A temporary folder for the whole run, removed at exit: the cluster's, and miniflare's
// (it leaves a miniflare-* folder in the temporary folder per instance).
const scratch = mkdtempSync(join(tmpdir(), 'pglisten-runtimes-'))
chmodSync(scratch, 0o755) // the cluster's folder in it belongs to the postgres OS user
process.env.TMPDIR = scratch
const removeScratch = () => rmSync(scratch, { recursive: true, force: true })
process.once('exit', removeScratch) // after the cluster's own exit handler, registered below

const t0 = performance.now()
const cluster = await startCluster()
const stopOnSignal = (signal: NodeJS.Signals) => {
  cluster.stopSync()
  removeScratch()
  process.kill(process.pid, signal)
}
process.prependOnceListener('exit', cluster.stopSync)
process.once('SIGINT', stopOnSignal)
process.once('SIGTERM', stopOnSignal)

const rows: { runtime: string; version: string; result: string; seconds: string }[] = []
try {
  const { server } = cluster
  const scram = server.users!.scram
  console.log(`PostgreSQL ${server.serverVersion} on ${server.host}:${server.port}, ready in ${seconds(t0)} s`)
  for (const runtime of chosen) {
    const config: ScenarioConfig = {
      runtime: runtime.name,
      host: server.host,
      port: server.port,
      database: server.database,
      user: scram.user,
      password: scram.password!,
      ca: server.tls!.ca,
      channelBinding: runtime.channelBinding,
      ownTrustStore: runtime.ownTrustStore,
    }
    let version = '?'
    const started = performance.now()
    let verdict: Verdict
    try {
      version = runtime.version()
      console.log(`\n== ${runtime.name} (${version})`)
      // Bun and Deno are killed at the timeout (runProgram); a Worker's run is given up on here.
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<Verdict>((resolve) => {
        timer = setTimeout(() => resolve({ ok: false, steps: [], error: `no verdict within ${VERDICT_TIMEOUT / 1000} s` }), VERDICT_TIMEOUT)
      })
      verdict = await Promise.race([runtime.run(config, server), timeout]).finally(() => clearTimeout(timer))
    } catch (error) {
      verdict = { ok: false, steps: [], error: error instanceof Error ? (error.stack ?? error.message) : String(error) }
    }
    for (const step of verdict.steps) console.log(`  ok ${step}`)
    if (!verdict.ok) console.log(`  FAIL ${verdict.error}`)
    rows.push({ runtime: runtime.name, version, result: verdict.ok ? 'pass' : 'FAIL', seconds: seconds(started) })
  }
} finally {
  await cluster.stop()
}

console.log(`\n${table(rows)}\nwhole run: ${seconds(t0)} s`)
// exit, not exitCode: a Worker given up on may leave miniflare's workerd running
process.exit(rows.every((r) => r.result === 'pass') ? 0 : 1)

/**
 * Runs main.ts under a runtime with the configuration on standard input; its output is shown
 * as it comes, and its exit code is the verdict.
 */
function runProgram(program: string, args: string[], config: ScenarioConfig): Promise<Verdict> {
  return new Promise((resolve) => {
    // Only what a runtime needs to start: no PG* variables, nothing secret.
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' }
    const child = spawn(program, args, { cwd: root, env, stdio: ['pipe', 'pipe', 'pipe'] })
    let output = ''
    const take = (chunk: Buffer) => (output += chunk.toString('utf8'))
    child.stdout.on('data', take)
    child.stderr.on('data', take)
    const timer = setTimeout(() => child.kill('SIGKILL'), RUNTIME_TIMEOUT)
    child.on('error', (error) => {
      clearTimeout(timer)
      resolve({ ok: false, steps: [], error: `could not start ${program}: ${error.message}` })
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const lines = output.trimEnd().split('\n')
      const steps = lines.filter((l) => l.startsWith('  ok ')).map((l) => l.slice(5))
      const other = lines.filter((l) => !l.startsWith('  ok ') && l !== '')
      if (code === 0) resolve({ ok: true, steps })
      else resolve({ ok: false, steps, error: `${signal ? `killed (${signal}) after ${RUNTIME_TIMEOUT / 1000} s` : `exit code ${code}`}\n${other.join('\n')}` })
    })
    child.stdin.end(JSON.stringify(config))
  })
}

/** node_modules' bun, fetched by its install script if the package was installed without it. */
function bun(): string {
  const path = bin('bun')
  if (existsSync(path) && spawnSync(path, ['--version']).status === 0) return path
  const install = spawnSync(process.execPath, [join(root, 'node_modules/bun/install.js')], { cwd: join(root, 'node_modules/bun'), stdio: 'inherit' })
  if (install.status !== 0) throw new Error('node_modules/bun/install.js failed')
  return path
}

function versionOf(program: string, args: string[]): string {
  const r = spawnSync(program, args, { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`${program} ${args.join(' ')} failed: ${r.stderr || r.error?.message}`)
  return r.stdout.trim()
}

function seconds(since: number): string {
  return ((performance.now() - since) / 1000).toFixed(1)
}

function table(rows: Record<string, string>[]): string {
  const heads = ['runtime', 'version', 'result', 'seconds']
  const widths = heads.map((h) => Math.max(h.length, ...rows.map((r) => r[h]!.length)))
  const line = (cells: string[]) => cells.map((c, i) => (i === 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd()
  return [line(heads), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(heads.map((h) => r[h]!)))].join('\n')
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name)
  return i === -1 ? undefined : process.argv[i + 1]
}
