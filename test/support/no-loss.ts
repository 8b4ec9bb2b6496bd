/**
 * The no-loss check (RELIABILITY.md): writers commit numbered events to an outbox table, each
 * in its own transaction with its NOTIFY, while faults from faults.ts are injected at random
 * (seeded); a listener reads them with outbox(listener). Every event must be handled exactly
 * once: none missing, none twice, in cursor order. The short form runs in `npm test`
 * (no-loss.test.ts), the full one by bench/reliability/no-loss.ts.
 * Imports src (the listener, connect) and the test support.
 */
import fc from 'fast-check'
import { createListener } from '../../src/index.ts'
import { outbox } from '../../src/outbox.ts'
import { connect, type ConnectOptions } from '../../src/protocol/index.ts'
import type { Connection } from '../../src/protocol/io/connection.ts'
import type { Cluster } from '../harness/cluster.ts'
import type { FaultProxy } from './fault-proxy.ts'
import { faults, superuserOptions, type Fault } from './faults.ts'

export interface NoLossOptions {
  events: number
  faults: number
  seed: number
  /** How long the `down` fault keeps the server stopped (ms). */
  downFor: number
  /** Writers committing at the same time (events are dealt out among them). */
  writers?: number
  /** Told each fault as it is injected. */
  log?: (line: string) => void
}

export interface NoLossResult {
  seed: number
  events: number
  /** The faults injected, in order. */
  injected: string[]
  /** Events never handled, handled twice, and handled out of cursor order. */
  missing: number[]
  duplicated: number[]
  outOfOrder: number
  gaps: number
  reconnects: number
  /** Outbox reads that failed (the connection was lost meanwhile) and were retried. */
  failedReads: number
  /** Writer transactions that failed and were retried (their insert is idempotent). */
  retriedWrites: number
  durationMs: number
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Waits for `check`, polling; throws with `what` after `ms`. */
async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`no-loss check: ${what} did not happen within ${ms} ms`)
    await sleep(10)
  }
}

export async function runNoLoss(primary: Cluster, proxy: FaultProxy, options: NoLossOptions): Promise<NoLossResult> {
  const started = Date.now()
  const table = `pglisten_outbox_${options.seed >>> 0}`
  const channel = table
  const direct = superuserOptions(primary.server)
  const admin = await connect(direct)
  await admin.query(`DROP TABLE IF EXISTS ${table}; CREATE TABLE ${table} (id bigserial PRIMARY KEY, n integer UNIQUE NOT NULL)`)
  await admin.close()

  // The seeded choices: which fault each time, and the pause before it.
  const usable = faults.filter((f) => !f.permanent)
  const plan = fc.sample(fc.tuple(fc.constantFrom(...usable), fc.integer({ min: 0, max: 300 })), { seed: options.seed, numRuns: options.faults })

  const listener = await createListener({
    ...direct,
    host: '127.0.0.1',
    port: proxy.port,
    heartbeat: { interval: 500 },
    reconnect: { minDelay: 50, maxDelay: 500, attemptTimeout: 1000 },
  })
  let gaps = 0
  let failedReads = 0
  listener.on('gap', () => void gaps++)
  listener.on('error', () => void failedReads++)

  // The consumer: every event the outbox yields, in the order it yields them.
  const handled: { id: bigint; n: number }[] = []
  const events = outbox(listener, {
    channel,
    read: async (after: string | undefined, signal) => {
      const [result] = await listener.query(`SELECT id, n FROM ${table} WHERE id > ${BigInt(after ?? 0)} ORDER BY id LIMIT 500`, { signal })
      return result!.rows.map(([id, n]) => ({ id: id!, n: Number(n) }))
    },
    cursor: (event) => event.id,
    retry: { minDelay: 50, maxDelay: 500 },
    readTimeout: 2000, // a read on a stalled connection is given up, and its connection dropped
  })
  const consuming = (async () => {
    for await (const event of events) handled.push({ id: BigInt(event.id), n: event.n })
  })()

  // The writers, slice by slice: the first before any fault, each other one right after its
  // fault is injected, so that its events are committed while the listener is cut off. After
  // the last slice nothing more is written: only the Gap can make the reader look again.
  const writers = options.writers ?? 2
  const slices = options.faults + 1
  let retriedWrites = 0
  const connections: (Connection | undefined)[] = new Array(writers).fill(undefined)
  const write = async (w: number, n: number) => {
    for (;;) {
      try {
        connections[w] ??= await connect({ ...direct, connectTimeout: 2 })
        // The advisory lock makes ids commit in increasing order across writers (see README, outbox).
        await connections[w]!.query(
          `BEGIN; SELECT pg_advisory_xact_lock(${options.seed >>> 0}); INSERT INTO ${table} (n) VALUES (${n}) ON CONFLICT (n) DO NOTHING; ` +
            `SELECT pg_notify('${channel}', ''); COMMIT`,
        )
        return
      } catch {
        retriedWrites++
        void connections[w]?.close().catch(() => {})
        connections[w] = undefined
        await sleep(50)
      }
    }
  }
  const writeSlice = (slice: number) => {
    const first = Math.floor((options.events * slice) / slices) + 1
    const last = Math.floor((options.events * (slice + 1)) / slices)
    return Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        for (let n = first + w; n <= last; n += writers) await write(w, n)
      }),
    )
  }
  const injected: string[] = []
  try {
    await writeSlice(0)
    for (let slice = 1; slice < slices; slice++) {
      const [fault, pause] = plan[slice - 1]!
      await until(() => listener.stats.connected, 30_000, 'the listener reconnecting before the next fault')
      await sleep(pause)
      const before = listener.stats.reconnects
      const { healed } = await inject(fault, primary, proxy, listener.processId, options.downFor)
      injected.push(fault.name)
      options.log?.(`fault ${slice} of ${options.faults}: ${fault.name}`)
      await Promise.all([writeSlice(slice), healed])
      await until(() => listener.stats.reconnects > before, 30_000, `the listener recovering from ${fault.name}`)
    }
    await until(() => handled.length >= options.events, 20_000, `handling all ${options.events} events (${handled.length} so far)`).catch(() => {})
  } finally {
    await listener.close()
    await consuming.catch(() => {})
    for (const c of connections) await c?.close().catch(() => {})
  }

  const count = new Map<number, number>()
  for (const { n } of handled) count.set(n, (count.get(n) ?? 0) + 1)
  const missing: number[] = []
  for (let n = 1; n <= options.events; n++) if (!count.has(n)) missing.push(n)
  return {
    seed: options.seed,
    events: options.events,
    injected,
    missing,
    duplicated: [...count].filter(([, c]) => c > 1).map(([n]) => n),
    outOfOrder: handled.filter((e, i) => i > 0 && e.id <= handled[i - 1]!.id).length,
    gaps,
    reconnects: listener.stats.reconnects,
    failedReads,
    retriedWrites,
    durationMs: Date.now() - started,
  }
}

function inject(fault: Fault, primary: Cluster, proxy: FaultProxy, pid: number | undefined, downFor: number) {
  return fault.inject({ primary, proxy, listenerPid: () => pid, downFor })
}
