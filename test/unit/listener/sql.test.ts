/** Quoting and limits, as PostgreSQL defines them ("SQL Syntax", scansup.c, async.c). */
import { fc, test as propertyTest } from '@fast-check/vitest'
import { describe, expect, test } from 'vitest'
import { checkChannel, checkPayload, foldIdentifier, quoteIdentifier, quoteLiteral } from '../../../src/listener/sql.ts'

describe('quoteIdentifier', () => {
  test.each([
    ['orders', '"orders"'],
    ['Mixed Case', '"Mixed Case"'],
    ['a "quote"', '"a ""quote"""'],
    ['x"; DROP TABLE t; --', '"x""; DROP TABLE t; --"'],
  ])('%j → %s', (name, quoted) => {
    expect(quoteIdentifier(name)).toBe(quoted)
  })

  propertyTest.prop([fc.string().filter((s) => !s.includes('\0'))])('inside the quotes, every quote is doubled: undoubling gives the name back', (name) => {
    const quoted = quoteIdentifier(name)
    expect(quoted.startsWith('"') && quoted.endsWith('"')).toBe(true)
    const inner = quoted.slice(1, -1)
    expect(inner.replace(/""/g, '')).not.toContain('"')
    expect(inner.replaceAll('""', '"')).toBe(name)
  })
})

describe('quoteLiteral', () => {
  test.each([
    ["it's", true, "'it''s'"],
    ['back\\slash', true, "'back\\slash'"], // standard_conforming_strings on: backslash is ordinary
    ['back\\slash', false, "E'back\\\\slash'"], // off: the escape form, backslash doubled
    ["no backslash's", false, "'no backslash''s'"],
  ])('%j (standard_conforming_strings %s) → %s', (text, standard, quoted) => {
    expect(quoteLiteral(text, standard)).toBe(quoted)
  })

  test('a NUL is refused', () => {
    expect(() => quoteLiteral('a\0b')).toThrow(RangeError)
  })
})

describe('foldIdentifier', () => {
  test.each([
    ['Orders', 'orders'],
    ['ÄÖÜ_ABC', 'ÄÖÜ_abc'], // only ASCII letters fold in a UTF-8 database
    ['already_lower', 'already_lower'],
  ])('%j → %j', (name, folded) => {
    expect(foldIdentifier(name)).toBe(folded)
  })
})

describe('limits', () => {
  test('a channel of 63 bytes passes; 64 is refused, counting UTF-8 bytes', () => {
    expect(checkChannel('x'.repeat(63))).toHaveLength(63)
    expect(() => checkChannel('x'.repeat(64))).toThrow(/64 bytes/)
    expect(() => checkChannel('é'.repeat(32))).toThrow(/64 bytes/)
    expect(() => checkChannel('')).toThrow(RangeError)
    expect(() => checkChannel(42 as never)).toThrow(TypeError)
  })

  test('a payload must stay under 8000 bytes in the server encoding', () => {
    expect(checkPayload('x'.repeat(7999))).toHaveLength(7999)
    expect(() => checkPayload('x'.repeat(8000))).toThrow(/8000 bytes/)
    expect(() => checkPayload('é'.repeat(4000))).toThrow(/8000 bytes in UTF8/)
    // In LATIN1 an é is one byte: 4000 of them are fine.
    expect(checkPayload('é'.repeat(4000), 'LATIN1')).toHaveLength(4000)
    // An unknown multibyte encoding is left to the server's own check.
    expect(checkPayload('x'.repeat(9000), 'EUC_JP')).toHaveLength(9000)
  })
})
