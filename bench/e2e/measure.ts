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

/** Throughput, ceiling and flood workloads: one client at a time. For latency, see measureLatency. */
export async function measure(workload: Workload, client: ClientName, round: number, ctx: Context): Promise<Run> {
  const run: Run = { round, workload: workloadId(workload), client, ok: false }
  const server = workload.kind === 'ceiling' ? ctx.fake?.address : ctx.real?.address
  if (!server) return { ...run, error: 'no server for this workload' }
  const spec: ListenSpec = {
    client,
    mode: 'stream',
    warmup: workload.warmup,
    count: workload.count,
    check: workload.kind === 'ceiling' ? 'length' : 'seq',
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
  if (workload.kind === 'latency') throw new TypeError('latency runs through measureLatency')
  if (workload.warmup > 0) await Promise.all([notifiers.flood(channel, workload.payload, 1, workload.warmup), listener.expect('warm')])
  const sentNs = now()
  const senders = workload.kind === 'server' ? workload.senders : 1
  const [, report] = await Promise.all([notifiers.flood(channel, workload.payload, senders, workload.count), listener.report()])
  return { report, sentNs }
}

/**
 * The latency workload, every client in the same stretch of time: one listener process per
 * client, each on a channel of its own, all started together; then the round trips take turns
 * (each client once per turn, in an order that rotates from turn to turn), so that the bursts
 * of a shared machine's noise fall on every client alike rather than on whichever was running
 * then. A client whose process fails drops out of the turns; the others go on.
 */
export async function measureLatency(workload: Extract<Workload, { kind: 'latency' }>, clients: readonly ClientName[], round: number, ctx: Context): Promise<Run[]> {
  const server = ctx.real?.address
  const runs = clients.map((client): Run => ({ round, workload: workloadId(workload), client, ok: false }))
  if (!server) return runs.map((run) => ({ ...run, error: 'no server for this workload' }))
  const notifiers = ctx.real!.notifiers
  const entrants = clients.map((client, i) => {
    const spec: ListenSpec = { client, mode: 'latency', warmup: workload.warmup, count: workload.count, check: 'none', payload: 0, samples: 0, server, channel: `${ctx.channel}_${i}` }
    return { index: i, spec, listener: start(spec, ctx, 600_000), error: undefined as string | undefined, report: undefined as ListenerReport | undefined }
  })
  const live = () => entrants.filter((e) => e.error === undefined)
  const attempt = async (entrant: (typeof entrants)[number], step: () => Promise<unknown>) => {
    try {
      await step()
    } catch (error) {
      entrant.error = error instanceof Error ? error.message : String(error)
    }
  }
  try {
    await Promise.all(entrants.map((e) => attempt(e, () => e.listener.expect('ready'))))
    for (let i = 0; i < workload.warmup + workload.count; i++) {
      if (i === workload.warmup && i > 0) await Promise.all(live().map((e) => attempt(e, () => e.listener.expect('warm'))))
      const turn = live()
      for (let k = 0; k < turn.length; k++) {
        const e = turn[(k + i) % turn.length]!
        await attempt(e, () => Promise.all([notifiers.notifyNow(e.spec.channel), e.listener.expect('a')]))
      }
    }
    await Promise.all(live().map((e) => attempt(e, async () => (e.report = await e.listener.report()))))
  } finally {
    await Promise.all(entrants.map((e) => e.listener.stop(e.report ? 10_000 : 0)))
  }
  return entrants.map((e) => {
    const run = runs[e.index]!
    if (!e.report) return { ...run, error: e.error ?? 'no report' }
    return { ...run, ...figures(e.report, 0), ...verdict(e.report, workload) }
  })
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
