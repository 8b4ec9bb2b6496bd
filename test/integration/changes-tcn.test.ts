/**
 * tcn on the real PostgreSQL: what the extension actually sends parses as expected (inserts,
 * updates, deletes, a composite key, hostile names), and the installer is idempotent, leaves
 * nothing behind, refuses tables without a primary key, and survives concurrent installs.
 * Tables live in a schema of this file's own; the extension is shared and never dropped here.
 */
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { NoPrimaryKeyError, PayloadError } from '../../src/listener/changes/errors.ts'
import { decodeTcnChange, type TcnChange } from '../../src/listener/changes/tcn-payload.ts'
import { installTcnTrigger, removeTcnTrigger } from '../../src/listener/changes/tcn-trigger.ts'
import { quoteIdentifier, quoteLiteral } from '../../src/listener/sql.ts'
import type { NotificationResponse } from '../../src/protocol/backend/messages.ts'
import type { Connection } from '../../src/protocol/io/connection.ts'
import { connectSuperuser, eventually, server } from '../support/connect.ts'

const schema = `tcn "feed". ü ${randomUUID().slice(0, 8)}`
const qs = quoteIdentifier(schema)
// One channel for this file: tcn's default 'tcn' may be heard by other files' tables too.
const channel = `tcn ${randomUUID().slice(0, 8)}`
let writer: Connection
let listener: Connection
const heard: NotificationResponse[] = []

beforeAll(async () => {
  writer = await connectSuperuser()
  listener = await connectSuperuser({ onNotification: (n) => heard.push(n) })
  await writer.query(`CREATE SCHEMA ${qs}`)
  await listener.query(`LISTEN ${quoteIdentifier(channel)}`)
})
afterAll(async () => {
  await writer?.query(`DROP SCHEMA IF EXISTS ${qs} CASCADE`)
  await Promise.all([writer?.close(), listener?.close()])
})

/** Everything heard before a marker the writer sends now (NOTIFY delivers in commit order). */
async function changes(): Promise<TcnChange[]> {
  const marker = `marker ${randomUUID()}`
  await writer.query(`SELECT pg_notify(${quoteLiteral(channel)}, ${quoteLiteral(marker)})`)
  await eventually(() => heard.some((n) => n.payload === marker))
  return heard.splice(0).slice(0, -1).map((n) => {
    const change = decodeTcnChange(n)
    if (change instanceof PayloadError) throw change
    return change
  })
}

const count = async (sql: string) => Number((await writer.query(sql))[0]!.rows[0]![0])

async function table(name: string, columns: string) {
  await writer.query(`CREATE TABLE ${qs}.${quoteIdentifier(name)} (${columns})`)
  return { target: { schema, table: name }, sql: `${qs}.${quoteIdentifier(name)}` }
}

describe("tcn's own payloads", () => {
  test('insert, update, delete with a composite key and hostile names', async () => {
    const name = `Tä ble, "x"='y' $pglisten$`
    const { target, sql } = await table(name, `"i d" int, "k'ey" text, v text, PRIMARY KEY ("k'ey", "i d")`)
    await installTcnTrigger(writer, target, { channel })
    await writer.query(`INSERT INTO ${sql} VALUES (1, 'it''s, "a" =\nb', 'v'), (2, '', 'w')`)
    await writer.query(`UPDATE ${sql} SET "i d" = 10 WHERE "i d" = 1`)
    await writer.query(`DELETE FROM ${sql} WHERE "i d" = 10`)
    const common = { type: 'TcnChange', kind: 'tcn', channel, processId: writer.processId, table: name, columns: ["k'ey", 'i d'] }
    expect(await changes()).toEqual([
      { ...common, operation: 'INSERT', key: { "k'ey": 'it\'s, "a" =\nb', 'i d': '1' } },
      { ...common, operation: 'INSERT', key: { "k'ey": '', 'i d': '2' } },
      // tcn sends the old row's key for an update (tg_trigtuple): 1, not 10.
      { ...common, operation: 'UPDATE', key: { "k'ey": 'it\'s, "a" =\nb', 'i d': '1' } },
      { ...common, operation: 'DELETE', key: { "k'ey": 'it\'s, "a" =\nb', 'i d': '10' } },
    ])
  })

  test('the key is in the primary key index order, and INCLUDE columns are not part of it', async () => {
    const { target, sql } = await table('included', `a int, b int, c int, PRIMARY KEY (b, a) INCLUDE (c)`)
    await installTcnTrigger(writer, target, { channel })
    await writer.query(`INSERT INTO ${sql} VALUES (1, 2, 3)`)
    expect((await changes()).map((c) => [c.columns, c.key])).toEqual([[['b', 'a'], { b: '2', a: '1' }]])
  })

  test('values are the type output text', async () => {
    const { target, sql } = await table('typed', `at timestamptz, n numeric, PRIMARY KEY (at, n)`)
    await installTcnTrigger(writer, target, { channel })
    await writer.query(`SET TIME ZONE 'UTC'; INSERT INTO ${sql} VALUES ('2024-02-29 12:00:00+00', 1.50)`)
    expect((await changes())[0]!.key).toEqual({ at: '2024-02-29 12:00:00+00', n: '1.50' })
  })

  test('NOTIFY folds equal payloads in one transaction: insert, delete, insert again arrive as I, D', async () => {
    // A limit of tcn's format that the JSON row trigger avoids with its seq number.
    const { target, sql } = await table('folded', `id int PRIMARY KEY`)
    await installTcnTrigger(writer, target, { channel })
    await writer.query(`BEGIN; INSERT INTO ${sql} VALUES (1); DELETE FROM ${sql}; INSERT INTO ${sql} VALUES (1); COMMIT`)
    expect((await changes()).map((c) => c.operation)).toEqual(['INSERT', 'DELETE'])
  })
})

describe('installing and removing', () => {
  const triggers = (sql: string) => count(`SELECT count(*) FROM pg_trigger WHERE tgname = 'pglisten_tcn' AND tgrelid = to_regclass(${quoteLiteral(sql)})`)

  test("tcn's default channel is tcn", async () => {
    const { target, sql } = await table('default', `id int PRIMARY KEY`)
    expect((await installTcnTrigger(writer, target)).channel).toBe('tcn')
    const [result] = await writer.query(`SELECT tgnargs, tgargs FROM pg_trigger WHERE tgname = 'pglisten_tcn' AND tgrelid = to_regclass(${quoteLiteral(sql)})`)
    expect(result!.rows).toEqual([['1', '\\x74636e00']]) // one argument: 'tcn', NUL-terminated
  })

  test('installing twice leaves one trigger and one event per change; removing leaves nothing', async () => {
    const { target, sql } = await table('twice', `id int PRIMARY KEY`)
    await installTcnTrigger(writer, target, { channel })
    await installTcnTrigger(writer, target, { channel })
    expect(await triggers(sql)).toBe(1)
    await writer.query(`INSERT INTO ${sql} VALUES (1)`)
    expect(await changes()).toHaveLength(1)
    await removeTcnTrigger(writer, target)
    await removeTcnTrigger(writer, target)
    expect(await triggers(sql)).toBe(0)
    await writer.query(`INSERT INTO ${sql} VALUES (2)`)
    expect(await changes()).toEqual([])
    // The extension stays: other triggers, not pglisten's, may use it.
    expect(await count(`SELECT count(*) FROM pg_extension WHERE extname = 'tcn'`)).toBe(1)
  })

  test('a table without a primary key: NoPrimaryKeyError at install, not at the first write', async () => {
    const { target, sql } = await table('no key', `id int`)
    const error = await installTcnTrigger(writer, target, { channel }).catch((e) => e)
    expect(error).toBeInstanceOf(NoPrimaryKeyError)
    expect(error.table).toMatchObject({ schema, table: 'no key' })
    expect(await triggers(sql)).toBe(0)
  })
})

describe.runIf(server().kind !== 'url')('in a database of its own', () => {
  test('six installs at once on six tables, the extension not yet there: all succeed', async () => {
    const database = `pglisten tcn ${randomUUID().slice(0, 8)}`
    await writer.query(`CREATE DATABASE ${quoteIdentifier(database)}`)
    const connections: Connection[] = []
    try {
      connections.push(...(await Promise.all(Array.from({ length: 6 }, () => connectSuperuser({ database })))))
      await connections[0]!.query(connections.map((_, i) => `CREATE TABLE t${i} (id int PRIMARY KEY)`).join(';'))
      // Without the installer's care, all but one would fail: 23505 on pg_extension_name_index.
      await Promise.all(connections.map((c, i) => installTcnTrigger(c, `public.t${i}`)))
      const [result] = await connections[0]!.query(`SELECT count(*) FROM pg_trigger WHERE tgname = 'pglisten_tcn'`)
      expect(result!.rows).toEqual([['6']])
    } finally {
      await Promise.all(connections.map((c) => c.close()))
      await writer.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(database)}`)
    }
  })
})
