/**
 * listener.changes() and listener.ddlChanges(): one call from a table (or a database) to typed
 * change events, against the real server, with names that need quoting.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { NoPrimaryKeyError, PayloadError, removeDdlTrigger, type RowChange, type TcnChange } from '../../src/listener/changes/index.ts'
import type { DdlChange, FeedItem } from '../../src/listener/feeds.ts'
import type { Connection } from '../../src/protocol/io/connection.ts'
import { connectSuperuser } from '../support/connect.ts'
import { listener } from '../support/listener.ts'

const tag = Math.random().toString(36).slice(2, 8)
const schema = `feeds "${tag}" ü`
const q = (name: string) => `"${name.replaceAll('"', '""')}"`
let admin: Connection

beforeAll(async () => {
  admin = await connectSuperuser()
  await admin.query(`CREATE SCHEMA ${q(schema)}`)
})
afterAll(async () => {
  await admin.query(`DROP SCHEMA ${q(schema)} CASCADE`)
  await admin.close()
})

/** The next `count` items of an iterator, without ending it. */
async function take<T>(iterator: AsyncIterator<T>, count: number): Promise<T[]> {
  const items: T[] = []
  while (items.length < count) {
    const result = await iterator.next()
    if (result.done) break
    items.push(result.value)
  }
  return items
}

describe('listener.changes()', () => {
  test('the JSON row feed: a multi-row insert, an update of the key, a delete', async () => {
    const table = 'Orders "2024".v1'
    const t = `${q(schema)}.${q(table)}`
    await admin.query(`CREATE TABLE ${t} (id int PRIMARY KEY, "the note" text)`)
    const l = await listener()
    const changes = l.changes({ schema, table })
    await changes.ready
    await admin.query(`INSERT INTO ${t} VALUES (1, 'one'), (2, 'two'); UPDATE ${t} SET id = 3 WHERE id = 2; DELETE FROM ${t} WHERE id = 1`)
    const events = (await take(changes, 4)) as RowChange[]
    expect(events.map((e) => [e.kind, e.operation, e.key])).toEqual([
      ['row', 'INSERT', { id: '1' }],
      ['row', 'INSERT', { id: '2' }],
      ['row', 'UPDATE', { id: '3' }],
      ['row', 'DELETE', { id: '1' }],
    ])
    expect(events[2]).toMatchObject({ schema, table, oldKey: { id: '2' }, old: { id: 2, 'the note': 'two' }, new: { id: 3, 'the note': 'two' } })
    expect(events[0]).toMatchObject({ row: { id: 1, 'the note': 'one' }, truncated: false })
    await changes.return?.()
  })

  test('the tcn feed keeps only its own table\'s events from the shared channel', async () => {
    const [mine, other] = [`tcn mine ${tag}`, `tcn other ${tag}`]
    for (const table of [mine, other]) await admin.query(`CREATE TABLE ${q(schema)}.${q(table)} (k text PRIMARY KEY)`)
    const l = await listener()
    const changes = l.changes({ schema, table: mine }, { feed: 'tcn' })
    await changes.ready
    const otherFeed = l.changes({ schema, table: other }, { feed: 'tcn' }) // installs the other table's trigger
    await otherFeed.ready
    await otherFeed.return?.()
    await admin.query(`INSERT INTO ${q(schema)}.${q(other)} VALUES ('theirs'); INSERT INTO ${q(schema)}.${q(mine)} VALUES ('it''s mine')`)
    const [event] = (await take(changes, 1)) as TcnChange[]
    expect(event).toMatchObject({ kind: 'tcn', table: mine, operation: 'INSERT', key: { k: "it's mine" } })
    await changes.return?.()
  })

  test('a payload that cannot be decoded arrives as a PayloadError, not dropped', async () => {
    const table = `bad payload ${tag}`
    await admin.query(`CREATE TABLE ${q(schema)}.${q(table)} (id int PRIMARY KEY)`)
    const l = await listener()
    const changes = l.changes({ schema, table })
    await changes.ready
    const channel = [...l.channels][0]!
    await admin.query(`SELECT pg_notify('${channel.replaceAll("'", "''")}', 'not json')`)
    const [item] = await take(changes, 1)
    expect(item).toBeInstanceOf(PayloadError)
    expect((item as PayloadError).payload).toBe('not json')
    await changes.return?.()
  })

  test('a table without a primary key: the setup error comes from the first next()', async () => {
    const table = `no key ${tag}`
    await admin.query(`CREATE TABLE ${q(schema)}.${q(table)} (x int)`)
    const l = await listener()
    const changes = l.changes({ schema, table })
    await expect(changes.next()).rejects.toBeInstanceOf(NoPrimaryKeyError)
    await expect(changes.ready).rejects.toBeInstanceOf(NoPrimaryKeyError)
  })

  test('a Gap passes through a feed after a reconnect', async () => {
    const table = `gap ${tag}`
    await admin.query(`CREATE TABLE ${q(schema)}.${q(table)} (id int PRIMARY KEY)`)
    const l = await listener({ reconnect: { minDelay: 50, maxDelay: 500 } })
    const changes = l.changes({ schema, table })
    await changes.ready
    await admin.query(`SELECT pg_terminate_backend(${l.processId})`)
    const [gap] = await take(changes, 1)
    expect(gap).toMatchObject({ type: 'Gap' })
    await admin.query(`INSERT INTO ${q(schema)}.${q(table)} VALUES (7)`)
    const [after] = (await take(changes, 1)) as RowChange[]
    expect(after).toMatchObject({ operation: 'INSERT', key: { id: '7' } })
    await changes.return?.()
  })
})

describe('listener.ddlChanges()', () => {
  test('create, alter and drop a table arrive as typed events', async () => {
    const l = await listener()
    const name = `pglisten_ddl_${tag}`
    const ddl = l.ddlChanges({ name })
    try {
      await ddl.ready
      const table = `${q(schema)}.${q(`ddl table ${tag}`)}`
      await admin.query(`CREATE TABLE ${table} (id int)`)
      await admin.query(`ALTER TABLE ${table} ADD COLUMN note text`)
      await admin.query(`DROP TABLE ${table}`)
      // Other test files run DDL too: keep only events about our schema.
      const ours: DdlChange[] = []
      while (ours.length < 3) {
        const [item] = (await take(ddl, 1)) as FeedItem<DdlChange>[]
        const event = item as DdlChange
        if (event.kind === 'ddl' && event.schema === schema && event.objectType === 'table') ours.push(event)
      }
      expect(ours.map((e) => [e.event, e.tag])).toEqual([
        ['ddl_command_end', 'CREATE TABLE'],
        ['ddl_command_end', 'ALTER TABLE'],
        ['sql_drop', 'DROP TABLE'],
      ])
    } finally {
      await ddl.return?.()
      await removeDdlTrigger(admin, { name })
    }
  })
})
