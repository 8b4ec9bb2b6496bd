/**
 * replicate()'s backoff against a server that ends every walsender soon after it starts
 * streaming (a watchdog's pg_terminate_backend, here the test's): as the listener's
 * (backoff.ts, lostAfter), only a connection that streamed at least as long as the wait before
 * it starts the backoff over, so such a server is not reconnected to every minDelay for ever
 * and maxAttempts ends the stream; and onReconnect's attempt is numbered since the backoff last
 * started over, as the listener's 'reconnecting' event is.
 */
import { afterEach, describe, expect, test } from 'vitest'
import type { Connection } from '../../src/protocol/io/connection.ts'
import { replicate, ReplicationError, type ReplicationChange, type ReplicationOptions, type ReplicationStream } from '../../src/replication.ts'
import { connectSuperuser, databaseOfItsOwn, optionsFor, server } from '../support/connect.ts'
import { untilInactive } from '../support/replication.ts'

const pg = server()
const database = databaseOfItsOwn('replication_backoff')
const streams: ReplicationStream[] = []
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  await Promise.all(streams.splice(0).map((s) => s.close().catch(() => undefined)))
  for (const cleanup of cleanups.splice(0)) await cleanup()
})

let serial = 0
/** A table, its publication and a slot (made here, so that no walsender is killed while making it). */
async function setup(): Promise<{ sql: Connection; table: string }> {
  const sql = await connectSuperuser({ database })
  const table = `repl_backoff_${process.pid}_${++serial}`
  await sql.query(`CREATE TABLE ${table} (id int PRIMARY KEY); CREATE PUBLICATION ${table} FOR TABLE ${table}`)
  await sql.query(`SELECT pg_create_logical_replication_slot('${table}', 'pgoutput')`)
  cleanups.push(async () => {
    await untilInactive(sql, table)
    await sql.query(`SELECT pg_drop_replication_slot('${table}')`)
    await sql.close()
  })
  return { sql, table }
}

function open(table: string, options: Pick<ReplicationOptions, 'reconnect' | 'onReconnect'>): AsyncIterator<ReplicationChange> {
  const stream = replicate({ connection: optionsFor(pg.superuser, 'tcp', { database }), slot: table, publications: [table], ...options })
  streams.push(stream)
  return stream[Symbol.asyncIterator]()
}

/** Inserts `id` and reads until the stream hands it out (what was not acknowledged may come first); false if the stream ended. */
async function deliver(sql: Connection, table: string, iterator: AsyncIterator<ReplicationChange>, id: number): Promise<boolean> {
  await sql.query(`INSERT INTO ${table} VALUES (${id})`)
  for (;;) {
    const next = await iterator.next()
    if (next.done) return false
    if (next.value.kind === 'insert' && next.value.row['id'] === id) return true
  }
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
    const iterator = open(table, { reconnect: { minDelay: 1500, maxDelay: 6000, maxAttempts: 2 }, onReconnect: ({ attempt }) => attempts.push(attempt) })
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
    const iterator = open(table, { reconnect: { minDelay: 10, maxDelay: 10 }, onReconnect: ({ attempt }) => attempts.push(attempt) })
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
