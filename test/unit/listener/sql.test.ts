/** Quoting and limits, as PostgreSQL defines them ("SQL Syntax", scansup.c, async.c). */
import { fc, test as propertyTest } from '@fast-check/vitest'
import { describe, expect, test } from 'vitest'
import { checkChannel, checkPayload, foldIdentifier, notifySql, quoteIdentifier, quoteLiteral } from '../../../src/listener/sql.ts'

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

test('quoteIdentifier refuses a NUL', () => {
  expect(() => quoteIdentifier('a\0b')).toThrow(new RangeError('an identifier must not contain a NUL character'))
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
    expect(() => quoteLiteral('a\0b')).toThrow(new RangeError('a string literal must not contain a NUL character'))
  })

  test('standard_conforming_strings is taken to be on (the default since 9.1) unless told', () => {
    expect(quoteLiteral('back\\slash')).toBe("'back\\slash'")
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
    expect(() => checkChannel('')).toThrow(new RangeError('a channel name must not be empty'))
    expect(() => checkChannel(42 as never)).toThrow(new TypeError('a channel name must be a string, not number'))
    expect(() => checkChannel('a\0b')).toThrow(new RangeError('a channel name must not contain a NUL character'))
  })

  // A lone surrogate has no UTF-8: TextEncoder would send U+FFFD, and the server would listen on
  // (or notify) another name than the one the listener matches notifications against.
  test('a lone surrogate in a channel or a payload is refused; a pair (one code point) is not', () => {
    for (const lone of ['\ud800', 'a\udfffb', 'x\ud83d']) {
      expect(() => checkChannel(lone)).toThrow(new RangeError('a channel name must not contain a lone surrogate, which has no UTF-8'))
      expect(() => checkPayload(lone)).toThrow(new RangeError('a payload must not contain a lone surrogate, which has no UTF-8'))
    }
    expect(checkChannel('\ud83d\ude00')).toBe('😀')
    expect(checkPayload('a😀b')).toBe('a😀b')
  })

  test('a channel that is too long is named by its first 20 characters', () => {
    const channel = 'abcdefghijklmnopqrstuvwxyz'.repeat(3)
    expect(() => checkChannel(channel)).toThrow(
      new RangeError('channel name "abcdefghijklmnopqrst"... is 78 bytes; PostgreSQL would truncate it to 63'),
    )
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

  test('a payload refused says how long it was, in which encoding', () => {
    expect(() => checkPayload('é'.repeat(4000))).toThrow(
      new RangeError('the payload is 8000 bytes in UTF8; PostgreSQL takes payloads under 8000 bytes'),
    )
    expect(() => checkPayload(7 as never)).toThrow(new TypeError('a payload must be a string, not number'))
    expect(() => checkPayload('a\0b')).toThrow(new RangeError('a payload must not contain a NUL character'))
  })

  // server_encoding as the server reports it is upper case; the check does not depend on that.
  test.each([
    ['UTF8', 'é'],
    ['utf8', 'é'],
    ['SQL_ASCII', 'é'], // bytes are passed through as they are: UTF-8's two
    ['sql_ascii', 'é'],
  ])('in %s, a %j is its two UTF-8 bytes: 4000 of them are refused', (encoding, character) => {
    expect(() => checkPayload(character.repeat(4000), encoding)).toThrow(/8000 bytes/)
  })

  // Every single-byte encoding PostgreSQL has a name of this form for: one byte per character,
  // so 4000 two-byte-in-UTF-8 letters pass, and 8000 characters are refused (an unknown encoding
  // would be left to the server and pass).
  test.each([
    ['LATIN1', 'é'],
    ['latin1', 'é'],
    ['LATIN10', 'é'],
    ['ISO_8859_5', 'ж'],
    ['KOI8R', 'ж'],
    ['KOI8U', 'ж'],
    ['WIN1251', 'ж'],
    ['WIN866', 'ж'],
    ['WIN874', 'ก'],
  ])('in %s, a %j is one byte: 4000 pass, 8000 are refused', (encoding, character) => {
    expect(checkPayload(character.repeat(4000), encoding)).toBe(character.repeat(4000))
    expect(() => checkPayload(character.repeat(8000), encoding)).toThrow(`the payload is 8000 bytes in ${encoding.toUpperCase()}`)
  })

  test('only a whole encoding name is single-byte: LATIN1 is, XLATIN1 and LATIN1X are not', () => {
    const payload = 'x'.repeat(8000)
    expect(() => checkPayload(payload, 'LATIN1')).toThrow(/8000 bytes in LATIN1/)
    // Not names PostgreSQL has; unknown, so left to the server as an unknown multibyte one would be.
    expect(checkPayload(payload, 'XLATIN1')).toBe(payload)
    expect(checkPayload(payload, 'LATIN1X')).toBe(payload)
  })
})

describe('notifySql', () => {
  const on = new Map([['server_encoding', 'UTF8'], ['standard_conforming_strings', 'on']])
  const off = new Map([['server_encoding', 'UTF8'], ['standard_conforming_strings', 'off']])

  test('pg_notify with both as literals; nothing pasted as an identifier', () => {
    expect(notifySql('Orders', "it's", on)).toBe("SELECT pg_catalog.pg_notify('Orders', 'it''s')")
  })

  test('the escape form only when standard_conforming_strings is off (and when unknown, the standard form)', () => {
    expect(notifySql('a\\b', 'c\\d', off)).toBe("SELECT pg_catalog.pg_notify(E'a\\\\b', E'c\\\\d')")
    expect(notifySql('a\\b', 'c\\d', on)).toBe("SELECT pg_catalog.pg_notify('a\\b', 'c\\d')")
    expect(notifySql('a\\b', 'c\\d', new Map())).toBe("SELECT pg_catalog.pg_notify('a\\b', 'c\\d')")
  })

  test('the channel and the payload are checked, the payload in the server_encoding', () => {
    expect(() => notifySql('', 'x', on)).toThrow(/must not be empty/)
    expect(() => notifySql('x'.repeat(64), 'x', on)).toThrow(/64 bytes/)
    expect(() => notifySql('c', 'é'.repeat(4000), on)).toThrow(/8000 bytes in UTF8/)
    const latin1 = new Map([['server_encoding', 'LATIN1']])
    expect(notifySql('c', 'é'.repeat(4000), latin1)).toBe(`SELECT pg_catalog.pg_notify('c', '${'é'.repeat(4000)}')`)
  })
})
