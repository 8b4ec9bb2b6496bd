/**
 * Table names: 'schema.table' read the way PostgreSQL reads a qualified name, { schema, table }
 * taken as stored, and what PostgreSQL would read differently refused.
 */
import { fc, test } from '@fast-check/vitest'
import { describe, expect } from 'vitest'
import { parseTableName } from '../../../src/listener/changes/table-name.ts'

/** The test's own quoting ("Identifiers and Key Words": in double quotes, a quote doubled). */
const quote = (name: string) => `"${name.replaceAll('"', '""')}"`

describe('schema.table strings', () => {
  test.each([
    ['public.orders', 'public', 'orders'],
    ['Public.Orders', 'public', 'orders'], // unquoted: ASCII letters folded to lower case
    ['café.ÉCOLE', 'café', 'École'], // only A-Z are folded; other letters are kept (scansup.c)
    ['"My Schema"."Orders"', 'My Schema', 'Orders'], // quoted: kept as written
    ['"my.schema"."Odd ""name"""', 'my.schema', 'Odd "name"'],
    ['s."t"', 's', 't'],
    ['_a$1.b_2$', '_a$1', 'b_2$'],
  ])('%s is %s . %s', (text, schema, table) => {
    expect(parseTableName(text)).toMatchObject({ schema, table })
  })

  test('the quoted form quotes both parts', () => {
    expect(parseTableName('"my.schema"."Odd ""name"""').quoted).toBe('"my.schema"."Odd ""name"""')
  })

  test.each([
    ['orders', /has 1 part; give the schema too, e.g. 'public.orders'/],
    ['a.b.c', /has 3 parts/],
    ['"a.b', /unterminated quoted name/],
    ['"".t', /zero-length quoted name/],
    ['a .b', /expected '.' at offset 1/],
    ['a. b', /expected a name at offset 2/],
    ['a.1b', /expected a name at offset 2/],
    ['a.', /expected a name at offset 2/],
    ['a.b-c', /expected '.' at offset 3/],
    [`s.${'x'.repeat(64)}`, /is 64 bytes; PostgreSQL would truncate it to 63/],
    [`s."${'é'.repeat(32)}"`, /is 64 bytes/],
  ])('%s is refused', (text, message) => {
    expect(() => parseTableName(text)).toThrow(RangeError)
    expect(() => parseTableName(text)).toThrow(message)
  })
})

describe('what a refusal says', () => {
  test.each([
    ['orders', `a table name is schema.table, and "orders" has 1 part; give the schema too, e.g. 'public.orders'`],
    ['a.b.c', 'a table name is schema.table, and "a.b.c" has 3 parts'],
    [`s.${'abcdefghijklmnopqrstuvwxyz'.repeat(3)}`, 'table name "abcdefghijklmnopqrst"... is 78 bytes; PostgreSQL would truncate it to 63'],
  ])('%s', (text, message) => {
    expect(() => parseTableName(text)).toThrow(new RangeError(message))
  })
})

describe('{ schema, table } objects', () => {
  test('are taken exactly, nothing folded or unquoted', () => {
    expect(parseTableName({ schema: 'Public', table: '"x".y' })).toEqual({ schema: 'Public', table: '"x".y', quoted: '"Public"."""x"".y"' })
  })

  const notAName = new TypeError("a table name is a 'schema.table' string or a { schema, table } object of strings")
  test.each([
    [{ schema: '', table: 't' }, new RangeError('a schema name must not be empty')],
    [{ schema: 's', table: '' }, new RangeError('a table name must not be empty')],
    [{ schema: 's', table: 'a\0b' }, new RangeError('a table name must not contain a NUL character')],
    [{ schema: 'a\0b', table: 't' }, new RangeError('a schema name must not contain a NUL character')],
    [{ schema: 'x'.repeat(64), table: 't' }, new RangeError(`schema name "${'x'.repeat(20)}"... is 64 bytes; PostgreSQL would truncate it to 63`)],
    [{ schema: 's', table: 5 }, notAName],
    [{ schema: 5, table: 't' }, notAName],
    [{ table: 't' }, notAName],
    [null, notAName],
    [42, notAName],
    [undefined, notAName],
  ])('%j is refused', (name, error) => {
    expect(() => parseTableName(name as never)).toThrow(error)
  })

  test('63 bytes is the longest name kept', () => {
    const name = 'x'.repeat(63)
    expect(parseTableName({ schema: name, table: name })).toMatchObject({ schema: name, table: name })
    expect(parseTableName(`${name}.${name}`)).toMatchObject({ schema: name, table: name })
  })
})

/** Names PostgreSQL can store: 1 to 63 bytes of UTF-8, no NUL. */
const storable = fc
  .oneof(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }), fc.string({ unit: fc.constantFrom('"', '.', ' ', "'", 'A', 'é', '$'), minLength: 1, maxLength: 20 }))
  .filter((s) => !s.includes('\0') && new TextEncoder().encode(s).length <= 63)

describe('table name laws', () => {
  test.prop([storable, storable])('any stored names, quoted and dotted, read back as themselves', (schema, table) => {
    const text = `${quote(schema)}.${quote(table)}`
    expect(parseTableName(text)).toEqual({ schema, table, quoted: text })
    expect(parseTableName({ schema, table })).toEqual({ schema, table, quoted: text })
  })
})
