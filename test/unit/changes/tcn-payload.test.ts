/**
 * The tcn payload parser: payloads recorded from the real extension, malformed ones refused
 * whole, and laws checked against a formatter the test writes itself from tcn.c's rules.
 */
import { fc, test } from '@fast-check/vitest'
import { describe, expect } from 'vitest'
import { PayloadError } from '../../../src/listener/changes/errors.ts'
import { decodeTcnChange, parseTcnPayload } from '../../../src/listener/changes/tcn-payload.ts'

/**
 * tcn.c, strcpy_quoted(r, s, q): append q, then s with every q doubled, then q. The table and
 * column names are quoted with '"', the values with "'"; parts are joined by ',' and '='.
 */
const quoted = (text: string, q: '"' | "'") => `${q}${text.replaceAll(q, q + q)}${q}`
const formatTcn = (table: string, op: 'I' | 'U' | 'D', key: readonly (readonly [string, string])[]) =>
  `${quoted(table, '"')},${op}${key.map(([column, value]) => `,${quoted(column, '"')}=${quoted(value, "'")}`).join('')}`

const ops = { I: 'INSERT', U: 'UPDATE', D: 'DELETE' } as const

describe('payloads recorded from tcn on PostgreSQL 13', () => {
  test('a single-column key', () => {
    expect(parseTcnPayload(`"orders",I,"id"='42'`)).toEqual({ table: 'orders', operation: 'INSERT', key: { id: '42' }, columns: ['id'] })
  })

  test('a composite key with hostile names, in the index order and not the table order', () => {
    // CREATE TABLE "Tä ble, ""x""='y'" ("i d" int, "k'ey" text, v text, PRIMARY KEY ("k'ey", "i d"))
    // INSERT ... VALUES (1, 'it''s, "a" =\nb', 'v')
    const payload = `"Tä ble, ""x""='y'",I,"k'ey"='it''s, "a" =\nb',"i d"='1'`
    expect(parseTcnPayload(payload)).toEqual({
      table: `Tä ble, "x"='y'`, // only " is doubled in a name; ' and = stand as they are
      operation: 'INSERT',
      key: { "k'ey": `it's, "a" =\nb`, 'i d': '1' }, // only ' is doubled in a value
      columns: ["k'ey", 'i d'],
    })
  })

  test('an update reports the key the row had before (tg_trigtuple is the old row)', () => {
    // UPDATE ... SET "i d" = 10 WHERE "i d" = 1
    expect(parseTcnPayload(`"t",U,"k'ey"='a',"i d"='1'`).key).toEqual({ "k'ey": 'a', 'i d': '1' })
  })

  test('an empty string value', () => {
    expect(parseTcnPayload(`"t",D,"k'ey"='',"i d"='2'`).key).toEqual({ "k'ey": '', 'i d': '2' })
  })

  test('a column named __proto__ is an own property like any other', () => {
    const { key } = parseTcnPayload(`"t",I,"__proto__"='1',"constructor"='2'`)
    expect(Object.keys(key)).toEqual(['__proto__', 'constructor'])
    expect(Object.getPrototypeOf(key)).toBe(Object.prototype)
    expect(Object.getOwnPropertyDescriptor(key, '__proto__')?.value).toBe('1')
  })
})

describe('malformed payloads are refused whole, with the offset', () => {
  test.each([
    ['', /expected " to open the table name at offset 0, found the end/],
    ['orders,I,"id"=\'1\'', /expected " to open the table name at offset 0/],
    ['"orders,I', /expected " to close the table name at offset 9/],
    ['"",I,"id"=\'1\'', /the table name \(PostgreSQL names are never empty\) at offset 0/],
    ['"t";I,"id"=\'1\'', /expected ',' after the table name at offset 3/],
    ['"t",X,"id"=\'1\'', /expected the operation I, U or D at offset 4/],
    ['"t",i,"id"=\'1\'', /the operation I, U or D/],
    ['"t",I', /expected ',' and a primary key column at offset 5, found the end/],
    ['"t",I,', /expected " to open a column name at offset 6/],
    ['"t",I,"id"', /expected '=' after the column name at offset 10/],
    ['"t",I,"id"=1', /expected ' to open the value of "id" at offset 11/],
    ['"t",I,"id"=\'1', /expected ' to close the value of "id" at offset 13/],
    ['"t",I,"id"=\'1\',', /expected " to open a column name/],
    ['"t",I,"id"=\'1\' ', /expected ',' and a primary key column at offset 14/],
    ['"t",I,"id"=\'1\',"id"=\'2\'', /a column not already given \("id" appears twice\) at offset 15/],
    ['"t",IU,"id"=\'1\'', /expected ',' and a primary key column at offset 5/],
  ])('%j', (payload, message) => {
    expect(() => parseTcnPayload(payload)).toThrow(SyntaxError)
    expect(() => parseTcnPayload(payload)).toThrow(message)
  })

  test('the message quotes the next 10 characters, or says the end', () => {
    expect(() => parseTcnPayload(`"t",X,"id"='12345'`)).toThrow(
      new SyntaxError(`not a tcn payload: expected the operation I, U or D at offset 4, found "X,\\"id\\"='12"`),
    )
    expect(() => parseTcnPayload('"t",')).toThrow(new SyntaxError('not a tcn payload: expected the operation I, U or D at offset 4, found the end'))
  })

  test('decodeTcnChange returns a PayloadError carrying the SyntaxError, the channel and the payload', () => {
    const result = decodeTcnChange({ processId: 7, channel: 'tcn', payload: '"t",I' })
    expect(result).toBeInstanceOf(PayloadError)
    const error = result as PayloadError
    expect(error.cause).toBeInstanceOf(SyntaxError)
    expect([error.channel, error.processId, error.payload]).toEqual(['tcn', 7, '"t",I'])
    expect(error.message).toBe(`the payload on channel "tcn" from process 7 is not in the tcn format (not a tcn payload: expected ',' and a primary key column at offset 5, found the end): "\\"t\\",I"`)
  })

  test('decodeTcnChange adds the channel and the notifying process', () => {
    expect(decodeTcnChange({ processId: 7, channel: 'c', payload: `"t",D,"id"='1'` })).toEqual({
      type: 'TcnChange', kind: 'tcn', channel: 'c', processId: 7, table: 't', operation: 'DELETE', key: { id: '1' }, columns: ['id'],
    })
  })
})

/** Characters that matter to the format, and any Unicode; never NUL, which PostgreSQL text cannot hold. */
const tricky = fc.constantFrom('"', "'", '""', "''", ',', '=', ' ', '\n', '\\', '.', 'é', '😀', 'I', 'U', 'D')
const anyText = (minLength: number) =>
  fc.oneof(
    fc.string({ unit: tricky, minLength, maxLength: 12 }),
    fc.string({ unit: 'grapheme', minLength, maxLength: 12 }),
    fc.constantFrom('__proto__', 'constructor', 'toString'),
  ).filter((s) => !s.includes('\0') && s.length >= minLength)
const name = anyText(1)
const value = anyText(0)
const payloadParts = fc.record({
  table: name,
  op: fc.constantFrom('I' as const, 'U' as const, 'D' as const),
  key: fc.uniqueArray(fc.tuple(name, value), { minLength: 1, maxLength: 5, selector: ([column]) => column }),
})

describe('tcn laws', () => {
  // The order is in `columns`: `key` is a record, and a record lists integer-like names ("0",
  // "7") first, in numeric order, whatever the order they were added in (ECMA-262
  // OrdinaryOwnPropertyKeys). So the key is compared as a record, not as a list of entries.
  test.prop([payloadParts])('whatever tcn formats parses back to the same table, operation and key, in order', ({ table, op, key }) => {
    const parsed = parseTcnPayload(formatTcn(table, op, key))
    expect(parsed.table).toBe(table)
    expect(parsed.operation).toBe(ops[op])
    expect(parsed.columns).toEqual(key.map(([column]) => column))
    expect(parsed.key).toEqual(Object.fromEntries(key))
  })

  // A prefix of a quoted part can itself be a whole quoted part ('a''b' cut to 'a'), so some
  // cut payloads parse. The format has one spelling per change, so never as the whole one.
  test.prop([payloadParts, fc.nat()])('a payload cut short is refused or reads as another change, never as the whole one', ({ table, op, key }, at) => {
    const whole = formatTcn(table, op, key)
    const prefix = whole.slice(0, at % whole.length)
    let parsed
    try {
      parsed = parseTcnPayload(prefix)
    } catch (error) {
      expect(error).toBeInstanceOf(SyntaxError)
      return
    }
    expect(prefix.endsWith("'")).toBe(true) // every payload ends by closing a value
    expect([parsed.table, parsed.operation, parsed.columns, parsed.key]).not.toEqual([table, ops[op], key.map(([column]) => column), Object.fromEntries(key)])
  })

  test.prop([fc.string({ unit: fc.constantFrom('"', "'", ',', '=', 'I', 'U', 'D', 'a', '\n'), maxLength: 30 })])(
    'any text yields a whole TcnPayload or a SyntaxError, never anything else',
    (text) => {
      try {
        const parsed = parseTcnPayload(text)
        expect(parsed.columns.length).toBeGreaterThan(0)
        expect(Object.keys(parsed.key)).toEqual(parsed.columns)
      } catch (error) {
        expect(error).toBeInstanceOf(SyntaxError)
      }
    },
  )
})
