/**
 * A table feed refuses at its setup a relation that cannot have the row trigger it reads (a
 * view, a materialized view, a sequence, an index, a composite type), with install: false as
 * with an install, and with CREATE TRIGGER's own SQLSTATE, 42809 wrong_object_type. Against the
 * real server, with tcn from contrib.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { changes, type ChangesOptions } from '../../src/changes.ts'
import { DatabaseError } from '../../src/protocol/errors.ts'
import { admin, q, schemasOfItsOwn, tag } from '../support/feed-schemas.ts'
import { listener } from '../support/listener.ts'

const schema = `relkind ${tag}`
const at = (name: string) => `${q(schema)}.${q(name)}`
const wrapper = `relkind wrapper ${tag}`
const server = `relkind server ${tag}`
schemasOfItsOwn(schema)

// Each with the detail PostgreSQL gives when CREATE TRIGGER is tried on it (CreateTrigger).
const untriggerable = [
  ['a view', 'a view', 'Views cannot have row-level BEFORE or AFTER triggers.'],
  ['a materialized view', 'a matview', 'This operation is not supported for materialized views.'],
  ['a sequence', 'a sequence', 'This operation is not supported for sequences.'],
  ['an index', 'an index', 'This operation is not supported for indexes.'],
  ['a composite type', 'a type', 'This operation is not supported for composite types.'],
] as const

beforeAll(async () => {
  await admin.query(`CREATE EXTENSION IF NOT EXISTS tcn`)
  await admin.query(`CREATE TABLE ${at('base')} (id int PRIMARY KEY)`)
  // Auto-updatable: a write through it reaches the base table, whose triggers fire, not its own.
  await admin.query(`CREATE VIEW ${at('a view')} AS SELECT id FROM ${at('base')}`)
  await admin.query(`CREATE MATERIALIZED VIEW ${at('a matview')} AS SELECT id FROM ${at('base')}`)
  await admin.query(`CREATE SEQUENCE ${at('a sequence')}`)
  await admin.query(`CREATE INDEX ${q('an index')} ON ${at('base')} (id)`)
  await admin.query(`CREATE TYPE ${at('a type')} AS (id int)`)
  // A foreign table can have row triggers (they fire for writes made through it here): taken.
  // No handler: the wrapper is never asked for a row.
  await admin.query(`CREATE FOREIGN DATA WRAPPER ${q(wrapper)}`)
  await admin.query(`CREATE SERVER ${q(server)} FOREIGN DATA WRAPPER ${q(wrapper)}`)
  await admin.query(`CREATE FOREIGN TABLE ${at('a foreign table')} (id int) SERVER ${q(server)}`)
})

afterAll(async () => {
  // Before the schema's drop (after-hooks run last-registered first): CASCADE takes the foreign table.
  await admin.query(`DROP SERVER ${q(server)} CASCADE`)
  await admin.query(`DROP FOREIGN DATA WRAPPER ${q(wrapper)}`)
})

/** What the feed's setup rejected with, or undefined if it was done. */
const refusal = (feed: { ready: Promise<void> }) =>
  feed.ready.then(
    () => undefined,
    (error: unknown) => error,
  )

// A rows feed with install: false looked its table up only with removeOnClose (for the removal);
// without it, it sent nothing to the server, and so could not check: it now looks all the same.
const kinds: [feed: 'tcn' | 'rows', extra: ChangesOptions][] = [
  ['tcn', {}],
  ['rows', { removeOnClose: true }],
  ['rows', {}],
]

describe.each(kinds)('a %s feed %o', (kind, extra) => {
  // Found by review: before, `ready` resolved and the feed waited for changes no trigger could
  // send (a write through the view fires the base table's triggers), saying nothing.
  test.each(untriggerable)('install: false on %s: refused at its setup with 42809, as CREATE TRIGGER refuses it, not left waiting for nothing', async (_what, name, detail) => {
    const l = await listener()
    const feed = changes(l, { schema, table: name }, { feed: kind, channel: `${kind} ${name} ${tag}`, install: false, ...extra })
    const refused = await refusal(feed)
    expect(refused).toBeInstanceOf(DatabaseError)
    expect(refused).toMatchObject({ code: '42809', message: expect.stringContaining(at(name)), detail })
    await expect(feed.next()).rejects.toBe(refused) // the first next() says so too
    expect(await feed.next()).toEqual({ value: undefined, done: true })
    // The check ran on the listener's query connection, which goes on.
    expect((await l.query('SELECT 1'))[0]!.rows).toEqual([['1']])
  })

  // Before, a view was refused as a table with no primary key (NoPrimaryKeyError, whose advice,
  // ALTER TABLE ... ADD PRIMARY KEY, a view cannot take); the others at LOCK TABLE, with 42809.
  test.each(untriggerable)('an install on %s: refused with 42809 and why', async (_what, name, detail) => {
    const l = await listener()
    const feed = changes(l, { schema, table: name }, { feed: kind, channel: `${kind} ${name} ${tag}`, ...extra })
    const refused = await refusal(feed)
    expect(refused).toBeInstanceOf(DatabaseError)
    expect(refused).toMatchObject({ code: '42809', message: expect.stringContaining(at(name)), detail })
    await expect(feed.next()).rejects.toBe(refused)
  })

  test('install: false on a table or a foreign table, which can have row triggers: taken', async () => {
    const l = await listener()
    for (const name of ['base', 'a foreign table']) {
      const feed = changes(l, { schema, table: name }, { feed: kind, channel: `${kind} ${name} ${tag}`, install: false, ...extra })
      await feed.ready
      await feed.return!()
    }
  })
})

test('install: false, a rows feed on a table that does not exist: taken, as before (its removal has nothing to do)', async () => {
  const l = await listener()
  const feed = changes(l, { schema, table: 'not there' }, { channel: `missing ${tag}`, install: false, removeOnClose: true })
  await feed.ready
  await feed.return!()
})
