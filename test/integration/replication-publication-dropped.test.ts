/**
 * A publication dropped while replicate() streams from it. PostgreSQL 18's pgoutput skips a
 * publication missing at that point of the WAL with only a WARNING, where older servers end the
 * walsender with an ERROR: either way the stream ends with an error naming it, rather than go on
 * handing out nothing of its changes. Dropped and made again, it is read again (PostgreSQL 18).
 */
import { describe, expect, test } from 'vitest'
import type { Connection } from '../../src/protocol/io/connection.ts'
import type { ReplicationChange } from '../../src/replication.ts'
import { insertsUntil, replicationDatabase } from '../support/replication.ts'

const db = replicationDatabase('replication_publication_dropped')
const pg = db.pg

let serial = 0
async function setup(): Promise<{ sql: Connection; name: string; iterator: AsyncIterator<ReplicationChange> }> {
  const name = `repl_pubdrop_${process.pid}_${++serial}`
  const sql = await db.publishedSlot(name)
  const { iterator } = db.open(name, { reconnect: { minDelay: 10, maxDelay: 100 } })
  return { sql, name, iterator }
}

describe.runIf((pg.serverVersion ?? 180000) >= 140000)('a publication dropped while replicate() streams', () => {
  test('dropped for good: the stream ends with an error naming it, instead of handing out nothing of its changes for ever', async () => {
    const { sql, name, iterator } = await setup()
    await sql.query(`INSERT INTO ${name} VALUES (1)`)
    expect(await insertsUntil(iterator, 1)).toEqual([1])
    await sql.query(`DROP PUBLICATION ${name}`)
    await sql.query(`INSERT INTO ${name} VALUES (2)`)
    // Before, on PostgreSQL 18, this waited for ever: the walsender skipped the publication with a WARNING.
    await expect(insertsUntil(iterator, 2)).rejects.toThrow(new RegExp(`publication "?${name}"? does not exist`))
  })

  test.runIf((pg.serverVersion ?? 180000) >= 180000)('dropped and made again (PostgreSQL 18): the stream goes on, with the changes made after it was made again', async () => {
    const { sql, name, iterator } = await setup()
    await sql.query(`INSERT INTO ${name} VALUES (1)`)
    expect(await insertsUntil(iterator, 1)).toEqual([1])
    await sql.query(`DROP PUBLICATION ${name}`)
    await sql.query(`INSERT INTO ${name} VALUES (2)`)
    await sql.query(`CREATE PUBLICATION ${name} FOR TABLE ${name}`)
    await sql.query(`INSERT INTO ${name} VALUES (3)`)
    // 2 was published by nothing: the server skips it. 1 may come again (its commit was not acknowledged).
    expect(await insertsUntil(iterator, 3)).toContain(3)
  })
})
