/**
 * The DDL event triggers on the real PostgreSQL. Event triggers fire for the whole database,
 * so other files' DDL, running at the same time, reaches them too: every install here has a
 * name and channel of its own, events are filtered by this file's schema, and each test
 * removes what it installed in `finally`.
 */
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { decodeDdlChange, type DdlChange } from '../../src/listener/changes/ddl-change.ts'
import { installDdlTrigger, removeDdlTrigger, type DdlTriggerOptions } from '../../src/listener/changes/ddl-trigger.ts'
import { PayloadError, SuperuserRequiredError } from '../../src/listener/changes/errors.ts'
import { quoteIdentifier, quoteLiteral } from '../../src/listener/sql.ts'
import type { NotificationResponse } from '../../src/protocol/backend/messages.ts'
import type { Connection } from '../../src/protocol/io/connection.ts'
import { connectSuperuser, eventually } from '../support/connect.ts'

const unique = () => randomUUID().slice(0, 8)
const schema = `ddl "feed". ü ${unique()}`
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

/** Installs with hostile names of this test's own, runs `body`, and always removes. */
async function withDdlTrigger(body: (channel: string, options: DdlTriggerOptions) => Promise<void>): Promise<void> {
  const options = { name: `ddl "t" $pglisten$ ✓ ${unique()}`, schema, channel: `ddl 'c' ${unique()}` }
  try {
    const { channel } = await installDdlTrigger(writer, options)
    await listener.query(`LISTEN ${quoteIdentifier(channel)}`)
    await body(channel, options)
  } finally {
    await removeDdlTrigger(writer, options)
  }
}

/** This file's schema changes heard on `channel` before a marker the writer sends now. */
async function changes(channel: string): Promise<DdlChange[]> {
  const marker = `marker ${randomUUID()}`
  await writer.query(`SELECT pg_notify(${quoteLiteral(channel)}, ${quoteLiteral(marker)})`)
  await eventually(() => heard.some((n) => n.payload === marker))
  const mine = heard.splice(0).filter((n) => n.channel === channel && n.payload !== marker)
  return mine
    .map((n) => {
      const change = decodeDdlChange(n)
      if (change instanceof PayloadError) throw change
      return change
    })
    .filter((change) => change.schema === schema)
}

const count = async (sql: string) => Number((await writer.query(sql))[0]!.rows[0]![0])
const installed = (options: DdlTriggerOptions) =>
  Promise.all([
    count(`SELECT count(*) FROM pg_event_trigger WHERE evtname IN (${quoteLiteral(`${options.name}_end`)}, ${quoteLiteral(`${options.name}_drop`)})`),
    count(`SELECT count(*) FROM pg_proc WHERE proname = ${quoteLiteral(options.name!)} AND pronamespace = to_regnamespace(${quoteLiteral(qs)})`),
  ])

describe('DDL changes', () => {
  test('create, alter and drop a table: one event per object, the drop with what went with it', async () => {
    await withDdlTrigger(async (channel) => {
      const table = `Ev"ent. ✓ ${unique()}`
      const identity = `${qs}.${quoteIdentifier(table)}`
      await writer.query(`CREATE TABLE ${identity} (id int)`)
      await writer.query(`ALTER TABLE ${identity} ADD COLUMN "n o" text`)
      await writer.query(`DROP TABLE ${identity}`)
      const common = { type: 'DdlChange', kind: 'ddl', channel, processId: writer.processId, truncated: false, schema }
      const got = await changes(channel)
      expect(got.slice(0, 2)).toEqual([
        { ...common, event: 'ddl_command_end', seq: 1, tag: 'CREATE TABLE', objectType: 'table', identity },
        { ...common, event: 'ddl_command_end', seq: 1, tag: 'ALTER TABLE', objectType: 'table', identity },
      ])
      // The table, named; its row type and that type's array type, dropped with it.
      const drops = got.slice(2).map((c) => c.event === 'sql_drop' && [c.tag, c.objectType, c.identity, c.original])
      expect(drops.sort()).toEqual([
        ['DROP TABLE', 'table', identity, true],
        ['DROP TABLE', 'type', identity, false],
        ['DROP TABLE', 'type', `${identity}[]`, false],
      ])
      expect(got.slice(2).map((c) => c.seq)).toEqual([1, 2, 3])
    })
  })

  test('the same ALTER twice in one transaction: two events, numbered, none folded by NOTIFY', async () => {
    await withDdlTrigger(async (channel) => {
      const identity = `${qs}.${quoteIdentifier(`twice ${unique()}`)}`
      await writer.query(`CREATE TABLE ${identity} (id int)`)
      await writer.query(`BEGIN; ALTER TABLE ${identity} ALTER id SET DEFAULT 1; ALTER TABLE ${identity} ALTER id SET DEFAULT 1; COMMIT`)
      expect((await changes(channel)).map((c) => [c.tag, c.seq])).toEqual([['CREATE TABLE', 1], ['ALTER TABLE', 1], ['ALTER TABLE', 2]])
    })
  })
})

describe('installing and removing', () => {
  test('installing twice leaves two event triggers and one function, and one event per object; removing leaves nothing', async () => {
    let options!: DdlTriggerOptions
    await withDdlTrigger(async (channel, installedWith) => {
      options = installedWith
      await installDdlTrigger(writer, options)
      expect(await installed(options)).toEqual([2, 1])
      await writer.query(`CREATE TABLE ${qs}.${quoteIdentifier(`once ${unique()}`)} (id int)`)
      expect(await changes(channel)).toHaveLength(1)
    })
    expect(await installed(options)).toEqual([0, 0])
    await removeDdlTrigger(writer, options) // harmless when already gone
  })

  test('a role that is not a superuser: SuperuserRequiredError, and nothing created', async () => {
    const role = `pglisten ddl nobody ${unique()}`
    const options = { name: `ddl refused ${unique()}`, schema }
    await writer.query(`CREATE ROLE ${quoteIdentifier(role)}; GRANT CREATE ON SCHEMA ${qs} TO ${quoteIdentifier(role)}`)
    try {
      await writer.query(`SET ROLE ${quoteIdentifier(role)}`)
      const error = await installDdlTrigger(writer, options).catch((e) => e)
      expect(error).toBeInstanceOf(SuperuserRequiredError)
      expect(error.message).toContain('installing DDL event triggers needs a superuser')
      expect(error.cause).toMatchObject({ code: '42501' })
      await expect(removeDdlTrigger(writer, options)).rejects.toBeInstanceOf(SuperuserRequiredError)
    } finally {
      await writer.query('RESET ROLE')
      await writer.query(`DROP OWNED BY ${quoteIdentifier(role)}; DROP ROLE ${quoteIdentifier(role)}`)
    }
    expect(await installed(options)).toEqual([0, 0])
  })

  test('six connections installing one name at once all succeed', async () => {
    const options = { name: `ddl crowd ${unique()}`, schema }
    const others = await Promise.all(Array.from({ length: 6 }, () => connectSuperuser()))
    try {
      await Promise.all(others.map((c) => installDdlTrigger(c, options)))
      expect(await installed(options)).toEqual([2, 1])
    } finally {
      await removeDdlTrigger(writer, options)
      await Promise.all(others.map((c) => c.close()))
    }
  })
})
