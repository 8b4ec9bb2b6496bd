/**
 * One measurement: one client, one workload, in a fresh listener process. Starts the process,
 * waits for "ready", sends the warm-up batch, waits for "warm", sends the measured batch, and
 * turns the process's report into the figures the benchmark compares.
 */
import { percentile } from './stats.ts'
import { ListenerProcess } from './listener-process.ts'
import type { Notifiers } from './notifiers.ts'
import type { FakeServer } from './servers.ts'
import { serverPayloadBytes, workloadId, type ClientName, type ListenSpec, type ListenerReport, type Sample, type ServerAddress, type Workload } from './workloads.ts'

export interface Context {
  real?: { address: ServerAddress; notifiers: Notifiers }
  fake?: FakeServer
  /** The compiled C listener, if there is one. */
  libpq?: string
  /** The Node listener child, compiled to JavaScript, and node's flags for it (e.g. --cpu-prof). */
  nodeChild: string
  nodeFlags: string[]
  channel: string
}

export interface Run {
  round: number
  workload: string
  client: ClientName
  ok: boolean
  error?: string
  /** Notifications/s between the first and the last notification of the measured batch. */
  rate?: number
  /** Notifications/s from just before the runner sent the measured batch to the last receipt. */
  rateSinceSend?: number
  /** The listener process's CPU (user + system) per notification, in µs. */
  cpuUs?: number
  /** The system (kernel) part of cpuUs. */
  systemCpuUs?: number
  maxRssMB?: number
  readyRssMB?: number
  latencyUs?: { p50: number; p90: number; p99: number; max: number }
  samples?: Sample[]
}

export async function measure(workload: Workload, client: ClientName, round: number, ctx: Context): Promise<Run> {
  const run: Run = { round, workload: workloadId(workload), client, ok: false }
  const server = workload.kind === 'ceiling' ? ctx.fake?.address : ctx.real?.address
  if (!server) return { ...run, error: 'no server for this workload' }
  const spec: ListenSpec = {
    client,
    mode: workload.kind === 'latency' ? 'latency' : 'stream',
    warmup: workload.warmup,
    count: workload.count,
    check: workload.kind === 'latency' ? 'none' : workload.kind === 'ceiling' ? 'length' : 'seq',
    payload: workload.kind === 'latency' ? 0 : workload.kind === 'ceiling' ? workload.payload : serverPayloadBytes(workload.payload),
    samples: workload.kind === 'flood' ? workload.samples : 0,
    server,
    channel: ctx.channel,
  }
  const listener = start(spec, ctx, workload.kind === 'flood' ? 600_000 : 180_000)
  let reported = false
  try {
    await listener.expect('ready')
    const report = await drive(workload, listener, ctx)
    reported = true
    return { ...run, ...figures(report.report, report.sentNs), ...verdict(report.report, workload) }
  } catch (error) {
    return { ...run, error: error instanceof Error ? error.message : String(error) }
  } finally {
    // After its report a listener exits by itself; one that failed is killed at once.
    await listener.stop(reported ? 10_000 : 0)
  }
}

function start(spec: ListenSpec, ctx: Context, timeoutMs: number): ListenerProcess {
  if (spec.client !== 'libpq') return new ListenerProcess(process.execPath, [...ctx.nodeFlags, ctx.nodeChild, JSON.stringify(spec)], timeoutMs)
  if (!ctx.libpq) throw new Error('the libpq listener was not built')
  const { host, port, user, password, database } = spec.server
  const value = (v: string | number) => `'${String(v).replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`
  const conninfo = `host=${value(host)} port=${port} user=${value(user)} dbname=${value(database)} sslmode=disable gssencmode=disable` +
    (password !== undefined ? ` password=${value(password)}` : '')
  const args = [conninfo, spec.channel, spec.mode, spec.warmup, spec.count, spec.check, spec.payload, spec.samples].map(String)
  return new ListenerProcess(ctx.libpq, args, timeoutMs)
}

/** Sends the warm-up batch, then the measured one; the process's report and when sending began. */
async function drive(workload: Workload, listener: ListenerProcess, ctx: Context): Promise<{ report: ListenerReport; sentNs: number }> {
  const now = () => Number(process.hrtime.bigint())
  const channel = ctx.channel
  if (workload.kind === 'ceiling') {
    const fake = ctx.fake!
    if (workload.warmup > 0) fake.stream(channel, workload.warmup, workload.payload), await listener.expect('warm')
    const sentNs = now()
    fake.stream(channel, workload.count, workload.payload)
    return { report: await listener.report(), sentNs }
  }
  const notifiers = ctx.real!.notifiers
  if (workload.kind === 'latency') {
    let sentNs = now()
    for (let i = 0; i < workload.warmup + workload.count; i++) {
      if (i === workload.warmup && i > 0) await listener.expect('warm'), (sentNs = now())
      await Promise.all([notifiers.notifyNow(channel), listener.expect('a')])
    }
    return { report: await listener.report(), sentNs }
  }
  if (workload.warmup > 0) await Promise.all([notifiers.flood(channel, workload.payload, 1, workload.warmup), listener.expect('warm')])
  const sentNs = now()
  const senders = workload.kind === 'server' ? workload.senders : 1
  const [, report] = await Promise.all([notifiers.flood(channel, workload.payload, senders, workload.count), listener.report()])
  return { report, sentNs }
}

function figures(r: ListenerReport, sentNs: number): Partial<Run> {
  const seconds = (r.lastNs - r.firstNs) / 1e9
  const latencies = r.latenciesNs?.map((ns) => ns / 1000)
  return {
    ...(r.received > 1 && seconds > 0 ? { rate: (r.received - 1) / seconds } : {}),
    ...(r.lastNs > sentNs ? { rateSinceSend: r.received / ((r.lastNs - sentNs) / 1e9) } : {}),
    ...(r.received > 0 ? { cpuUs: (r.userUs + r.systemUs) / r.received, systemCpuUs: r.systemUs / r.received } : {}),
    maxRssMB: r.maxRssKb / 1024,
    readyRssMB: r.readyRssKb / 1024,
    ...(latencies && latencies.length > 0
      ? { latencyUs: { p50: percentile(latencies, 50), p90: percentile(latencies, 90), p99: percentile(latencies, 99), max: Math.max(...latencies) } }
      : {}),
    ...(r.samples ? { samples: r.samples } : {}),
  }
}

/** A run counts only if every notification arrived, once, in order, with the right payload. */
function verdict(r: ListenerReport, workload: Workload): Pick<Run, 'ok' | 'error'> {
  if (r.incomplete) return { ok: false, error: `stopped after ${r.received} of ${workload.count} notifications (timeout)` }
  if (r.received !== workload.count) return { ok: false, error: `received ${r.received} notifications, expected ${workload.count}` }
  if (r.errors > 0) return { ok: false, error: `${r.errors} notifications out of order or with the wrong payload` }
  return { ok: true }
}
