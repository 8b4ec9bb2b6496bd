/**
 * The JSON row-change trigger on the real PostgreSQL: what arrives for inserts, updates
 * (of the key too), deletes and multi-row statements; oversized rows; installing twice,
 * removing, concurrent installs; hostile names throughout. Tables live in a schema of this
 * file's own, so other files running at the same time never see them.
 */
import { randomUUID } from 'node:crypto'
import { fc } from '@fast-check/vitest'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { NoPrimaryKeyError, PayloadError } from '../../src/listener/changes/errors.ts'
import { decodeRowChange, type RowChange, type RowInsert } from '../../src/listener/changes/row-change.ts'
import { installRowTrigger, planRowTrigger, removeRowTrigger } from '../../src/listener/changes/row-trigger.ts'
import { quoteIdentifier, quoteLiteral } from '../../src/listener/sql.ts'
import type { NotificationResponse } from '../../src/protocol/backend/messages.ts'
import { DatabaseError } from '../../src/protocol/errors.ts'
import type { Connection } from '../../src/protocol/io/connection.ts'
import { connectSuperuser, eventually } from '../support/connect.ts'

// Quotes, a dot, spaces and Unicode in every name.
const schema = `rows "feed". ü ${randomUUID().slice(0, 8)}`
const qs = quoteIdentifier(schema)
let writer: Connection
let listener: Connection
const heard: NotificationResponse[] = []

beforeAll(async () => {
  writer = await connectSuperuser()
  listener = await connectSuperuser({ onNotification: (n) => heard.push(n) })
  await writer.query(`CREATE SCHEMA ${qs}`)
})
afterAll(async () => {
  await writer?.query(`DROP SCHEMA IF EXISTS ${qs} CASCADE`)
  await Promise.all([writer?.close(), listener?.close()])
})

async function listen(channel: string): Promise<void> {
  await listener.query(`LISTEN ${quoteIdentifier(channel)}`)
}

/**
 * Everything heard on `channel` before a marker sent now, from the writer, in a transaction of
 * its own: NOTIFY delivers in commit order, so when the marker arrives all that the writer
 * committed before it has arrived, and nothing can come later.
 */
async function drain(channel: string): Promise<NotificationResponse[]> {
  const marker = `marker ${randomUUID()}`
  await writer.query(`SELECT pg_notify(${quoteLiteral(channel)}, ${quoteLiteral(marker)})`)
  await eventually(() => heard.some((n) => n.payload === marker))
  const mine = heard.filter((n) => n.channel === channel)
  heard.splice(0, heard.length, ...heard.filter((n) => n.channel !== channel))
  return mine.slice(0, mine.findIndex((n) => n.payload === marker))
}

async function changes(channel: string): Promise<RowChange[]> {
  return (await drain(channel)).map((n) => {
    const change = decodeRowChange(n)
    if (change instanceof PayloadError) throw change
    return change
  })
}

const count = async (sql: string) => Number((await writer.query(sql))[0]!.rows[0]![0])

/** A table of this file's schema; `columns` is the column list of CREATE TABLE. */
async function table(name: string, columns: string) {
  const target = { schema, table: name }
  await writer.query(`CREATE TABLE ${qs}.${quoteIdentifier(name)} (${columns})`)
  return { target, sql: `${qs}.${quoteIdentifier(name)}` }
}

describe('row changes', () => {
  test('inserts, updates and deletes, one event per row, multi-row statements included', async () => {
    const { target, sql } = await table('Or"ders.1 ✓', `"I d" int PRIMARY KEY, "na,me" text, "v=al" text`)
    const { channel } = await installRowTrigger(writer, target)
    await listen(channel)
    await writer.query(`INSERT INTO ${sql} VALUES (1, 'a', 'x'), (2, 'b''s', NULL)`)
    await writer.query(`UPDATE ${sql} SET "v=al" = 'y'`)
    await writer.query(`DELETE FROM ${sql}`)

    const common = { type: 'RowChange', kind: 'row', channel, schema, table: 'Or"ders.1 ✓', truncated: false, processId: writer.processId }
    const row = (id: number, name: string, value: string | null) => ({ 'I d': id, 'na,me': name, 'v=al': value })
    const got = await changes(channel)
    // Within one statement rows fire in scan order, which PostgreSQL does not promise: compare by key.
    const byKey = (list: RowChange[]) => [...list].sort((a, b) => (a.key!['I d'] as number) - (b.key!['I d'] as number))
    expect(got.map((c) => [c.operation, c.seq])).toEqual([['INSERT', 1], ['INSERT', 2], ['UPDATE', 1], ['UPDATE', 2], ['DELETE', 1], ['DELETE', 2]])
    expect(byKey(got.slice(0, 2))).toEqual([
      { ...common, operation: 'INSERT', seq: 1, key: { 'I d': 1 }, row: row(1, 'a', 'x') },
      { ...common, operation: 'INSERT', seq: 2, key: { 'I d': 2 }, row: row(2, "b's", null) },
    ])
    expect(byKey(got.slice(2, 4)).map((c) => c.operation === 'UPDATE' && [c.key, c.oldKey, c.old, c.new])).toEqual([
      [{ 'I d': 1 }, { 'I d': 1 }, row(1, 'a', 'x'), row(1, 'a', 'y')],
      [{ 'I d': 2 }, { 'I d': 2 }, row(2, "b's", null), row(2, "b's", 'y')],
    ])
    expect(byKey(got.slice(4)).map((c) => c.operation === 'DELETE' && [c.key, c.row])).toEqual([
      [{ 'I d': 1 }, row(1, 'a', 'y')],
      [{ 'I d': 2 }, row(2, "b's", 'y')],
    ])
  })

  test('an update of a composite key reports the old key and the new, in primary key order', async () => {
    const { target, sql } = await table('composite', `"a.col" int, "b ""col""" text, v int, PRIMARY KEY ("b ""col""", "a.col")`)
    const { channel } = await installRowTrigger(writer, target)
    await listen(channel)
    await writer.query(`INSERT INTO ${sql} VALUES (1, 'k', 0)`)
    await writer.query(`UPDATE ${sql} SET "a.col" = 2 WHERE "a.col" = 1`)
    const [, update] = await changes(channel)
    expect(update).toMatchObject({ operation: 'UPDATE', key: { 'b "col"': 'k', 'a.col': 2 }, oldKey: { 'b "col"': 'k', 'a.col': 1 } })
    expect(Object.keys(update!.key!)).toEqual(['b "col"', 'a.col'])
  })

  test('key values are typed as the row\'s; a bigint beyond 2^53 arrives exact, as text, in both', async () => {
    const { target, sql } = await table('big', `id bigint PRIMARY KEY, small bigint, name text`)
    const { channel } = await installRowTrigger(writer, target)
    await listen(channel)
    await writer.query(`INSERT INTO ${sql} VALUES (9007199254740993, 42, '12345678901234567890'), (-9007199254740993, 1, 'x')`)
    const [big, negative] = (await changes(channel)) as RowInsert[]
    expect(big!.key).toEqual({ id: '9007199254740993' })
    expect(big!.row).toEqual({ id: '9007199254740993', small: 42, name: '12345678901234567890' })
    expect(negative!.key).toEqual({ id: '-9007199254740993' })
    expect(negative!.row!.id).toBe(negative!.key!.id)
  })

  test('numeric keys with more digits than a double keeps stay apart, exact, as text; short ones are numbers', async () => {
    const { target, sql } = await table('decimal', `id numeric PRIMARY KEY`)
    const { channel } = await installRowTrigger(writer, target)
    await listen(channel)
    await writer.query(`INSERT INTO ${sql} VALUES (0.12345678901234567890); INSERT INTO ${sql} VALUES (0.12345678901234567891); INSERT INTO ${sql} VALUES (9.50)`)
    const got = (await changes(channel)) as RowInsert[]
    expect(got.map((c) => c.key)).toEqual([{ id: '0.12345678901234567890' }, { id: '0.12345678901234567891' }, { id: 9.5 }])
    expect(got.map((c) => c.row!.id)).toEqual(got.map((c) => c.key!.id))
  })

  test('insert, delete and the same insert again in one transaction: three events, none folded by NOTIFY', async () => {
    const { target, sql } = await table('again', `id int PRIMARY KEY`)
    const { channel } = await installRowTrigger(writer, target)
    await listen(channel)
    await writer.query(`BEGIN; INSERT INTO ${sql} VALUES (1); DELETE FROM ${sql}; INSERT INTO ${sql} VALUES (1); COMMIT`)
    expect((await changes(channel)).map((c) => [c.operation, c.seq])).toEqual([['INSERT', 1], ['DELETE', 2], ['INSERT', 3]])
  })

  test('a row whose JSON reaches the payload limit arrives as its key and truncated, and the writer commits', async () => {
    const { target, sql } = await table('wide', `id text PRIMARY KEY, body text`)
    const { channel } = await installRowTrigger(writer, target)
    await listen(channel)
    // 4,000 two-byte characters: 8,000 bytes in UTF8, the limit counts bytes (octet_length).
    await writer.query(`INSERT INTO ${sql} VALUES ('small', 'x'), ('wide', repeat('é', 4000))`)
    await writer.query(`UPDATE ${sql} SET body = body || '!'`)
    await writer.query(`DELETE FROM ${sql} WHERE id = 'wide'`)
    // A key longer than a payload (btree compresses it, so the table takes it): the key goes too.
    await writer.query(`INSERT INTO ${sql} VALUES (repeat('k', 9000), '')`)
    expect(await count(`SELECT count(*) FROM ${sql}`)).toBe(2)
    const got = (await changes(channel)).map((c) => [c.operation, c.truncated, c.key?.['id'] ?? null, c.operation === 'UPDATE' ? c.new : c.row])
    expect(got).toHaveLength(6)
    expect(got).toEqual(expect.arrayContaining([
      ['DELETE', true, 'wide', null],
      ['INSERT', false, 'small', { id: 'small', body: 'x' }],
      ['INSERT', true, null, null],
      ['INSERT', true, 'wide', null],
      ['UPDATE', false, 'small', { id: 'small', body: 'x!' }],
      ['UPDATE', true, 'wide', null],
    ]))
  })

  test('after the key column is renamed, the stale key is a PayloadError that says to install again', async () => {
    const { target, sql } = await table('renamed', `id int PRIMARY KEY`)
    const { channel } = await installRowTrigger(writer, target)
    await listen(channel)
    await writer.query(`ALTER TABLE ${sql} RENAME COLUMN id TO ident`)
    await writer.query(`INSERT INTO ${sql} VALUES (1)`)
    const [stale] = (await drain(channel)).map(decodeRowChange)
    expect(stale).toBeInstanceOf(PayloadError)
    expect((stale as PayloadError).message).toContain('the primary key changed since the trigger was installed; install it again')
    await installRowTrigger(writer, target)
    await writer.query(`INSERT INTO ${sql} VALUES (2)`)
    expect((await changes(channel)).map((c) => c.key)).toEqual([{ ident: 2 }])
  })
})

describe('installing and removing', () => {
  const objects = (plan: ReturnType<typeof planRowTrigger>) =>
    Promise.all([
      count(`SELECT count(*) FROM pg_trigger WHERE tgname = 'pglisten_rows' AND tgrelid = to_regclass(${quoteLiteral(plan.table.quoted)})`),
      count(`SELECT count(*) FROM pg_proc WHERE proname = ${quoteLiteral(plan.function)} AND pronamespace = to_regnamespace(${quoteLiteral(quoteIdentifier(schema))})`),
    ])

  test('installing twice leaves one trigger and sends one event per change; removing leaves nothing', async () => {
    const { target, sql } = await table('twice', `id int PRIMARY KEY`)
    const plan = await installRowTrigger(writer, target)
    expect(await installRowTrigger(writer, target)).toEqual(plan)
    expect(await objects(plan)).toEqual([1, 1])
    await listen(plan.channel)
    await writer.query(`INSERT INTO ${sql} VALUES (1)`)
    expect(await changes(plan.channel)).toHaveLength(1)

    await removeRowTrigger(writer, target)
    await removeRowTrigger(writer, target) // harmless when already gone
    expect(await objects(plan)).toEqual([0, 0])
    await writer.query(`INSERT INTO ${sql} VALUES (2)`)
    expect(await drain(plan.channel)).toEqual([])
  })

  test('removing after the table was dropped still drops the function, which does not depend on it', async () => {
    const { target, sql } = await table('dropped', `id int PRIMARY KEY`)
    const plan = await installRowTrigger(writer, target)
    await writer.query(`DROP TABLE ${sql}`)
    expect(await objects(plan)).toEqual([0, 1])
    await removeRowTrigger(writer, target)
    expect(await objects(plan)).toEqual([0, 0])
  })

  test('a table without a primary key: NoPrimaryKeyError, and nothing created', async () => {
    const { target } = await table('no key', `id int UNIQUE`)
    const error = await installRowTrigger(writer, target).catch((e) => e)
    expect(error).toBeInstanceOf(NoPrimaryKeyError)
    expect(error.cause).toMatchObject({ code: '39P01' })
    expect(await objects(planRowTrigger(target))).toEqual([0, 0])
    expect(writer.transactionStatus).toBe('I')
  })

  test('a table that does not exist: the server says so (42P01)', async () => {
    const error = await installRowTrigger(writer, { schema, table: 'nowhere' }).catch((e) => e)
    expect(error).toBeInstanceOf(DatabaseError)
    expect(error.code).toBe('42P01')
  })

  test('inside the caller transaction block: refused, and the block is left alone', async () => {
    const { target } = await table('in block', `id int PRIMARY KEY`)
    await writer.query('BEGIN')
    await expect(installRowTrigger(writer, target)).rejects.toThrow(TypeError)
    expect(writer.transactionStatus).toBe('T')
    await writer.query('ROLLBACK')
  })

  test('six connections installing on one table at once all succeed, leaving one trigger', async () => {
    const { target } = await table('crowd', `id int PRIMARY KEY`)
    const others = await Promise.all(Array.from({ length: 6 }, () => connectSuperuser()))
    try {
      await Promise.all(others.map((c) => installRowTrigger(c, target)))
    } finally {
      await Promise.all(others.map((c) => c.close()))
    }
    expect(await objects(planRowTrigger(target))).toEqual([1, 1])
  })
})

/** Names PostgreSQL can store (no NUL; 55 bytes leaves room for a suffix), biased to what breaks quoting. */
const hostileName = fc
  .oneof(
    fc.string({ unit: fc.constantFrom('"', "'", '.', ' ', '$', '%', '\\', 'pglisten', 'ü', '😀', ',', '=', 'A'), minLength: 1, maxLength: 8 }),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }),
  )
  .filter((s) => !s.includes('\0') && new TextEncoder().encode(s).length <= 55)

test('any table and column names work: install, insert, update, delete, remove', async () => {
  await fc.assert(
    fc.asyncProperty(hostileName, fc.uniqueArray(hostileName, { minLength: 2, maxLength: 2 }), async (name, [keyColumn, other]) => {
      const { target, sql } = await table(`${name} ${randomUUID().slice(0, 4)}`, `${quoteIdentifier(keyColumn!)} text PRIMARY KEY, ${quoteIdentifier(other!)} text`)
      const { channel } = await installRowTrigger(writer, target)
      await listen(channel)
      await writer.query(`INSERT INTO ${sql} VALUES (${quoteLiteral(name)}, 'v')`)
      await writer.query(`UPDATE ${sql} SET ${quoteIdentifier(keyColumn!)} = ${quoteLiteral(`${name}2`)}`)
      await writer.query(`DELETE FROM ${sql}`)
      const got = await changes(channel)
      expect(got.map((c) => [c.schema, c.table, c.operation, c.key])).toEqual([
        [schema, target.table, 'INSERT', { [keyColumn!]: name }],
        [schema, target.table, 'UPDATE', { [keyColumn!]: `${name}2` }],
        [schema, target.table, 'DELETE', { [keyColumn!]: `${name}2` }],
      ])
      expect(got[1]).toMatchObject({ oldKey: { [keyColumn!]: name }, new: { [keyColumn!]: `${name}2`, [other!]: 'v' } })
      await removeRowTrigger(writer, target)
      await writer.query(`DROP TABLE ${sql}`)
    }),
    { numRuns: 12 },
  )
})
