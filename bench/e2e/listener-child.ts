/**
 * One Node listener process of the end-to-end benchmark: connects with one client, LISTENs,
 * prints "ready", receives the warm-up batch, prints "warm", receives the measured batch, and
 * prints one JSON ListenerReport. libpq-listener.c does the same in C, line for line.
 *
 *   node .cache/bench/js/bench/e2e/listener-child.js '<ListenSpec as JSON>'   (build.ts compiles it)
 *
 * The per-notification work is what every client's listener gets (libpq's too): a length
 * check and, for 'seq', reading the counter from the payload's last 8 characters. The clock is
 * read only at the first and the last notification of the measured phase.
 */
import { drivers } from './drivers.ts'
import { counterDigits, senderBase, type ClientName, type ListenSpec, type ListenerReport, type Sample } from './workloads.ts'

const spec = JSON.parse(process.argv[2] ?? '') as ListenSpec
if (spec.client === 'libpq') throw new TypeError('libpq runs as libpq-listener, not here')

const rssKb = () => Math.round(process.memoryUsage.rss() / 1024)
const now = () => Number(process.hrtime.bigint())

let measuring = spec.warmup === 0
let received = 0
let errors = 0
let firstNs = 0
let cpuStart = measuring ? process.cpuUsage() : undefined
let readyRssKb = 0
const lastSeq = new Int32Array(10)
const latencies: number[] = []
const samples: Sample[] = []
const sampleEvery = spec.samples > 0 ? Math.max(1, Math.ceil(spec.count / spec.samples)) : Infinity
let nextSample = sampleEvery
let sampleStart = 0

function onPayload(payload: string): void {
  received++
  if (spec.mode === 'latency') {
    const latency = now() - Number(payload)
    if (measuring) latencies.push(latency)
    process.stdout.write('a\n')
  } else if (payload.length !== spec.payload) {
    errors++
  } else if (spec.check === 'seq') {
    let value = 0
    for (let i = payload.length - counterDigits; i < payload.length; i++) value = value * 10 + payload.charCodeAt(i) - 48
    const sender = (value / senderBase) | 0
    const seq = value - sender * senderBase
    if (sender > 9 || seq !== lastSeq[sender]! + 1) errors++
    lastSeq[sender] = seq
  }
  if (!measuring) {
    if (received === spec.warmup) startMeasuring()
    return
  }
  if (received === 1) firstNs = now()
  if (received === nextSample) sample()
  if (received === spec.count) finish(false)
}

function startMeasuring(): void {
  measuring = true
  received = 0
  errors = 0
  lastSeq.fill(0)
  if (spec.samples > 0) (sampleStart = now()), sample()
  cpuStart = process.cpuUsage()
  process.stdout.write('warm\n')
}

/** Resident memory now, every `sampleEvery` notifications (by count: timers lag under load). */
function sample(): void {
  samples.push([(now() - sampleStart) / 1e6, rssKb(), received])
  nextSample = received + sampleEvery
}

function finish(incomplete: boolean): void {
  const lastNs = now()
  const cpu = process.cpuUsage(cpuStart)
  const report: ListenerReport = {
    client: spec.client as ClientName,
    received,
    errors,
    firstNs,
    lastNs,
    userUs: cpu.user,
    systemUs: cpu.system,
    maxRssKb: process.resourceUsage().maxRSS,
    readyRssKb,
    ...(spec.mode === 'latency' ? { latenciesNs: latencies } : {}),
    ...(spec.samples > 0 ? { samples } : {}),
    ...(incomplete ? { incomplete } : {}),
  }
  process.stdout.write(JSON.stringify(report) + '\n')
  process.exit(incomplete ? 1 : 0)
}

// Stopped by the runner's timeout: say how far we got.
process.once('SIGTERM', () => finish(true))

await drivers[spec.client](spec.server, spec.channel, onPayload)
readyRssKb = rssKb()
process.stdout.write('ready\n')
