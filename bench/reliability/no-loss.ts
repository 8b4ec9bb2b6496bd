/**
 * The no-loss check, full form: 20,000 events committed by two writers, each in its own
 * transaction with its NOTIFY, while 50 faults are injected at random (seeded, the seed
 * printed), on a throwaway PostgreSQL behind the fault proxy; every event must be handled
 * exactly once through outbox(listener). Exits 1 if one is missing, doubled or out of order.
 *
 *   npm run reliability:no-loss -- [--events 20000] [--faults 50] [--seed N] [--down-for 10000] [--out PATH.json]
 */
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { startCluster } from '../../test/harness/cluster.ts'
import { startFaultProxy } from '../../test/support/fault-proxy.ts'
import { runNoLoss } from '../../test/support/no-loss.ts'

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '20000' },
    faults: { type: 'string', default: '50' },
    seed: { type: 'string' },
    'down-for': { type: 'string', default: '10000' },
    out: { type: 'string' },
  },
})
const seed = values.seed === undefined ? (Math.random() * 2 ** 31) | 0 : Number(values.seed)
const options = { events: Number(values.events), faults: Number(values.faults), seed, downFor: Number(values['down-for']) }
for (const [name, value] of Object.entries(options)) if (!Number.isInteger(value)) throw new RangeError(`--${name} must be an integer`)

console.log(`no-loss check: ${options.events} events, ${options.faults} faults, seed ${seed}`)
const cluster = await startCluster()
const proxy = await startFaultProxy(cluster.server.host, cluster.server.port)
try {
  const result = await runNoLoss(cluster, proxy, { ...options, log: (line) => console.log(`  ${line}`) })
  const tally = new Map<string, number>()
  for (const f of result.injected) tally.set(f, (tally.get(f) ?? 0) + 1)
  const kinds = [...tally].map(([f, n]) => `${f} ${n}`)
  const v = cluster.server.serverVersion ?? 0
  console.log(`PostgreSQL ${Math.floor(v / 10000)}.${v % 10000}, seed ${seed}, ${(result.durationMs / 1000).toFixed(1)} s`)
  console.log(`faults: ${kinds.join(', ')}`)
  console.log(`events ${result.events}: missing ${result.missing.length}, duplicated ${result.duplicated.length}, out of order ${result.outOfOrder}`)
  console.log(`listener: ${result.reconnects} reconnects, ${result.gaps} gaps; ${result.failedReads} outbox reads failed and retried; ${result.retriedWrites} writer transactions retried`)
  if (values.out) writeFileSync(values.out, JSON.stringify({ serverVersion: cluster.server.serverVersion, ...result }, null, 2) + '\n')
  process.exitCode = result.missing.length + result.duplicated.length + result.outOfOrder === 0 ? 0 : 1
} finally {
  await proxy.close()
  await cluster.stop()
}
