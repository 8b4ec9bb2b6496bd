/**
 * npm run soak: a listener under a steady stream of notifications for minutes, with a consumer
 * that sometimes stalls and the server restarted now and then; its heap and resident memory,
 * sampled every second, must end where they started, within noise. Run by hand, not in CI.
 *
 *   npm run soak [-- --duration 300 --rate 5000 --restarts 2 --seed N --out bench/results/soak-DATE]
 *
 * Needs nothing else: it starts a throwaway PostgreSQL 18 (test/harness/cluster.ts) and stops
 * it at the end, on Ctrl-C too. The listener runs in a child process of its own
 * (soak-child.ts, with --expose-gc), the writer (soak-writer.ts) in this one. The run:
 *   1. idle: the child listens, collects garbage, and is sampled for a few seconds;
 *   2. load, --duration seconds: --rate notifications/s over --writers connections; the
 *      consumer stops reading every ~--stall-every s for --stall-min..--stall-max s, so
 *      backpressure pauses the socket and, past --stall-timeout, cuts the consumer off (a Gap
 *      follows); the server is restarted --restarts times, evenly spaced;
 *   3. drain: the writer stops, the consumer stops stalling and catches up;
 *   4. rest: --settle s later the child collects garbage, then is sampled --window s.
 *
 * "Within noise", the rule this script enforces (exit code 1 if broken): for heapUsed and for
 * RSS, the end (median of the rest window, after gc) may exceed the start (median of load
 * seconds --warmup to --warmup + --window, after the JIT and the first GCs settled) by at most
 * max(10 % of the start, 5 MB). The start is under load and not collected, the end is at rest
 * and collected, so the rule is lenient by what garbage the start held; the same rule between
 * the start and the load's last window (both under load) is reported beside it, as is a
 * least-squares trend over the load. The run also fails if the consumer did not catch up, if a
 * restart was not followed by a reconnect, or if a notification went missing without a Gap.
 * Results: <out>.json (every sample and event) and <out>.txt (the summary printed at the end).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { startCluster, type Cluster } from '../../test/harness/cluster.ts'
import type { ChildConfig, Counters, FromChild, ToChild } from './soak-child.ts'
import { analyse, formatSummary, type LoadSample, type Phase, type RestartRecord, type Run, type SoakEvent, type TaggedSample } from './soak-report.ts'
import { Writer } from './soak-writer.ts'

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '300' },
    rate: { type: 'string', default: '5000' },
    restarts: { type: 'string', default: '2' },
    seed: { type: 'string' },
    out: { type: 'string' },
    writers: { type: 'string', default: '3' },
    tick: { type: 'string', default: '10' },
    'stall-every': { type: 'string', default: '20' },
    'stall-min': { type: 'string', default: '1' },
    'stall-max': { type: 'string', default: '8' },
    'stall-timeout': { type: 'string', default: '5' },
    warmup: { type: 'string', default: '10' },
    window: { type: 'string', default: '10' },
    settle: { type: 'string', default: '5' },
  },
})
const number = (name: keyof typeof args, min: number): number => {
  const value = Number(args[name])
  if (!Number.isFinite(value) || value < min) throw new RangeError(`--${name} must be a number >= ${min}, not ${args[name]}`)
  return value
}
const duration = number('duration', 1)
const rate = number('rate', 1)
const restarts = Math.floor(number('restarts', 0))
const writers = Math.floor(number('writers', 1))
const tick = number('tick', 1)
const warmup = number('warmup', 0)
const window = number('window', 1)
const settle = number('settle', 0)
const stallTimeout = number('stall-timeout', 0.001) * 1000
const seed = args.seed !== undefined ? Number(args.seed) >>> 0 : Math.floor(Math.random() * 2 ** 32)
if (duration < warmup + 2 * window) throw new RangeError(`--duration must be at least --warmup + 2 × --window (${warmup + 2 * window} s), to have a start and an end`)

const here = dirname(fileURLToPath(import.meta.url))
const date = new Date().toISOString().slice(0, 10)
const out = args.out ?? nextFree(join(here, '..', 'results'), `soak-${date}`)
const machine = `${os.cpus()[0]?.model ?? 'unknown CPU'} x${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}, Node ${process.version}`
const log = (line: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`)
const channel = 'soak'

let cluster: Cluster | undefined
let child: ChildProcess | undefined
const stopAll = () => {
  child?.kill('SIGKILL')
  cluster?.stopSync()
}
process.once('SIGINT', () => (stopAll(), process.exit(130)))
process.once('SIGTERM', () => (stopAll(), process.exit(143)))

let phase: Phase = 'idle'
const samples: TaggedSample[] = []
const events: SoakEvent[] = []
const loads: LoadSample[] = []
const restartRecords: RestartRecord[] = []
let t0 = 0 // Date.now() when the load began; every time in the results is seconds from it
let final: Counters | undefined

try {
  log(`pglisten soak: ${machine}`)
  log(`seed ${seed} (--seed ${seed} replays the stalls)`)
  log('starting a throwaway PostgreSQL 18 ...')
  cluster = await startCluster()
  const s = cluster.server
  const address = { host: s.host, port: s.port, user: s.superuser.user, database: s.database }

  const config: ChildConfig = {
    address, channel, seed, stallTimeout,
    stallEvery: number('stall-every', 0.001) * 1000, stallMin: number('stall-min', 0) * 1000, stallMax: number('stall-max', 0) * 1000,
  }
  // Under tsx, as this process runs (process.execArgv carries its loader); --expose-gc for the end's gc().
  const script = join(here, 'soak-child.ts')
  child = spawn(process.execPath, [...process.execArgv, '--expose-gc', script, JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const tell = (message: ToChild) => void (child?.connected && child.send(message))
  let childGc = false
  const ready = new Promise<void>((resolve, reject) => {
    child!.on('message', (message: FromChild) => {
      if (message.type === 'ready') (childGc = message.gc), resolve()
      else if (message.type === 'sample') samples.push({ ...message.sample, phase })
      else if (message.type === 'event') events.push({ at: message.at, kind: message.kind, detail: message.detail })
      else if (message.type === 'done') final = message.final
    })
    child!.once('exit', (code, signal) => reject(new Error(`the listener child exited (${signal ?? `code ${code}`}) ${final ? 'after' : 'before'} its report`)))
  })
  const exited = new Promise<void>((resolve) => child!.once('exit', () => resolve()))
  // A child that dies before it is told to finish ends the run: nothing after it would mean anything.
  child.once('exit', (code, signal) => {
    if (phase === 'after') return
    log(`the listener child died during the ${phase} phase (${signal ?? `exit code ${code}`})`)
    stopAll()
    process.exit(1)
  })
  await ready
  if (!childGc) log('the child has no gc(): the end is measured without a collection')

  // 1. Idle: a baseline after gc, for reference.
  tell({ type: 'gc' })
  await sleep(6000)

  // 2. Load, with the restarts evenly spaced.
  const writer = new Writer({ address, channel, connections: writers, rate, tick })
  await writer.start()
  const serverVersion = writer.serverVersion
  t0 = Date.now()
  phase = 'load'
  log(`load: ${rate}/s over ${writers} connections for ${duration} s, ${restarts} restart(s); PostgreSQL ${serverVersion}`)
  const loadTimer = setInterval(() => loads.push({ at: Date.now(), load1: os.loadavg()[0]! }), 1000)
  const restarting = (async () => {
    for (let i = 1; i <= restarts; i++) {
      await sleep(t0 + (duration * 1000 * i) / (restarts + 1) - Date.now())
      const at = Date.now()
      log(`restart ${i} of ${restarts} (pg_ctl restart -m fast) ...`)
      await cluster!.restart()
      restartRecords.push({ at, tookMs: Date.now() - at })
      log(`restart ${i} done in ${Date.now() - at} ms`)
    }
  })()
  const progress = setInterval(() => {
    const last = samples.at(-1)
    if (last) log(`t=${Math.round((Date.now() - t0) / 1000)} s: sent ${writer.counters.committed}, received ${last.received}, heap ${mb(last.heapUsed)} MB, rss ${mb(last.rss)} MB, stalls ${last.stalls} (cut ${last.cuts}), gaps ${last.gapsStall + last.gapsReconnect}, reconnects ${last.reconnects}`)
  }, 30_000)
  await sleep(t0 + duration * 1000 - Date.now())
  await restarting // a restart runs late only if pg_ctl is slow; the load goes on meanwhile
  const sentSeconds = await writer.stop()
  clearInterval(progress)

  // 3. Drain: no more stalls; wait until the consumer holds nothing and has read everything.
  phase = 'drain'
  tell({ type: 'quiet' })
  const drainStart = Date.now()
  let caughtUp = false
  while (Date.now() - drainStart < 60_000) {
    await sleep(1000)
    const [a, b] = samples.slice(-2)
    if (a && b && b.at > drainStart && !b.stalling && b.backlog === 0 && a.received === b.received) {
      caughtUp = true
      break
    }
  }
  log(caughtUp ? `drained in ${((Date.now() - drainStart) / 1000).toFixed(0)} s` : 'the consumer did NOT catch up within 60 s')

  // 4. Rest: settle, collect, sample.
  phase = 'settle'
  await sleep(settle * 1000)
  tell({ type: 'gc' })
  await sleep(200)
  phase = 'rest'
  await sleep(window * 1000 + 500)
  phase = 'after'
  clearInterval(loadTimer)
  tell({ type: 'finish' })
  await exited
  child = undefined
  cluster.stopSync()
  cluster = undefined

  if (!final) throw new Error('the listener child ended without its final report')
  const run: Run = {
    date: new Date().toISOString(), machine, cores: os.cpus().length, seed, serverVersion,
    settings: { duration, rate, restarts, writers, tick, stallEvery: config.stallEvery, stallMin: config.stallMin, stallMax: config.stallMax, stallTimeout, warmup, window, settle, gc: childGc },
    t0, sentSeconds, caughtUp, writer: writer.counters, listener: final, restarts: restartRecords, events, loads, samples,
    parentCpuMs: Math.round((process.cpuUsage().user + process.cpuUsage().system) / 1000),
  }
  const analysis = analyse(run)
  const summary = formatSummary(run, analysis)
  console.log(summary)
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(`${out}.txt`, summary + '\n')
  writeFileSync(`${out}.json`, resultJson(run, analysis) + '\n')
  log(`saved ${out}.{json,txt}`)
  if (!analysis.pass) process.exitCode = 1
} finally {
  stopAll()
}

function mb(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1)
}

function nextFree(dir: string, base: string): string {
  let name = base
  for (let n = 2; existsSync(join(dir, `${name}.json`)); n++) name = `${base}-${n}`
  return join(dir, name)
}

/** JSON with each top-level field on a line, and each sample and event on a line of its own. */
function resultJson(run: Run, analysis: ReturnType<typeof analyse>): string {
  const { samples: all, events: evs, loads: ls, ...rest } = run
  const rel = (at: number) => Number(((at - run.t0) / 1000).toFixed(3))
  const lines = [
    ...Object.entries({ ...rest, analysis }).map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`),
    `"loads": [${ls.map((l) => JSON.stringify([rel(l.at), l.load1])).join(', ')}]`,
    `"events": [\n${evs.map((e) => '  ' + JSON.stringify({ t: rel(e.at), kind: e.kind, detail: e.detail })).join(',\n')}\n ]`,
    `"samples": [\n${all.map((x) => '  ' + JSON.stringify({ t: rel(x.at), ...x, at: undefined })).join(',\n')}\n ]`,
  ]
  return `{\n ${lines.join(',\n ')}\n}`
}
