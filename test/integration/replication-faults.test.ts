/**
 * A replication stream through the faults that lose changes elsewhere: the server restarted
 * mid-stream (fast shutdown, every connection cut) and a transaction far larger than memory
 * should hold. On a cluster of its own, so that restarting it disturbs no other test file.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { connect } from '../../src/protocol/index.ts'
import type { Connection } from '../../src/protocol/io/connection.ts'
import { replicate, type ReplicationChange } from '../../src/replication.ts'
import { startCluster, type Cluster } from '../harness/cluster.ts'
import { isolated, server } from '../support/connect.ts'

let cluster: Cluster
/** pglisten/replication needs PostgreSQL 14; the matrix also runs 13 (replication-stream.test.ts checks the refusal there). */
const supported = (server().serverVersion ?? 180000) >= 140000
const options = () => ({ ...isolated, host: '127.0.0.1', port: cluster.server.port, user: 'postgres', database: 'postgres', sslmode: 'disable' as const })

const ids = (changes: readonly ReplicationChange[]) => changes.flatMap((c) => (c.kind === 'insert' ? [c.row['id'] as number] : []))

describe.runIf(supported)('a replication stream', () => {
  beforeAll(async () => {
    cluster = await startCluster()
  }, 120_000)
  afterAll(async () => {
    await cluster?.stop()
  })

  test('a server restarted mid-stream: the stream comes back, every change is delivered, none acknowledged comes again', async () => {
    const sql = await connect(options())
    await sql.query('CREATE TABLE restarted (id int PRIMARY KEY); CREATE PUBLICATION restarted FOR TABLE restarted')
    await sql.close()
    const stream = replicate({ connection: options(), slot: 'restarted', publications: ['restarted'], create: true, reconnect: { minDelay: 50, maxDelay: 500 } })
    const iterator = stream[Symbol.asyncIterator]()
    await stream.ready
    const write = async (from: number, to: number) => {
      const c = await connect(options())
      for (let id = from; id <= to; id++) await c.query(`INSERT INTO restarted VALUES (${id})`)
      await c.close()
    }
    await write(1, 20)
    const seen: ReplicationChange[] = []
    while (!(ids(seen).includes(20) && seen.at(-1)?.kind === 'commit')) seen.push((await iterator.next()).value as ReplicationChange)
    // Asking for the next acknowledges the last commit. A fast shutdown waits until the stream
    // has confirmed everything the walsender sent (walsender.c, WalSndDone): a change held
    // unacknowledged would hold the shutdown, as with any logical replication client.
    const next = iterator.next()
    await cluster.restart()
    await write(21, 40)
    seen.push((await next).value as ReplicationChange)
    while (!ids(seen).includes(40)) seen.push((await iterator.next()).value as ReplicationChange)
    expect(ids(seen)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1))
    await stream.close()
  }, 60_000)

  test('a 100 MB transaction streams through with memory bounded by highWater, not by the transaction', async () => {
    const sql: Connection = await connect(options())
    await sql.query('CREATE TABLE big (id int PRIMARY KEY, body text); CREATE PUBLICATION big FOR TABLE big')
    const stream = replicate({ connection: options(), slot: 'big', publications: ['big'], create: true, highWater: 500 })
    const iterator = stream[Symbol.asyncIterator]()
    await stream.ready
    // 100,000 rows of 1,000 bytes: the server spills it to disk and sends it at the commit.
    await sql.query("INSERT INTO big SELECT g, repeat(md5(g::text), 31) || '12345678' FROM generate_series(1, 100000) g")
    await sql.close()
    global.gc?.()
    const baseline = process.memoryUsage().heapUsed
    let peak = 0
    let rows = 0
    let bytes = 0
    for (;;) {
      const { value } = await iterator.next()
      if (value?.kind === 'insert') {
        rows++
        bytes += (value.row['body'] as string).length
        if (rows === 1000) {
          // A consumer that stalls for 3 s: long enough for the server to send the whole
          // transaction, if nothing stopped reading. The backlog must wait in PostgreSQL.
          await new Promise((resolve) => setTimeout(resolve, 3000))
          peak = Math.max(peak, process.memoryUsage().heapUsed - baseline)
        }
        if (rows % 10_000 === 0) peak = Math.max(peak, process.memoryUsage().heapUsed - baseline)
      }
      if (value?.kind === 'commit') break
    }
    expect(rows).toBe(100_000)
    expect(bytes).toBe(100_000 * 1000)
    // Holding it all would take far more than 100 MB of heap; 500 queued rows take well under 1 MB.
    expect(peak).toBeLessThan(48 * 1024 * 1024)
    await stream.close()
  }, 120_000)
})
