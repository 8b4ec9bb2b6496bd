/**
 * replicate()'s backoff against a server that ends every walsender soon after it starts
 * streaming (a watchdog's pg_terminate_backend, here the test's): as the listener's
 * (backoff.ts, lostAfter), only a connection that streamed at least as long as the wait before
 * it starts the backoff over, so such a server is not reconnected to every minDelay for ever
 * and maxAttempts ends the stream; and onReconnect's attempt is numbered since the backoff last
 * started over, as the listener's 'reconnecting' event is.
 */
import { describe, expect, test } from 'vitest'
import type { Connection } from '../../src/protocol/io/connection.ts'
import { ReplicationError, type ReplicationChange } from '../../src/replication.ts'
import { insertsUntil, replicationDatabase } from '../support/replication.ts'

const db = replicationDatabase('replication_backoff')
const pg = db.pg

let serial = 0
/** A table, its publication and a slot (made here, so that no walsender is killed while making it). */
async function setup(): Promise<{ sql: Connection; table: string }> {
  const table = `repl_backoff_${process.pid}_${++serial}`
  return { sql: await db.publishedSlot(table), table }
}

/** Inserts `id` and reads until the stream hands it out (what was not acknowledged may come first); false if the stream ended. */
async function deliver(sql: Connection, table: string, iterator: AsyncIterator<ReplicationChange>, id: number): Promise<boolean> {
  await sql.query(`INSERT INTO ${table} VALUES (${id})`)
  return (await insertsUntil(iterator, id)).includes(id)
}

/** The watchdog: ends the walsender streaming from the slot now. */
async function kill(sql: Connection, table: string): Promise<void> {
  const [result] = await sql.query(`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '${table}' AND active_pid IS NOT NULL`)
  expect(result!.rows).toEqual([['t']])
}

const supported = (pg.serverVersion ?? 180000) >= 140000

describe.runIf(supported)('replicate() reconnecting', () => {
  test('a walsender ended each time soon after it streams: each such connection counts as a failed attempt, and maxAttempts ends the stream with a ReplicationError', async () => {
    const { sql, table } = await setup()
    const attempts: number[] = []
    // Each connection below streams for one insert's round trip, far less than the 1.5 s wait
    // (at least) before it.
    const { iterator } = db.open(table, { reconnect: { minDelay: 1500, maxDelay: 6000, maxAttempts: 2 }, onReconnect: ({ attempt }) => attempts.push(attempt) })
    // The first connection, and the two reconnects maxAttempts allows, each stream a change and are ended.
    for (const id of [1, 2, 3]) {
      expect(await deliver(sql, table, iterator, id)).toBe(true)
      await kill(sql, table)
    }
    // Before, a connection that heard anything started the backoff over: the stream came back
    // here, a fourth time, and would have for ever, every minDelay.
    const gaveUp = deliver(sql, table, iterator, 4)
    await expect(gaveUp).rejects.toThrow(ReplicationError)
    await expect(gaveUp).rejects.toThrow(/gave up reconnecting after 2 attempts; the last one streamed, and was lost after \d+ ms/)
    expect(attempts).toEqual([1, 2])
  })

  test('a connection that streamed longer than the wait before it starts the count over: onReconnect says attempt 1 again', async () => {
    const { sql, table } = await setup()
    const attempts: number[] = []
    const { iterator } = db.open(table, { reconnect: { minDelay: 10, maxDelay: 10 }, onReconnect: ({ attempt }) => attempts.push(attempt) })
    expect(await deliver(sql, table, iterator, 1)).toBe(true)
    await kill(sql, table)
    expect(await deliver(sql, table, iterator, 2)).toBe(true)
    // What is tested is a connection up for longer than the 10 ms wait before it: time passing
    // is the condition itself, not a stand-in for an event.
    await new Promise((resolve) => setTimeout(resolve, 200))
    await kill(sql, table)
    expect(await deliver(sql, table, iterator, 3)).toBe(true)
    // Before, the count went on over a stream's whole life: 1, 2.
    expect(attempts).toEqual([1, 1])
  })
})
