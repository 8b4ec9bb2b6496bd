/**
 * The SQL text installers generate: dollar quoting that no body can break out of, generated
 * names that fit in 63 bytes and stay the same, advisory lock keys, literals.
 */
import { createHash } from 'node:crypto'
import { fc, test } from '@fast-check/vitest'
import { describe, expect } from 'vitest'
import { generatedName } from '../../../src/listener/changes/names.ts'
import { advisoryLock, dollarQuote, literal } from '../../../src/listener/changes/sql-text.ts'
import { parseTableName } from '../../../src/listener/changes/table-name.ts'

/**
 * Reads one dollar-quoted string the way the docs describe it ("Dollar-Quoted String
 * Constants"): `$tag$`, then everything up to the next `$tag$`. Returns the body and what
 * follows the closing tag.
 */
function readDollarQuoted(sql: string): { body: string; rest: string } {
  const open = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql)
  if (!open) throw new Error(`not dollar-quoted: ${sql}`)
  const tag = open[0]
  const close = sql.indexOf(tag, tag.length)
  if (close === -1) throw new Error('unterminated')
  return { body: sql.slice(tag.length, close), rest: sql.slice(close + tag.length) }
}

const bytes = (s: string) => new TextEncoder().encode(s).length

describe('dollarQuote', () => {
  test.each([
    ['SELECT 1', '$pglisten$SELECT 1$pglisten$'],
    ['a $pglisten$ b', '$pglisten1$a $pglisten$ b$pglisten1$'],
    // Ends with the start of the tag: `$pglisten` + `$pglisten$` would close one `$` early.
    ['x$pglisten', '$pglisten1$x$pglisten$pglisten1$'],
    ['$pglisten$ $pglisten1$', '$pglisten2$$pglisten$ $pglisten1$$pglisten2$'],
  ])('%j', (body, quoted) => {
    expect(dollarQuote(body)).toBe(quoted)
    expect(readDollarQuoted(quoted)).toEqual({ body, rest: '' })
  })

  test.prop([fc.string({ unit: fc.constantFrom('$', 'pglisten', '1', '2', 'x', "'", '"', '\n'), maxLength: 30 })])(
    'any body reads back whole, and nothing follows the closing tag',
    (body) => {
      expect(readDollarQuoted(dollarQuote(body))).toEqual({ body, rest: '' })
    },
  )
})

describe('generatedName', () => {
  test('prefix, the table reduced to [a-z0-9_], and 8 hex digits of the SHA-224 of "schema"."table"', () => {
    const hash = createHash('sha224').update('"public"."Orders 2024"').digest('hex').slice(0, 8)
    expect(generatedName('pglisten_rows', parseTableName('public."Orders 2024"'))).toBe(`pglisten_rows_orders_2024_${hash}`)
  })

  test('tables whose reduced names agree get different names', () => {
    const names = ['public.orders', 'public."Orders"', 'app.orders', 'public."orders!"'].map((t) => generatedName('p', parseTableName(t)))
    expect(new Set(names).size).toBe(4)
  })

  test('a long table name is cut so that the whole name is exactly 63 bytes', () => {
    const table = parseTableName({ schema: 'public', table: 'x'.repeat(63) })
    const hash = createHash('sha224').update(table.quoted).digest('hex').slice(0, 8)
    // 63 = 'pglisten_rows' (13) + '_' + 40 of the table + '_' + 8 hex digits
    expect(generatedName('pglisten_rows', table)).toBe(`pglisten_rows_${'x'.repeat(40)}_${hash}`)
  })

  test('each run of other characters becomes one underscore', () => {
    const table = parseTableName({ schema: 'public', table: 'Orders -- 2024!' })
    expect(generatedName('p', table)).toMatch(/^p_orders_2024__[0-9a-f]{8}$/)
  })

  test('a prefix may leave room for one character of the table name, not none', () => {
    const table = parseTableName('public.orders')
    expect(generatedName('p'.repeat(52), table)).toMatch(new RegExp(`^${'p'.repeat(52)}_o_[0-9a-f]{8}$`))
    expect(() => generatedName('p'.repeat(53), table)).toThrow(new RangeError(`the prefix "${'p'.repeat(53)}" leaves no room for a table name`))
  })

  const storable = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 63 }).filter((s) => !s.includes('\0') && bytes(s) <= 63)
  test.prop([storable, storable])('any table gets a plain identifier of at most 63 bytes, the same every time', (schema, table) => {
    const name = generatedName('pglisten_rows', parseTableName({ schema, table }))
    expect(name).toMatch(/^pglisten_rows_[a-z0-9_]*_[0-9a-f]{8}$/)
    expect(bytes(name)).toBeLessThanOrEqual(63)
    expect(generatedName('pglisten_rows', parseTableName({ schema, table }))).toBe(name)
  })
})

describe('advisoryLock', () => {
  test('a signed 64-bit key from the SHA-224 of the purpose, cast explicitly', () => {
    const key = BigInt.asIntN(64, BigInt(`0x${createHash('sha224').update('pglisten ddl x').digest('hex').slice(0, 16)}`))
    expect(advisoryLock('pglisten ddl x')).toBe(`SELECT pg_catalog.pg_advisory_xact_lock('${key}'::bigint)`)
  })
})

describe('literal', () => {
  test('quotes doubled; with a backslash, the E form, which reads the same under either standard_conforming_strings', () => {
    expect(literal("it's")).toBe("'it''s'")
    expect(literal('a\\b')).toBe("E'a\\\\b'")
  })
})
