/**
 * A rows feed with install: false only listens: the look at its table that it now makes (that
 * it can have a row trigger at all, checks.ts) must not need more than that, such as USAGE on
 * the table's schema, which to_regclass and the regclass cast check. Found by review: the feed's
 * `ready` rejected with 42501 "permission denied for schema", where before the look it was taken.
 */
import { afterAll, beforeAll, expect, test } from 'vitest'
import { changes } from '../../src/changes.ts'
import { admin, q, schemasOfItsOwn, tag } from '../support/feed-schemas.ts'
import { listener } from '../support/listener.ts'

const schema = `review13 ${tag}`
const role = `review13 reader ${tag}`
schemasOfItsOwn(schema)

beforeAll(async () => {
  await admin.query(`CREATE TABLE ${q(schema)}.${q('t')} (id int PRIMARY KEY)`)
  await admin.query(`CREATE VIEW ${q(schema)}.${q('v')} AS SELECT id FROM ${q(schema)}.${q('t')}`)
  // A role that may LISTEN and nothing else: no USAGE on the schema.
  await admin.query(`CREATE ROLE ${q(role)}`)
})
afterAll(async () => {
  await admin.query(`DROP ROLE ${q(role)}`)
})

/** A listener whose queries (the feeds' look-ups among them) run as `role`. */
async function asReader() {
  const l = await listener()
  await l.query(`SET ROLE ${q(role)}`)
  return l
}

test('install: false, a rows feed heard by a role with no USAGE on its schema: taken, and it hears the changes', async () => {
  const l = await asReader()
  const channel = `rows ${tag}`
  const feed = changes(l, { schema, table: 't' }, { channel, install: false })
  await feed.ready
  await admin.query(`SELECT pg_notify('${channel}', 'not a row change')`)
  const { value } = await feed.next()
  expect(value).toMatchObject({ payload: 'not a row change' }) // a PayloadError: the feed listens
  await feed.return!()
})

test('install: false, a rows feed on a view, heard by that role: still refused with 42809', async () => {
  const l = await asReader()
  const feed = changes(l, { schema, table: 'v' }, { channel: `view ${tag}`, install: false })
  await expect(feed.ready).rejects.toMatchObject({ code: '42809' })
})

test('install: false, a rows feed on a table that is not there, heard by that role: taken, as before', async () => {
  const l = await asReader()
  const feed = changes(l, { schema, table: 'not there' }, { channel: `missing ${tag}`, install: false })
  await feed.ready
  await feed.return!()
})
