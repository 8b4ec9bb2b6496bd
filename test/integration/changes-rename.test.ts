/**
 * A table feed whose table is renamed while it is open: a tcn feed (whose payload names the
 * table as it is now) follows it by its OID, and removeOnClose removes the trigger from the
 * table under its new name, where RENAME left it. Against the real server, with tcn from contrib.
 */
import { expect, test } from 'vitest'
import { changes, installTcnTrigger, rowChangeChannel, type TcnChange } from '../../src/changes.ts'
import { PayloadError } from '../../src/listener/changes/index.ts'
import { quoteLiteral } from '../../src/listener/sql.ts'
import { admin, q, schemasOfItsOwn, tag, upToMarker } from '../support/feed-schemas.ts'
import { listener } from '../support/listener.ts'

const schema = `rename "${tag}" ü`
const at = (table: string) => `${q(schema)}.${q(table)}`
schemasOfItsOwn(schema)

const count = async (sql: string) => Number((await admin.query(sql))[0]!.rows[0]![0])

test("a tcn feed follows its table through ALTER TABLE ... RENAME; another table's changes, and a new table under the old name, stay out", async () => {
  const channel = `tcn rename ${tag}`
  await admin.query(`CREATE TABLE ${at('orders')} (id int PRIMARY KEY); CREATE TABLE ${at('other')} (id int PRIMARY KEY)`)
  await installTcnTrigger(admin, { schema, table: 'other' }, { channel })
  const l = await listener()
  const feed = changes(l, { schema, table: 'orders' }, { feed: 'tcn', channel })
  await feed.ready
  const theirs = changes(l, { schema, table: 'orders' }, { feed: 'tcn', channel, install: false }) // finds the table without installing
  await theirs.ready
  await admin.query(`INSERT INTO ${at('orders')} VALUES (1)`)
  await admin.query(`ALTER TABLE ${at('orders')} RENAME TO ${q('orders, old')}`)
  await admin.query(`INSERT INTO ${at('orders, old')} VALUES (2)`)
  await admin.query(`INSERT INTO ${at('other')} VALUES (3)`)
  await admin.query(`CREATE TABLE ${at('orders')} (id int CONSTRAINT ${q('orders again key')} PRIMARY KEY)`) // the first kept orders_pkey
  await installTcnTrigger(admin, { schema, table: 'orders' }, { channel })
  await admin.query(`INSERT INTO ${at('orders')} VALUES (4)`)
  await admin.query(`UPDATE ${at('orders, old')} SET id = 5 WHERE id = 2`)
  // Before: only the first; tcn named the table "orders, old" and the feed dropped the rest, saying nothing.
  for (const f of [feed, theirs]) {
    const events = (await upToMarker(f)) as TcnChange[]
    expect(events.map((e) => [e.type, e.table, e.operation, e.key])).toEqual([
      ['TcnChange', 'orders', 'INSERT', { id: '1' }],
      ['TcnChange', 'orders, old', 'INSERT', { id: '2' }],
      ['TcnChange', 'orders, old', 'UPDATE', { id: '2' }],
    ])
    await f.return?.()
  }
})

test.each(['rows', 'tcn'] as const)('removeOnClose after ALTER TABLE ... RENAME and SET SCHEMA: the %s feed removes its trigger from the table where it is now', async (kind) => {
  const [table, renamed, elsewhere] = [`removed ${kind}`, `removed ${kind}, renamed`, `rename elsewhere ${tag} ${kind}`]
  await admin.query(`CREATE TABLE ${at(table)} (id int PRIMARY KEY); CREATE SCHEMA ${q(elsewhere)}`)
  try {
    const l = await listener()
    const feed = changes(l, { schema, table }, { feed: kind, removeOnClose: true })
    await feed.ready
    await admin.query(`ALTER TABLE ${at(table)} RENAME TO ${q(renamed)}; ALTER TABLE ${at(renamed)} SET SCHEMA ${q(elsewhere)}`)
    const now = `${q(elsewhere)}.${q(renamed)}`
    const triggers = () => count(`SELECT count(*) FROM pg_catalog.pg_trigger WHERE tgrelid = ${quoteLiteral(now)}::pg_catalog.regclass AND NOT tgisinternal`)
    expect(await triggers()).toBe(1)
    // Before: the removal named the table as it was. tcn's DROP TRIGGER IF EXISTS found no such
    // table and skipped; the rows feed's DROP FUNCTION failed, the trigger depending on it.
    await feed.return?.()
    expect(await triggers()).toBe(0)
    // The rows trigger's function stays in the schema it was made in, under the name it was made with.
    expect(await count(`SELECT count(*) FROM pg_catalog.pg_proc WHERE proname = ${quoteLiteral(rowChangeChannel({ schema, table }))}`)).toBe(0)
  } finally {
    await admin.query(`DROP SCHEMA ${q(elsewhere)} CASCADE`)
  }
})

test("a tcn feed whose table takes a name another table had: its changes under that name are its own, though that name was once another's", async () => {
  const channel = `tcn name reused ${tag}`
  await admin.query(`CREATE TABLE ${at('mine')} (id int PRIMARY KEY); CREATE TABLE ${at('theirs')} (id int PRIMARY KEY)`)
  await installTcnTrigger(admin, { schema, table: 'theirs' }, { channel })
  const l = await listener()
  const feed = changes(l, { schema, table: 'mine' }, { feed: 'tcn', channel })
  await feed.ready
  await admin.query(`INSERT INTO ${at('theirs')} VALUES (1)`)
  expect(await upToMarker(feed)).toEqual([]) // another table's: the feed has placed the name "theirs"
  // A swap of names, as a migration does: this feed's table is now called "theirs".
  await admin.query(`ALTER TABLE ${at('theirs')} RENAME TO ${q('theirs, old')}; ALTER TABLE ${at('mine')} RENAME TO ${q('theirs')}`)
  await admin.query(`INSERT INTO ${at('theirs')} VALUES (2)`)
  await admin.query(`INSERT INTO ${at('theirs, old')} VALUES (3)`)
  // Before: only a PayloadError, for the other table's change 3, that said nothing of change 2:
  // "theirs" was remembered as another table's, never looked up again, and change 2, the feed's
  // own, was dropped unseen. Now "theirs" is trusted as another's for a second: change 2 is
  // followed if it is read after that second, or passed by within it; either way one
  // PayloadError says that changes under "theirs" may have been passed by, and none is unseen.
  const events = await upToMarker(feed)
  expect(events).toHaveLength(1)
  expect(events[0]).toBeInstanceOf(PayloadError)
  expect((events[0] as PayloadError).message).toContain(`this feed's table is now called "theirs", another table's name a moment before, and its changes under it until now may have been passed by`)
  await feed.return?.()
})
