/**
 * What each installer plans before it touches a database: the names and channels it uses,
 * the arguments it refuses, and the statement sequence runInTransaction sends. The SQL itself
 * is proven on a real PostgreSQL (test/integration/changes-*.test.ts); the transaction runner
 * is checked here against a recording client, for the sequences a server cannot be made to
 * produce on demand (a lost connection during ROLLBACK).
 */
import { describe, expect, test } from 'vitest'
import { planDdlTrigger, removeDdlTrigger } from '../../../src/listener/changes/ddl-trigger.ts'
import { rowChangeChannel } from '../../../src/listener/changes/names.ts'
import { planRowTrigger } from '../../../src/listener/changes/row-trigger.ts'
import { planTcnTrigger } from '../../../src/listener/changes/tcn-trigger.ts'
import { runInTransaction, sqlState, type SqlRunner } from '../../../src/listener/changes/transaction.ts'
import { primaryKeyError, requirePrimaryKey, superuserError } from '../../../src/listener/changes/checks.ts'
import { NoPrimaryKeyError, SuperuserRequiredError } from '../../../src/listener/changes/errors.ts'
import { parseTableName } from '../../../src/listener/changes/table-name.ts'

describe('planRowTrigger', () => {
  test('the channel defaults to the generated function name, which is also rowChangeChannel', () => {
    const plan = planRowTrigger('public.orders')
    expect(plan.function).toMatch(/^pglisten_rows_orders_[0-9a-f]{8}$/)
    expect(plan.channel).toBe(plan.function)
    expect(rowChangeChannel({ schema: 'public', table: 'orders' })).toBe(plan.channel)
    expect(plan.trigger).toBe('pglisten_rows')
  })

  test('the same table gives the same plan, so installing twice finds the same objects', () => {
    expect(planRowTrigger('public.orders', { channel: 'x' })).toEqual(planRowTrigger({ schema: 'public', table: 'orders' }, { channel: 'x' }))
  })

  test('the function body is a format() template: only the two key placeholders use %', () => {
    const createFunction = planRowTrigger('public.orders').install.find((sql) => sql.includes('CREATE OR REPLACE FUNCTION'))!
    const body = /pg_catalog\.format\(\$pglisten\$([\s\S]*)\$pglisten\$, _new_key, _old_key\)/.exec(createFunction)![1]!
    expect(body.match(/%[^\s]*/g)).toEqual(['%1$s);', '%2$s);'])
  })

  test('the lock comes first, then the primary key check, and the channel is the trigger argument', () => {
    const { install, remove } = planRowTrigger('s."T"', { channel: "it's" })
    expect(install[0]).toBe('LOCK TABLE "s"."T" IN SHARE ROW EXCLUSIVE MODE')
    expect(install[1]).toContain("RAISE EXCEPTION USING ERRCODE = '39P01'")
    expect(install.at(-1)).toMatch(/FOR EACH ROW EXECUTE FUNCTION "s"\."pglisten_rows_t_[0-9a-f]{8}"\('it''s'\)$/)
    expect(remove).toEqual([expect.stringMatching(/^DROP TRIGGER IF EXISTS "pglisten_rows" ON "s"."T"$/), expect.stringMatching(/^DROP FUNCTION IF EXISTS "s"\."pglisten_rows_t_[0-9a-f]{8}"\(\)$/)])
  })

  test.each([
    [{ channel: '' }, /must not be empty/],
    [{ channel: 'x'.repeat(64) }, /PostgreSQL would truncate it to 63/],
  ])('refuses %j', (options, message) => {
    expect(() => planRowTrigger('public.orders', options)).toThrow(RangeError)
    expect(() => planRowTrigger('public.orders', options)).toThrow(message)
  })
})

describe('planTcnTrigger', () => {
  test("tcn's own default channel unless told otherwise", () => {
    expect(planTcnTrigger('public.orders').channel).toBe('tcn')
    expect(planTcnTrigger('public.orders', { channel: 'Orders' }).channel).toBe('Orders')
  })

  test('the function is named through the schema tcn is in, the channel as a literal argument', () => {
    const install = planTcnTrigger('public.orders', { channel: "o'rders" }).install
    expect(install[0]).toBe('LOCK TABLE "public"."orders" IN SHARE ROW EXCLUSIVE MODE')
    expect(install.at(-1)).toContain("WHERE e.extname = 'tcn')")
    expect(install.at(-1)).toContain(`'.triggered_change_notification(''o''''rders'')'`)
  })
})

describe('planDdlTrigger', () => {
  test('names: the function, <name>_end and <name>_drop; the channel defaults to the name', () => {
    const plan = planDdlTrigger({ name: 'audit' })
    expect(plan).toMatchObject({ channel: 'audit', schema: 'public', function: 'audit', eventTriggers: ['audit_end', 'audit_drop'] })
    expect(plan.install[0]).toContain('rolsuper')
    expect(plan.install[1]).toMatch(/^SELECT pg_catalog\.pg_advisory_xact_lock\('-?\d+'::bigint\)$/)
  })

  test.each([
    [{ name: 'x'.repeat(59) }, RangeError],
    [{ name: '' }, RangeError],
    [{ schema: 'a\0' }, RangeError],
    [{ channel: 'c'.repeat(64) }, RangeError],
    [{ name: 5 }, TypeError],
  ])('refuses %j', (options, kind) => {
    expect(() => planDdlTrigger(options as never)).toThrow(kind)
  })

  test('each refusal says what is wrong with which name, exactly', () => {
    const refusal = (options: object) => {
      try {
        planDdlTrigger(options as never)
      } catch (error) {
        return `${(error as Error).name}: ${(error as Error).message}`
      }
      return 'accepted'
    }
    expect(refusal({ name: 5 })).toBe('TypeError: the name must be a string, not number')
    expect(refusal({ schema: true })).toBe('TypeError: the schema must be a string, not boolean')
    expect(refusal({ name: '' })).toBe('RangeError: the name must be non-empty, without NUL characters')
    expect(refusal({ schema: 'a\0' })).toBe('RangeError: the schema must be non-empty, without NUL characters')
    expect(refusal({ name: 'a\0b' })).toBe('RangeError: the name must be non-empty, without NUL characters')
    // 63 bytes for an identifier, less "_drop" for the name: 58 is the longest, in bytes (é is 2).
    expect(refusal({ name: 'x'.repeat(58) })).toBe('accepted')
    expect(refusal({ name: 'x'.repeat(59) })).toBe(`RangeError: the name "${'x'.repeat(59)}" is over 58 bytes`)
    expect(refusal({ name: 'é'.repeat(29) + 'x' })).toBe(`RangeError: the name "${'é'.repeat(29)}x" is over 58 bytes`)
    expect(refusal({ schema: 's'.repeat(63) })).toBe('accepted')
    expect(refusal({ schema: 's'.repeat(64) })).toBe(`RangeError: the schema "${'s'.repeat(64)}" is over 63 bytes`)
  })

  test("the defaults: name pglisten_ddl in schema public; installs of one name take one advisory lock, other names another", () => {
    const plan = planDdlTrigger()
    expect(plan).toMatchObject({ channel: 'pglisten_ddl', schema: 'public', function: 'pglisten_ddl', eventTriggers: ['pglisten_ddl_end', 'pglisten_ddl_drop'] })
    expect(plan.install[1]).toBe(planDdlTrigger({ name: 'pglisten_ddl' }).install[1])
    expect(plan.install[1]).not.toBe(planDdlTrigger({ name: 'audit' }).install[1])
    expect(plan.remove[1]).toBe(plan.install[1])
  })
})

/** A client that records what it is sent and fails where told. */
function recorder(failOn: (sql: string) => Error | undefined = () => undefined, transactionStatus?: string) {
  const sent: string[] = []
  const db: SqlRunner = {
    transactionStatus,
    async query(sql) {
      sent.push(sql)
      const error = failOn(sql)
      if (error) throw error
      return []
    },
  }
  return { sent, db }
}

describe('runInTransaction', () => {
  const prologue = ['BEGIN ISOLATION LEVEL READ COMMITTED', 'SET LOCAL client_min_messages = warning']

  test('BEGIN, each statement on its own, COMMIT', async () => {
    const { sent, db } = recorder()
    await runInTransaction(db, ['one', 'two'])
    expect(sent).toEqual([...prologue, 'one', 'two', 'COMMIT'])
  })

  test('an error stops the statements, rolls back, and reaches the caller, translated when a translation is known', async () => {
    const failure = Object.assign(new Error('no key'), { code: '39P01' })
    const { sent, db } = recorder((sql) => (sql === 'two' ? failure : undefined))
    const translated = new Error('typed')
    await expect(runInTransaction(db, ['one', 'two', 'three'], (e) => (e === failure ? translated : undefined))).rejects.toBe(translated)
    expect(sent).toEqual([...prologue, 'one', 'two', 'ROLLBACK'])
  })

  test('a failing ROLLBACK (the connection is gone) does not hide the first error', async () => {
    const lost = new Error('connection lost')
    const { db } = recorder((sql) => (sql === 'one' || sql === 'ROLLBACK' ? lost : undefined))
    await expect(runInTransaction(db, ['one'])).rejects.toBe(lost)
  })

  test.each(['T', 'E'])("refuses a connection in a transaction block (status '%s'), sending nothing", async (status) => {
    const { sent, db } = recorder(undefined, status)
    await expect(runInTransaction(db, ['one'])).rejects.toThrow(TypeError)
    expect(sent).toEqual([])
  })

  test('refuses something without query()', async () => {
    const notAClient = new TypeError('expected a client with a query(sql) method, such as a Connection')
    await expect(runInTransaction({} as SqlRunner, [])).rejects.toThrow(notAClient)
    await expect(runInTransaction(undefined as never, [])).rejects.toThrow(notAClient)
  })

  test("says which transaction status it found; 'I' (idle) is fine", async () => {
    await expect(runInTransaction(recorder(undefined, 'T').db, ['one'])).rejects.toThrow(
      new TypeError('the connection is inside a transaction block (status T); installers run their own transaction'),
    )
    const { sent, db } = recorder(undefined, 'I')
    await runInTransaction(db, ['one'])
    expect(sent).toEqual([...prologue, 'one', 'COMMIT'])
  })
})

describe('sqlState', () => {
  test.each([
    [Object.assign(new Error('x'), { code: '42501' }), '42501'],
    [{ code: '39P01' }, '39P01'],
    [{ code: 42501 }, undefined],
    [{}, undefined],
    [new Error('no code'), undefined],
    [null, undefined],
    [undefined, undefined],
    ['42501', undefined],
  ])('%o → %s', (error, state) => {
    expect(sqlState(error)).toBe(state)
  })
})

describe('the checks and their typed errors', () => {
  const table = parseTableName('s."T"')

  test("requirePrimaryKey raises 39P01 naming the table, the name passed as a value, never as a format", () => {
    const sql = requirePrimaryKey(parseTableName('s."50%"'))
    expect(sql).toContain(`WHERE indrelid = '"s"."50%"'::pg_catalog.regclass AND indisprimary AND indisvalid`)
    expect(sql).toContain(`RAISE EXCEPTION USING ERRCODE = '39P01', MESSAGE = '"s"."50%" has no primary key';`)
  })

  test('primaryKeyError: 39P01 becomes a NoPrimaryKeyError for the table, with the cause; anything else is left alone', () => {
    const cause = Object.assign(new Error('no key'), { code: '39P01' })
    const error = primaryKeyError(table)(cause)
    expect(error).toBeInstanceOf(NoPrimaryKeyError)
    expect(error).toMatchObject({ name: 'NoPrimaryKeyError', table, cause })
    expect(error?.message).toBe('"s"."T" has no primary key; change feeds identify rows by it (ALTER TABLE "s"."T" ADD PRIMARY KEY (...))')
    expect(primaryKeyError(table)(Object.assign(new Error('other'), { code: '42501' }))).toBeUndefined()
    expect(primaryKeyError(table)(new Error('no code'))).toBeUndefined()
  })

  test("removeDdlTrigger without a superuser: the SuperuserRequiredError says it was removing", async () => {
    const refused = Object.assign(new Error('permission denied'), { code: '42501' })
    const { db } = recorder((sql) => (sql.includes('rolsuper') ? refused : undefined))
    await expect(removeDdlTrigger(db)).rejects.toThrow(/removing DDL event triggers/)
  })

  test('superuserError: 42501 becomes a SuperuserRequiredError saying what needed it and why; anything else is left alone', () => {
    const cause = Object.assign(new Error('permission denied to create event trigger'), { code: '42501' })
    const error = superuserError('installing the DDL feed')(cause)
    expect(error).toBeInstanceOf(SuperuserRequiredError)
    expect(error).toMatchObject({ name: 'SuperuserRequiredError', cause })
    expect(error?.message).toBe('installing the DDL feed needs a superuser: permission denied to create event trigger')
    expect(superuserError('x')({ code: '42501' })?.message).toBe('x needs a superuser: [object Object]')
    expect(superuserError('x')(Object.assign(new Error('no key'), { code: '39P01' }))).toBeUndefined()
  })
})
