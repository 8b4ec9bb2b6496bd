/**
 * The installers' DO blocks run under search_path = pg_catalog, pg_temp (pinnedDo, sql-text.ts)
 * and put the caller's back: what the caller's session or transaction had before is what it has
 * after, whether the block runs in a transaction block of the caller's, after a SET or a SET
 * LOCAL, in a savepoint, in one multi-statement query, or fails. set_config(..., true) lasts
 * until the end of the (sub)transaction it was made in ("Configuration Settings Functions"), so
 * the path put back is the one the caller sees until then; an error rolls both back. The paths
 * here hold what current_setting gives back quoted: "$user", an empty list (shown as ""), a
 * schema named with a comma, a space or a quote.
 */
import { beforeAll, describe, expect, test } from 'vitest'
import type { Connection } from '../../src/protocol/io/connection.ts'
import { planRowTrigger, planTcnTrigger } from '../../src/changes.ts'
import { requirePrimaryKey, requireRowTriggerTarget, requireSuperuser } from '../../src/listener/changes/checks.ts'
import { parseTableName } from '../../src/listener/changes/table-name.ts'
import { databaseOfItsOwn } from '../support/connect.ts'
import { asSuperuser, searchPath, session } from '../support/search-path.ts'

const database = databaseOfItsOwn('search_path_restore')
const sql = () => session(database)
const table = { schema: 'public', table: 'keyed' }
const target = parseTableName(table)
/** Fails in the DO, after its search_path is pinned: the table has no primary key. */
const failing = requirePrimaryKey(parseTableName('public.keyless'))

beforeAll(() => asSuperuser(database, async (sql) => {
  await sql.query('CREATE TABLE public.keyed (id int PRIMARY KEY); CREATE TABLE public.keyless (id int); CREATE EXTENSION tcn')
  await sql.query('CREATE SCHEMA "a, b"; CREATE SCHEMA "x""y"; CREATE SCHEMA "my schema"')
}))

/** Every pinned DO block an install runs; the tcn trigger's after a DROP, as its install does. */
async function runEach(c: Connection): Promise<void> {
  await c.query(requirePrimaryKey(target))
  await c.query(requireRowTriggerTarget(target, { partitioned: 'a hint' }))
  await c.query(requireSuperuser())
  await c.query(planRowTrigger(table).install.find((s) => s.includes('CREATE OR REPLACE FUNCTION'))!)
  await c.query('DROP TRIGGER IF EXISTS pglisten_tcn ON public.keyed')
  await c.query(planTcnTrigger(table).install.find((s) => s.includes('triggered_change_notification'))!)
}

const paths = [`"$user", public`, `''`, `"a, b", "x""y", public`, `"my schema", pg_catalog`]

describe.each(paths)('the caller\'s search_path %s is theirs again after each DO block', (path) => {
  test('set in the transaction block the blocks run in, and kept at its commit', async () => {
    const c = await sql()
    await c.query('BEGIN')
    await c.query(`SET search_path = ${path}`)
    const before = await searchPath(c)
    await runEach(c)
    expect(await searchPath(c)).toBe(before)
    await c.query('COMMIT')
    expect(await searchPath(c)).toBe(before)
  })

  test('set with SET LOCAL: the session\'s own comes back at the commit', async () => {
    const c = await sql()
    const session = await searchPath(c)
    await c.query('BEGIN')
    await c.query(`SET LOCAL search_path = ${path}`)
    const before = await searchPath(c)
    await runEach(c)
    expect(await searchPath(c)).toBe(before)
    await c.query('COMMIT')
    expect(await searchPath(c)).toBe(session)
  })

  test('set in a savepoint the blocks run in, released, and kept at the commit', async () => {
    const c = await sql()
    await c.query('BEGIN')
    await c.query('SAVEPOINT s')
    await c.query(`SET search_path = ${path}`)
    const before = await searchPath(c)
    await runEach(c)
    await c.query('RELEASE s')
    expect(await searchPath(c)).toBe(before)
    await c.query('COMMIT')
    expect(await searchPath(c)).toBe(before)
  })

  test('in one multi-statement query (an implicit transaction block)', async () => {
    const c = await sql()
    const [, shownBefore, , shownAfter] = await c.query(`SET search_path = ${path}; SHOW search_path; ${requireSuperuser()}; SHOW search_path`)
    expect(shownAfter!.rows[0]![0]).toBe(shownBefore!.rows[0]![0])
    expect(await searchPath(c)).toBe(shownBefore!.rows[0]![0])
  })

  test('a block that fails, in a savepoint rolled back to', async () => {
    const c = await sql()
    await c.query('BEGIN')
    await c.query(`SET search_path = ${path}`)
    const before = await searchPath(c)
    await c.query('SAVEPOINT s')
    await expect(c.query(failing)).rejects.toMatchObject({ code: '39P01' })
    await c.query('ROLLBACK TO s')
    expect(await searchPath(c)).toBe(before)
    await c.query('COMMIT')
    expect(await searchPath(c)).toBe(before)
  })

  test('a block that fails, its error caught by the caller\'s own PL/pgSQL', async () => {
    const c = await sql()
    await c.query(`SET search_path = ${path}`)
    const before = await searchPath(c)
    const caught = await c.query(`DO $caller$ BEGIN EXECUTE '${failing.replaceAll("'", "''")}'; EXCEPTION WHEN trigger_protocol_violated THEN RAISE NOTICE 'caught'; END $caller$; SHOW search_path`)
    expect(caught.at(-1)!.rows[0]![0]).toBe(before)
  })
})
