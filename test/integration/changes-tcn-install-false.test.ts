/**
 * A tcn feed with install: false (the trigger is the user's to install): it follows its table
 * through a rename by the OID it finds at its setup, so the table must be there then, as an
 * install's must. Against the real server, with tcn from contrib.
 */
import { expect, test } from 'vitest'
import { changes, installTcnTrigger, type TcnChange } from '../../src/changes.ts'
import { DatabaseError } from '../../src/protocol/errors.ts'
import { admin, q, schemasOfItsOwn, tag, upToMarker } from '../support/feed-schemas.ts'
import { listener } from '../support/listener.ts'

// Quotes and a dot in both names, and a schema off the search_path: found by OID all the same.
const schema = `install false "${tag}".x`
const at = (table: string) => `${q(schema)}.${q(table)}`
schemasOfItsOwn(schema)

test('install: false on a table that does not exist yet: the feed is refused at its setup (42P01, as an install is), not left to lose the table at its first rename', async () => {
  const l = await listener()
  const feed = changes(l, { schema, table: 'later "one".t' }, { feed: 'tcn', channel: `later ${tag}`, install: false })
  // Before: `ready` resolved, the OID unknown. The feed kept the changes that named the table as
  // given, and after ALTER TABLE ... RENAME dropped every one, saying nothing.
  const refused = await feed.ready.then(
    () => undefined,
    (error: unknown) => error,
  )
  expect(refused).toBeInstanceOf(DatabaseError)
  expect(refused).toMatchObject({ code: '42P01', message: expect.stringContaining('later "one".t') })
  await expect(feed.next()).rejects.toBe(refused) // the first next() says so too
  expect(await feed.next()).toEqual({ value: undefined, done: true })
  // The look-up ran on the listener's query connection, which goes on.
  expect((await l.query('SELECT 1'))[0]!.rows).toEqual([['1']])
})

test('install: false on a table that exists, its trigger installed by the user: followed through a rename', async () => {
  const channel = `there ${tag}`
  await admin.query(`CREATE TABLE ${at('there "one".t')} (id int PRIMARY KEY)`)
  await installTcnTrigger(admin, { schema, table: 'there "one".t' }, { channel })
  const l = await listener()
  const feed = changes(l, `${q(schema)}.${q('there "one".t')}`, { feed: 'tcn', channel, install: false })
  await feed.ready
  await admin.query(`INSERT INTO ${at('there "one".t')} VALUES (1)`)
  await admin.query(`ALTER TABLE ${at('there "one".t')} RENAME TO ${q('there "two".t')}`)
  await admin.query(`INSERT INTO ${at('there "two".t')} VALUES (2)`)
  await admin.query(`INSERT INTO ${at('there "two".t')} VALUES (3)`)
  const events = (await upToMarker(feed)) as TcnChange[]
  expect(events.map((e) => [e.type, e.table, e.key])).toEqual([
    ['TcnChange', 'there "one".t', { id: '1' }],
    ['TcnChange', 'there "two".t', { id: '2' }],
    ['TcnChange', 'there "two".t', { id: '3' }],
  ])
  await feed.return?.()
})
