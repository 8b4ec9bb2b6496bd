/**
 * The SQL pglisten sends names the server's own functions and views as pg_catalog's, so a
 * search_path that puts another schema first cannot put something else in their place.
 * PostgreSQL searches pg_catalog first only when search_path does not list it (ddl.sgml,
 * "The System Catalog Schema"); listed after a schema the user or an owner can write to, a
 * function of the same name there is the one called (for a call with unknown-typed literals,
 * the text overload wins: the string category's preferred type). Here a search_path of
 * `hijack, pg_catalog`, given as a startup option, and a schema `hijack` whose functions and
 * view of the same names say so instead of doing their work.
 */
import { beforeAll, describe, expect, test } from 'vitest'
import { createSlot, dropSlot, emitMessage, replicate, slotHealth } from '../../src/replication.ts'
import { changes, ddlChanges, removeDdlTrigger, type RowChange } from '../../src/changes.ts'
import type { DdlChange, FeedItem } from '../../src/listener/feeds.ts'
import { databaseOfItsOwn, optionsFor, server } from '../support/connect.ts'
import { listener, uniqueChannel } from '../support/listener.ts'
import { asSuperuser, closedAfterTest, hijacked, session } from '../support/search-path.ts'

const pg = server()
const database = databaseOfItsOwn('search_path')
const sql = () => session(database, hijacked)

/** Each stands in for pg_catalog's function of the same name, and fails saying whose it is. */
const standIns = [
  'pg_notify(text, text) RETURNS void',
  'pg_notification_queue_usage() RETURNS float8',
  'set_config(text, text, boolean) RETURNS text',
  'pg_create_logical_replication_slot(text, text) RETURNS TABLE (slot_name text, lsn pg_lsn)',
  'pg_drop_replication_slot(text) RETURNS void',
  'pg_logical_emit_message(boolean, text, text) RETURNS pg_lsn',
  'pg_current_wal_lsn() RETURNS pg_lsn',
]

beforeAll(() => asSuperuser(database, async (sql) => {
  await sql.query('CREATE SCHEMA hijack')
  for (const signature of standIns) {
    await sql.query(`CREATE FUNCTION hijack.${signature} LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hijack.%', '${signature.slice(0, signature.indexOf('('))}'; END $$`)
  }
  // A view that hides every slot: a look at one through it finds none.
  await sql.query('CREATE VIEW hijack.pg_replication_slots AS SELECT * FROM pg_catalog.pg_replication_slots WHERE false')
}))

describe('a search_path that lists pg_catalog after another schema', () => {
  test('the stand-ins are there to be called: an unqualified call reaches them', async () => {
    const c = await sql()
    await expect(c.query("SELECT pg_notify('a', 'b')")).rejects.toThrow('hijack.pg_notify')
  })

  test('notify() sends, and queueUsage() answers, with pg_catalog\'s functions', async () => {
    const l = await listener({ database, ...hijacked })
    const channel = uniqueChannel('search path')
    await l.listen(channel)
    const heard = new Promise<string>((resolve) => l.on('notification', (n) => resolve(n.payload)))
    await l.notify(channel, 'sent by pg_catalog.pg_notify')
    expect(await heard).toBe('sent by pg_catalog.pg_notify')
    const usage = await l.queueUsage()
    expect(usage).toBeGreaterThanOrEqual(0)
    expect(usage).toBeLessThanOrEqual(1)
  })

  test('the pooler check\'s test notification is pg_catalog.pg_notify\'s', async () => {
    const l = await listener({ database, ...hijacked, poolerCheck: { timeout: 5_000 } })
    await expect(l.listen(uniqueChannel('search path'))).resolves.toBeUndefined()
  })

  test.runIf((pg.serverVersion ?? 180000) >= 140000)('replication: the slot functions and pg_replication_slots are pg_catalog\'s, and a stream starts', async () => {
    const c = await sql()
    const slot = `search_path_${process.pid}`
    await c.query(`CREATE TABLE IF NOT EXISTS t (id int PRIMARY KEY); DROP PUBLICATION IF EXISTS p; CREATE PUBLICATION p FOR TABLE t`)
    await createSlot(c, slot)
    try {
      const health = await slotHealth(c, slot)
      expect(health?.slot).toBe(slot)
      expect(health?.lagBytes).toBeGreaterThanOrEqual(0)
      await emitMessage(c, 'search path', 'by pg_catalog.pg_logical_emit_message')
      const stream = closedAfterTest(replicate({ connection: optionsFor(pg.superuser, 'tcp', { database, ...hijacked }), slot, publications: ['p'], messages: true }))
      await stream.ready
      const iterator = stream[Symbol.asyncIterator]()
      let change
      do change = (await iterator.next()).value
      while (change?.kind !== 'message')
      expect(change.prefix).toBe('search path')
      await stream.close()
    } finally {
      await dropSlot(c, slot, { ifExists: true })
    }
  })
})

/**
 * The change feeds' triggers run in other sessions: every writer's, and every session that
 * changes the schema, a superuser's too. An operator is looked up on the search_path as a
 * function is, and one of the same argument types in a schema listed before pg_catalog is the
 * one used: the trigger functions carry their own search_path. (A schema of its own here, as
 * an `=` on text would also stand in for the replication SQL's above.)
 */
describe('a search_path that lists an operator = (text, text) before pg_catalog\'s, in the sessions that fire the triggers', () => {
  const writer = () => session(database, { options: '-c search_path=hijack_ops,pg_catalog' })
  beforeAll(() => asSuperuser(database, async (sql) => {
    await sql.query('CREATE SCHEMA hijack_ops')
    await sql.query("CREATE FUNCTION hijack_ops.eq(text, text) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hijack_ops.='; END $$")
    await sql.query('CREATE OPERATOR hijack_ops.= (LEFTARG = text, RIGHTARG = text, FUNCTION = hijack_ops.eq)')
    await sql.query('CREATE TABLE rows_feed (id int PRIMARY KEY)')
  }))

  test('the stand-in is there to be used: text = text reaches it', async () => {
    const c = await writer()
    await expect(c.query("SELECT 'a'::text = 'b'")).rejects.toThrow('hijack_ops.=')
  })

  test('a writer\'s INSERT fires the rows feed\'s trigger, which uses pg_catalog\'s operators: the insert succeeds, and the feed has it', async () => {
    const l = await listener({ database })
    const feed = changes(l, { schema: 'public', table: 'rows_feed' })
    await feed.ready
    await (await writer()).query('INSERT INTO public.rows_feed VALUES (1)')
    const { value, done } = await feed.next()
    expect(done).toBe(false)
    expect((value as RowChange).operation).toBe('INSERT')
    expect((value as RowChange).key).toEqual({ id: 1 })
    await feed.return?.()
  })

  test('a superuser\'s CREATE TABLE fires the DDL feed\'s event trigger, which uses pg_catalog\'s operators: the DDL succeeds, and the feed has it', async () => {
    const l = await listener({ database })
    const name = `pglisten_ddl_search_path_${process.pid}`
    const ddl = ddlChanges(l, { name })
    try {
      await ddl.ready
      await (await writer()).query('CREATE TABLE public.ddl_by_hijacked_session (id int)')
      let event: FeedItem<DdlChange> | undefined
      do {
        const next = await ddl.next()
        if (next.done) throw new Error('the DDL feed ended')
        event = next.value
      } while (!('identity' in event) || event.identity !== 'public.ddl_by_hijacked_session')
      expect(event).toMatchObject({ tag: 'CREATE TABLE' })
    } finally {
      await ddl.return?.()
      await asSuperuser(database, (sql) => removeDdlTrigger(sql, { name }))
    }
  })
})
