/**
 * A tcn feed whose table is dropped and created again under the same name: what it hears, and
 * what it says, as the README tells it (the README said before that the new table's changes
 * came through: not without a trigger, which went with the old table). Against the real
 * server, with tcn from contrib.
 */
import { expect, test } from 'vitest'
import { changes, installTcnTrigger, type TcnChange } from '../../src/changes.ts'
import { PayloadError } from '../../src/listener/changes/errors.ts'
import { admin, q, schemasOfItsOwn, tag, upToMarker } from '../support/feed-schemas.ts'
import { listener } from '../support/listener.ts'

const schema = `recreated ${tag}`
const at = (table: string) => `${q(schema)}.${q(table)}`
schemasOfItsOwn(schema)

/** What the feed kept up to a marker: [table, id] of each change, or the PayloadError. */
const heard = async (feed: Parameters<typeof upToMarker>[0]) =>
  (await upToMarker(feed)).map((item) => (item instanceof PayloadError ? item : [(item as TcnChange).table, (item as TcnChange).key.id]))

test('dropped and created again: the trigger the feed installed went with the table, and the new one sends nothing, unsaid; once a trigger is put on it, its changes come through, and its rename is said once, then passed by', async () => {
  const channel = `recreated ${tag}`
  await admin.query(`CREATE TABLE ${at('t')} (id int PRIMARY KEY)`)
  const l = await listener()
  const feed = changes(l, { schema, table: 't' }, { feed: 'tcn', channel }) // installs its trigger
  await feed.ready
  await admin.query(`INSERT INTO ${at('t')} VALUES (1)`)
  expect(await heard(feed)).toEqual([['t', '1']])

  // DROP TABLE drops its triggers ("DROP TABLE"): the new table has none, nothing notifies,
  // and the feed, which installed at its setup only, has nothing to say. The changes are lost.
  await admin.query(`DROP TABLE ${at('t')}`)
  await admin.query(`CREATE TABLE ${at('t')} (id int PRIMARY KEY)`)
  await admin.query(`INSERT INTO ${at('t')} VALUES (2)`)
  expect(await heard(feed)).toEqual([])

  // With a trigger on the new table (the user's, as a migration or another feed's setup would
  // put there), its changes come through: they name the feed's table by name.
  await installTcnTrigger(admin, { schema, table: 't' }, { channel })
  await admin.query(`INSERT INTO ${at('t')} VALUES (3)`)
  expect(await heard(feed)).toEqual([['t', '3']])

  // Renamed: the feed looks up the OID it found at its setup, the dropped table's. The first
  // change under the new name is a PayloadError saying the table is dropped; later ones under
  // that name are passed by, saying nothing.
  await admin.query(`ALTER TABLE ${at('t')} RENAME TO ${q('t2')}`)
  await admin.query(`INSERT INTO ${at('t2')} VALUES (4)`)
  await admin.query(`INSERT INTO ${at('t2')} VALUES (5)`)
  const [said, ...rest] = await heard(feed)
  expect(said).toBeInstanceOf(PayloadError)
  expect((said as PayloadError).message).toContain('names table "t2", which this feed\'s table (now dropped) may have been called then')
  expect(rest).toEqual([])
  await feed.return!()
})
