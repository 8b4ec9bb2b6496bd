/**
 * A tcn feed with install: false refuses at its setup what an install would refuse, since the
 * trigger the user installed could not serve it either. Against the real server, with tcn from
 * contrib.
 */
import { expect, test } from 'vitest'
import { changes } from '../../src/changes.ts'
import { DatabaseError } from '../../src/protocol/errors.ts'
import { admin, q, schemasOfItsOwn, tag } from '../support/feed-schemas.ts'
import { listener } from '../support/listener.ts'

const schema = `install false refusals ${tag}`
schemasOfItsOwn(schema)

// Found by review: only the install checked for a partitioned table. Its row trigger, made by
// hand on the parent, is cloned to each partition, and tcn names the partition in each change
// (RelationGetRelationName): the feed looked that name up, found it another table's, and
// passed every change by, saying nothing.
test('install: false on a partitioned table: refused at its setup (0A000), as an install is, not left to pass every change by', async () => {
  const table = `${q(schema)}.${q('parted')}`
  await admin.query(`CREATE TABLE ${table} (id int PRIMARY KEY) PARTITION BY RANGE (id)`)
  await admin.query(`CREATE TABLE ${q(schema)}.${q('parted one')} PARTITION OF ${table} FOR VALUES FROM (0) TO (100)`)
  await admin.query(`CREATE EXTENSION IF NOT EXISTS tcn`)
  const l = await listener()
  const feed = changes(l, { schema, table: 'parted' }, { feed: 'tcn', channel: `parted ${tag}`, install: false })
  const refused = await feed.ready.then(
    () => undefined,
    (error: unknown) => error,
  )
  expect(refused).toBeInstanceOf(DatabaseError)
  expect(refused).toMatchObject({ code: '0A000' })
  await expect(feed.next()).rejects.toBe(refused)
  expect(await feed.next()).toEqual({ value: undefined, done: true })
  // The check ran on the listener's query connection, which goes on.
  expect((await l.query('SELECT 1'))[0]!.rows).toEqual([['1']])
})
