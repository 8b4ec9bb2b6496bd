/**
 * What replication tests share: a test file's database with a table, publications and a slot
 * per test, and streams from it closed after each test; reading a stream on until its first row
 * change, a given insert, or its end; and, for the CLI's replicate, waiting for a condition with
 * words for its failure, for a slot to be let go, and reading where a slot's consumer confirmed.
 */
import { afterEach } from 'vitest'
import { ReplicationStream, type ReplicationChange, type ReplicationOptions } from '../../src/replication.ts'
import { connect as connectTo } from '../../src/protocol/index.ts'
import type { ConnectOptions } from '../../src/protocol/io/connect.ts'
import type { Connection } from '../../src/protocol/io/connection.ts'
import { parseLsn, type Lsn } from '../../src/protocol/replication/lsn.ts'
import { connectSuperuser, databaseOfItsOwn, optionsFor, server } from './connect.ts'

/** What opens a stream's connections: connect() itself, or a test's wrapper around it. */
type Connect = (options: ConnectOptions) => Promise<Connection>

/**
 * A test file's database of its own (slots are per database: see databaseOfItsOwn), and, for
 * each test, a table with its publications and a slot, and streams from it. After each test the
 * streams are closed first, then what the test left to clean up runs, last first: a slot is
 * dropped only once its walsender has let it go, which it does when its stream is closed.
 */
export function replicationDatabase(label: string) {
  const pg = server()
  const database = databaseOfItsOwn(label)
  const streams: ReplicationStream[] = []
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    await Promise.all(streams.splice(0).map((s) => s.close().catch(() => undefined)))
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })
  return {
    pg,
    database,
    /** Runs `cleanup` after the test, before what was left to clean up earlier. */
    cleanup(cleanup: () => Promise<void>): void {
      cleanups.push(cleanup)
    },
    /**
     * Makes the table `name` (id int PRIMARY KEY), `publications` of it, and the pgoutput slot
     * `name`, here rather than through replicate() so that a test can kill walsenders without
     * killing the one making the slot; returns the superuser connection that made them.
     */
    async publishedSlot(name: string, publications: readonly string[] = [name]): Promise<Connection> {
      const sql = await connectSuperuser({ database })
      await sql.query(`CREATE TABLE ${name} (id int PRIMARY KEY); ${publications.map((p) => `CREATE PUBLICATION ${p} FOR TABLE ${name}`).join('; ')}`)
      await sql.query(`SELECT pg_create_logical_replication_slot('${name}', 'pgoutput')`)
      cleanups.push(async () => {
        await untilInactive(sql, name)
        await sql.query(`SELECT pg_drop_replication_slot('${name}')`)
        await sql.close()
      })
      return sql
    },
    /**
     * A stream from the slot `slot` (of the publication of the same name unless `options` says
     * others) as the superuser over TCP, with `options.connection` added to that; opened through
     * `connect`, as replicate() does unless a test wraps it to watch or slow its connections.
     */
    open(slot: string, options: Partial<Omit<ReplicationOptions, 'connection'>> & { connection?: Partial<ConnectOptions> } = {}, connect: Connect = connectTo): { stream: ReplicationStream; iterator: AsyncIterator<ReplicationChange> } {
      const connection = { ...optionsFor(pg.superuser, 'tcp', { database }), ...options.connection }
      const stream = new ReplicationStream({ publications: [slot], ...options, slot, connection }, connect)
      streams.push(stream)
      return { stream, iterator: stream[Symbol.asyncIterator]() }
    },
  }
}

/** The ids of the inserts handed out until the stream hands out `last` (it is then in them) or ends. */
export async function insertsUntil(iterator: AsyncIterator<ReplicationChange>, last: number, ids: unknown[] = []): Promise<unknown[]> {
  for (;;) {
    const next = await iterator.next()
    if (next.done) return ids
    if (next.value.kind === 'insert') ids.push(next.value.row['id'])
    if (ids.includes(last)) return ids
  }
}

/** Reads `iterator` to its end, for a test that expects the stream to end, or fail. */
export async function untilEnd(iterator: AsyncIterator<unknown>): Promise<void> {
  for (let next = await iterator.next(); !next.done; next = await iterator.next());
}

/**
 * Reads `iterator` until it hands out an insert (returned, with what came before it, in `rest`)
 * or ends; rejects as the stream does. A test that expects the stream to fail (a slot moved past
 * what it acknowledged) sees, if it did not, the change that the move skipped to in `rest`.
 */
export async function untilFirstInsert(iterator: AsyncIterator<ReplicationChange>, rest: ReplicationChange[]): Promise<void> {
  for (;;) {
    const { value, done } = await iterator.next()
    if (done) return
    rest.push(value)
    if (value.kind === 'insert') return
  }
}

/** Resolves once `done()` holds, asking every 20 ms; fails, saying `what`, after `ms`. */
export async function until(done: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Resolves once the slot `slot` has no walsender streaming from it (or is gone), so it can be dropped. */
export async function untilInactive(sql: Connection, slot: string): Promise<void> {
  await until(async () => {
    const [result] = await sql.query(`SELECT active FROM pg_replication_slots WHERE slot_name = '${slot}'`)
    return result!.rows.length === 0 || result!.rows[0]![0] === 'f'
  }, `slot ${slot} to be let go`)
}

export async function confirmedFlush(sql: Connection, slot: string): Promise<Lsn> {
  const [result] = await sql.query(`SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '${slot}'`)
  return parseLsn(result!.rows[0]![0]!)
}
