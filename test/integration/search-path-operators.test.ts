/**
 * The operators and types in the SQL pglisten runs are pg_catalog's, whatever the session's
 * search_path (search-path.test.ts does the same for its functions and views). An operator is
 * looked up on the search_path as a function is: of the operators with the argument types
 * exactly, the one in the schema listed first is used ("Operator Type Resolution"), and a type
 * name is looked up the same way. Here a session with search_path `hijack, pg_catalog` (a
 * startup option), and a schema `hijack` with an operator for each pair of argument types
 * pglisten's SQL compares, and types named text and event_trigger: each says so when used.
 * The installers run as a superuser (the DDL feed's must), so a stand-in there would run as one.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { connect } from '../../src/protocol/index.ts'
import { createSlot, dropSlot, emitMessage, replicate, slotHealth } from '../../src/replication.ts'
import { checkSlot } from '../../src/replication/slot-check.ts'
import { confirmResume } from '../../src/replication/resume-check.ts'
import { changes, installDdlTrigger, installRowTrigger, installTcnTrigger, planDdlTrigger, planRowTrigger, planTcnTrigger, removeDdlTrigger, removeRowTrigger, removeTcnTrigger } from '../../src/changes.ts'
import { requirePrimaryKey, requireRowTriggerTarget, requireSuperuser } from '../../src/listener/changes/checks.ts'
import { parseTableName } from '../../src/listener/changes/table-name.ts'
import { databaseOfItsOwn, optionsFor, server } from '../support/connect.ts'
import { listener } from '../support/listener.ts'
import { asSuperuser, hijacked, searchPath, session } from '../support/search-path.ts'

const pg = server()
const database = databaseOfItsOwn('search_path_operators')
const sql = () => session(database, hijacked)
const table = { schema: 'public', table: 'keyed' }

/** Operators pglisten's SQL uses, by their argument types; and an example that reaches each. */
const standIns: [operator: string, left: string, right: string, example: string][] = [
  ['=', 'name', 'name', "SELECT 'a'::name = 'b'"],
  ['=', 'name', 'text', "SELECT 'a'::name = 'b'::pg_catalog.text"],
  ['=', 'text', 'text', "SELECT 'a' = 'b'"],
  ['=', 'oid', 'oid', "SELECT 1::oid = 'pg_class'::regclass"],
  ['<>', 'oid', 'oid', "SELECT 1::oid <> 2"],
  ['=', '"char"', '"char"', "SELECT 'r'::\"char\" = 'p'"],
  ['=', 'int2', 'int2', 'SELECT 1::int2 = 1::int2'],
  ['<=', 'int8', 'int2', 'SELECT 1::int8 <= 1::int2'],
  ['||', 'text', 'text', "SELECT 'a' || 'b'"],
]

beforeAll(() => asSuperuser(database, async (sql) => {
  await sql.query('CREATE SCHEMA hijack')
  for (const [i, [operator, left, right]] of standIns.entries()) {
    const returns = operator === '||' ? 'text' : 'boolean'
    await sql.query(`CREATE FUNCTION hijack.op${i}(${left}, ${right}) RETURNS ${returns} LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hijack: % (%, %)', '${operator}', '${left}', '${right}'; END $$`)
    await sql.query(`CREATE OPERATOR hijack.${operator} (LEFTARG = ${left}, RIGHTARG = ${right}, FUNCTION = hijack.op${i})`)
  }
  // A text whose every value is refused, and an event_trigger that is no event trigger's type.
  await sql.query("CREATE FUNCTION hijack.refuse(text) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hijack: text'; END $$")
  await sql.query('CREATE DOMAIN hijack.text AS pg_catalog.text CHECK (hijack.refuse(VALUE))')
  await sql.query("CREATE TYPE hijack.event_trigger AS ENUM ('hijack')")
  await sql.query(`CREATE TABLE public.keyed (id int PRIMARY KEY); CREATE PUBLICATION p FOR TABLE public.keyed; CREATE EXTENSION tcn`)
}))

describe('a search_path that lists operators and types before pg_catalog\'s', () => {
  test.each(standIns)('the stand-in %s (%s, %s) is there to be used', async (_o, _l, _r, example) => {
    const c = await sql()
    await expect(c.query(example)).rejects.toThrow('hijack: ')
  })

  test('the stand-ins text and event_trigger are there to be used', async () => {
    const c = await sql()
    await expect(c.query("SELECT 'a'::text")).rejects.toThrow('hijack: text')
    await expect(c.query('CREATE FUNCTION public.f() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$; CREATE EVENT TRIGGER e ON ddl_command_end EXECUTE FUNCTION public.f()'))
      .rejects.toThrow('must return type event_trigger')
  })
})

describe.runIf((pg.serverVersion ?? 180000) >= 140000)('replication: the slot and publication checks use pg_catalog\'s operators and types', () => {
  const slot = `search_path_operators_${process.pid}`
  beforeAll(() => asSuperuser(database, async (c) => void (await createSlot(c, slot))))
  afterAll(() => asSuperuser(database, (c) => dropSlot(c, slot, { ifExists: true })))

  test('slotHealth finds the slot (name = name)', async () => {
    expect((await slotHealth(await sql(), slot))?.slot).toBe(slot)
  })

  test('a stream\'s start reads wal_sender_timeout (text = text), the publications (name = text, text[]) and the slot (name = name)', async () => {
    const check = await checkSlot(await sql(), slot, ['p'])
    expect(check.confirmed).toBeTypeOf('bigint')
    expect(check.walSenderTimeout).toBeGreaterThanOrEqual(0)
    await expect(checkSlot(await sql(), slot, ['p', 'absent'])).rejects.toThrow('publication absent does not exist')
  })

  test('a reconnect\'s look at the slot (name = name) finds it no further than acknowledged', async () => {
    const open = () => connect(optionsFor(pg.superuser, 'tcp', { database, ...hijacked }))
    await expect(confirmResume(open, new AbortController().signal, { slot, walsender: undefined, acknowledged: 2n ** 63n })).resolves.toBeUndefined()
  })

  test('a stream with a temporary slot starts on a walsender under that search_path: its checks run there, and CREATE_REPLICATION_SLOT and pgoutput look nothing up on it', async () => {
    const stream = replicate({ connection: optionsFor(pg.superuser, 'tcp', { database, ...hijacked }), slot: `${slot}_temporary`, temporary: true, publications: ['p'], messages: true })
    try {
      await stream.ready
      await emitMessage(await sql(), 'operators', 'pgoutput under hijack, pg_catalog')
      const iterator = stream[Symbol.asyncIterator]()
      let change
      do change = (await iterator.next()).value
      while (change?.kind !== 'message')
      expect(change.prefix).toBe('operators')
    } finally {
      await stream.close()
    }
  })

  test('dropSlot with ifExists drops the slot (name = name)', async () => {
    const c = await sql()
    const other = `${slot}_dropped`
    await createSlot(c, other)
    await dropSlot(c, other, { ifExists: true })
    expect(await slotHealth(c, other)).toBeUndefined()
  })
})

describe('the change feeds\' installers use pg_catalog\'s operators and types, and leave the session\'s search_path as it was', () => {
  const target = parseTableName(table)
  const doBlocks: [what: string, statement: string][] = [
    ['the primary key check (oid = oid)', requirePrimaryKey(target)],
    ['the row trigger target check (oid = oid, "char" = "char")', requireRowTriggerTarget(target, { partitioned: 'a hint' })],
    ['the superuser check (name = name, text || text)', requireSuperuser()],
    ['the row trigger\'s function, made from the key columns (oid = oid, oid <> oid, int2 = int2, int8 <= int2, text)', planRowTrigger(table).install.find((s) => s.includes('CREATE OR REPLACE FUNCTION'))!],
    ['the tcn trigger, made where tcn is (oid = oid, name = name, text || text)', planTcnTrigger(table).install.find((s) => s.includes('triggered_change_notification'))!],
  ]

  test.each(doBlocks)('%s', async (_what, statement) => {
    const c = await sql()
    const before = await searchPath(c)
    await c.query('BEGIN')
    try {
      await c.query(statement)
      expect(await searchPath(c)).toBe(before)
    } finally {
      await c.query('ROLLBACK')
    }
  })

  test('the DDL feed\'s event trigger function returns pg_catalog\'s event_trigger', async () => {
    const c = await sql()
    await c.query('BEGIN')
    try {
      // The DO blocks are the superuser check, tested above.
      for (const statement of planDdlTrigger({ name: 'pglisten_ddl_operators' }).install.filter((s) => !s.startsWith('DO '))) await c.query(statement)
    } finally {
      await c.query('ROLLBACK')
    }
  })

  test('each feed\'s triggers install and remove in the session; a tcn feed\'s ready resolves', async () => {
    const c = await sql()
    const before = await searchPath(c)
    await installRowTrigger(c, table)
    await removeRowTrigger(c, table)
    await installTcnTrigger(c, table)
    await removeTcnTrigger(c, table)
    await installDdlTrigger(c, { name: 'pglisten_ddl_operators' })
    await removeDdlTrigger(c, { name: 'pglisten_ddl_operators' })
    expect(await searchPath(c)).toBe(before)
    const l = await listener({ database, ...hijacked })
    const feed = changes(l, table, { feed: 'tcn', removeOnClose: true })
    await expect(feed.ready).resolves.toBeUndefined()
    await feed.return?.()
  })
})
