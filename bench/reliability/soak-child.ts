/**
 * The soak's listener process (bench/reliability/soak.ts starts it, with --expose-gc): one
 * pglisten listener, consumed by a `for await` loop that every so often stops reading for a
 * few seconds, and process.memoryUsage() sampled every second. A process of its own, so that
 * its heap and resident memory are the listener's alone, not the writer's. Talks to the parent
 * over the IPC channel only. Imports src/ and node: modules.
 *
 * Payloads are "<writer>:<sequence>", each writer counting up from 1 on its own connections,
 * so the loop can check the listener's promise: a notification goes missing only where a Gap
 * says so. A jump in a writer's sequence with no Gap since its previous notification is
 * counted as an unannounced loss; a sequence that goes backwards, as out of order.
 */
import { createListener, type Gap } from '../../src/index.ts'

export interface ChildConfig {
  address: { host: string; port: number; user: string; database: string }
  channel: string
  /** Seeds the stalls' timing and length (mulberry32). */
  seed: number
  /** A stall starts about this often (uniform in 0.75 to 1.25 times it), in ms. */
  stallEvery: number
  /** A stall lasts between these, in ms (uniform). */
  stallMin: number
  stallMax: number
  /** The listener's stallTimeout: stalls longer than this (plus the time to fill highWaterMark) are cut off. */
  stallTimeout: number
}

/** From the parent: stop stalling (the load is over), collect garbage, or close and report. */
export type ToChild = { type: 'quiet' } | { type: 'gc' } | { type: 'finish' }

export interface Counters {
  received: number
  /** Gap items read, by cause: the consumer was cut off (ConsumerStalledError), or the connection was lost. */
  gapsStall: number
  gapsReconnect: number
  /** 'reconnected' events. */
  reconnects: number
  /** Stalls this loop made, and how many of them were cut off (listener.stats.stalls). */
  stalls: number
  stallMs: number
  cuts: number
  unannouncedLosses: number
  outOfOrder: number
  errors: Record<string, number>
  backlog: number
  maxBacklog: number
  pauses: number
  stalling: boolean
  cpuUserMs: number
  cpuSystemMs: number
}

export interface Sample extends Counters {
  at: number
  heapUsed: number
  heapTotal: number
  rss: number
  external: number
  arrayBuffers: number
}

export type FromChild =
  | { type: 'ready'; pid: number; gc: boolean }
  | { type: 'sample'; sample: Sample }
  | { type: 'event'; at: number; kind: 'stall' | 'gap' | 'reconnected' | 'disconnected' | 'error'; detail: string }
  | { type: 'done'; final: Counters }

const config = JSON.parse(process.argv[2] ?? '') as ChildConfig
const send = (message: FromChild) => process.send?.(message)
const gc = (globalThis as { gc?: () => void }).gc

/** mulberry32: a small seeded PRNG, so a run's stalls can be replayed with its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const random = prng(config.seed)

const counters: Counters = {
  received: 0, gapsStall: 0, gapsReconnect: 0, reconnects: 0, stalls: 0, stallMs: 0, cuts: 0,
  unannouncedLosses: 0, outOfOrder: 0, errors: {}, backlog: 0, maxBacklog: 0, pauses: 0, stalling: false, cpuUserMs: 0, cpuSystemMs: 0,
}
let quiet = false

const listener = await createListener({ ...config.address, sslmode: 'disable', stallTimeout: config.stallTimeout })
listener.on('error', (error) => {
  counters.errors[error.name] = (counters.errors[error.name] ?? 0) + 1
  send({ type: 'event', at: Date.now(), kind: 'error', detail: `${error.name}: ${error.message}`.slice(0, 300) })
})
listener.on('disconnected', ({ error }) => send({ type: 'event', at: Date.now(), kind: 'disconnected', detail: error?.message ?? '' }))
listener.on('reconnected', (gap) => {
  counters.reconnects++
  send({ type: 'event', at: Date.now(), kind: 'reconnected', detail: describe(gap) })
})
await listener.listen(config.channel)

function snapshot(): Counters {
  const stats = listener.stats
  const cpu = process.cpuUsage()
  return {
    ...counters, errors: { ...counters.errors }, cuts: stats.stalls, backlog: stats.backlog, maxBacklog: stats.maxBacklog,
    pauses: stats.pauses, cpuUserMs: Math.round(cpu.user / 1000), cpuSystemMs: Math.round(cpu.system / 1000),
  }
}

const sampler = setInterval(() => {
  const m = process.memoryUsage()
  send({ type: 'sample', sample: { at: Date.now(), heapUsed: m.heapUsed, heapTotal: m.heapTotal, rss: m.rss, external: m.external, arrayBuffers: m.arrayBuffers, ...snapshot() } })
}, 1000)

process.on('message', (message: ToChild) => {
  if (message.type === 'quiet') quiet = true
  else if (message.type === 'gc') gc?.()
  else if (message.type === 'finish') void finish()
})
// The parent is gone (killed, crashed): nobody is left to report to.
process.on('disconnect', () => process.exit(2))

async function finish(): Promise<void> {
  clearInterval(sampler)
  const final = snapshot()
  await listener.close()
  send({ type: 'done', final })
  process.disconnect()
}

function describe(gap: Gap): string {
  return `${gap.to.getTime() - gap.from.getTime()} ms (${gap.cause?.name ?? 'no cause'})`
}

send({ type: 'ready', pid: process.pid, gc: gc !== undefined })

// The consumer. Per writer: the last sequence seen, and the number of Gaps read by then.
const lastSeq: number[] = []
const gapsAtLast: number[] = []
let gapsRead = 0
let nextStall = Date.now() + config.stallEvery * (0.75 + 0.5 * random())
for await (const item of listener.notifications()) {
  if (item.type === 'Gap') {
    gapsRead++
    if (item.cause?.name === 'ConsumerStalledError') counters.gapsStall++
    else counters.gapsReconnect++
    send({ type: 'event', at: Date.now(), kind: 'gap', detail: describe(item) })
    continue
  }
  counters.received++
  const colon = item.payload.indexOf(':')
  const writer = Number(item.payload.slice(0, colon))
  const seq = Number(item.payload.slice(colon + 1))
  const last = lastSeq[writer] ?? 0
  if (seq <= last) counters.outOfOrder++
  else if (seq !== last + 1 && (gapsAtLast[writer] ?? 0) === gapsRead) counters.unannouncedLosses += seq - last - 1
  lastSeq[writer] = seq
  gapsAtLast[writer] = gapsRead
  if (!quiet && Date.now() >= nextStall) {
    const ms = Math.round(config.stallMin + (config.stallMax - config.stallMin) * random())
    counters.stalls++
    counters.stallMs += ms
    counters.stalling = true
    send({ type: 'event', at: Date.now(), kind: 'stall', detail: `${ms} ms` })
    await new Promise((resolve) => setTimeout(resolve, ms))
    counters.stalling = false
    nextStall = Date.now() + config.stallEvery * (0.75 + 0.5 * random())
  }
}
