/**
 * A table feed keeps its table's changes where the row's own table is another: a partitioned
 * table (its row trigger fires as a clone on each partition, under the partition's name) and a
 * table renamed or moved to another schema while the feed listens. tcn, whose payload can only
 * name the partition, is refused on a partitioned table rather than dropping every change.
 */
import { expect, test } from 'vitest'
import { changes, type RowChange } from '../../src/changes.ts'
import { quoteLiteral } from '../../src/listener/sql.ts'
import { DatabaseError } from '../../src/protocol/errors.ts'
import { admin, q, schemasOfItsOwn, tag, upToMarker } from '../support/feed-schemas.ts'
import { listener } from '../support/listener.ts'

// Two schemas off the search_path, with names that need quoting (and a % and a backslash, which
// the trigger function carries through format() and a literal): the partition lives in the other.
const [schema, elsewhere] = [`parts "${tag}" ü 100%s \\x`, `parts, elsewhere ${tag}`]
schemasOfItsOwn(schema, elsewhere)

test('a rows feed on a partitioned table yields the changes to its partitions, naming the partition', async () => {
  const parent = `${q(schema)}.${q('Measure "m"')}`
  await admin.query(`CREATE TABLE ${parent} (id int, at int, v text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)`)
  await admin.query(`CREATE TABLE ${q(elsewhere)}.${q('p1')} PARTITION OF ${parent} FOR VALUES FROM (0) TO (10)`)
  const l = await listener()
  const feed = changes(l, { schema, table: 'Measure "m"' })
  await feed.ready
  // A partition attached after the install gets the trigger too.
  await admin.query(`CREATE TABLE ${q(schema)}.${q('p2')} PARTITION OF ${parent} FOR VALUES FROM (10) TO (20)`)
  await admin.query(`INSERT INTO ${parent} VALUES (1, 5, 'a'), (2, 15, 'b')`)
  await admin.query(`UPDATE ${parent} SET v = 'c' WHERE id = 1`)
  await admin.query(`DELETE FROM ${parent} WHERE id = 2`)
  const events = (await upToMarker(feed)) as RowChange[]
  const installedOn = { schema, table: 'Measure "m"' }
  expect(events.map((e) => [e.operation, e.schema, e.table, e.installedOn, e.key])).toEqual([
    ['INSERT', elsewhere, 'p1', installedOn, { id: 1, at: 5 }],
    ['INSERT', schema, 'p2', installedOn, { id: 2, at: 15 }],
    ['UPDATE', elsewhere, 'p1', installedOn, { id: 1, at: 5 }],
    ['DELETE', schema, 'p2', installedOn, { id: 2, at: 15 }],
  ])
  await feed.return?.()
})

test('a rows feed keeps its table through ALTER TABLE ... RENAME and SET SCHEMA, and says what the table was installed as', async () => {
  await admin.query(`CREATE TABLE ${q(schema)}.${q('before')} (id int PRIMARY KEY)`)
  const l = await listener()
  const feed = changes(l, { schema, table: 'before' })
  await feed.ready
  await admin.query(`INSERT INTO ${q(schema)}.${q('before')} VALUES (1)`)
  await admin.query(`ALTER TABLE ${q(schema)}.${q('before')} RENAME TO ${q('after, renamed')}`)
  await admin.query(`INSERT INTO ${q(schema)}.${q('after, renamed')} VALUES (2)`)
  await admin.query(`ALTER TABLE ${q(schema)}.${q('after, renamed')} SET SCHEMA ${q(elsewhere)}`)
  await admin.query(`INSERT INTO ${q(elsewhere)}.${q('after, renamed')} VALUES (3)`)
  const events = (await upToMarker(feed)) as RowChange[]
  expect(events.map((e) => [e.schema, e.table, e.installedOn, e.key])).toEqual([
    [schema, 'before', undefined, { id: 1 }], // installed on this very table: no installedOn
    [schema, 'after, renamed', { schema, table: 'before' }, { id: 2 }],
    [elsewhere, 'after, renamed', { schema, table: 'before' }, { id: 3 }],
  ])
  expect('installedOn' in events[0]!).toBe(false)
  await feed.return?.()
})

test('a tcn feed on a partitioned table is refused at setup, not left to drop every change', async () => {
  const parent = `${q(schema)}.${q('tcn parent')}`
  await admin.query(`CREATE TABLE ${parent} (id int PRIMARY KEY) PARTITION BY RANGE (id)`)
  const l = await listener()
  const feed = changes(l, { schema, table: 'tcn parent' }, { feed: 'tcn', channel: `tcn parts ${tag}` })
  const error = await feed.ready.then(() => undefined, (e: unknown) => e)
  expect(error).toBeInstanceOf(DatabaseError)
  expect(error).toMatchObject({ code: '0A000', message: expect.stringContaining('is a partitioned table') })
  const triggers = await admin.query(`SELECT count(*) FROM pg_trigger WHERE tgrelid = ${quoteLiteral(parent)}::regclass`)
  expect(triggers[0]!.rows[0]![0]).toBe('0')
  await expect(feed.next()).rejects.toBe(error)
})

test('a new table under a renamed table\'s old name: its feed is refused while the renamed table has the trigger, and the first feed keeps only the renamed table\'s changes', async () => {
  const [old, moved] = [`${q(schema)}.${q('reused')}`, `${q(schema)}.${q('reused, renamed')}`]
  await admin.query(`CREATE TABLE ${old} (id int PRIMARY KEY)`)
  const l = await listener()
  const first = changes(l, { schema, table: 'reused' })
  await first.ready
  await admin.query(`ALTER TABLE ${old} RENAME TO ${q('reused, renamed')}`)
  await admin.query(`CREATE TABLE ${old} (other int PRIMARY KEY)`)
  // Before: the install replaced the function both triggers call, and each feed took both
  // tables' changes (the renamed table's with the new one's key column, so a PayloadError).
  const second = changes(l, { schema, table: 'reused' })
  const error = await second.ready.then(() => undefined, (e: unknown) => e)
  expect(error).toBeInstanceOf(DatabaseError)
  expect(error).toMatchObject({ code: '55006', message: expect.stringContaining(`${q(schema)}.${q('reused, renamed')}, renamed from this name`) })
  await admin.query(`INSERT INTO ${moved} VALUES (1)`)
  await admin.query(`INSERT INTO ${old} VALUES (2)`)
  const events = (await upToMarker(first)) as RowChange[]
  expect(events.map((e) => [e.table, e.installedOn, e.key])).toEqual([['reused, renamed', { schema, table: 'reused' }, { id: 1 }]])
  await first.return?.()
})
