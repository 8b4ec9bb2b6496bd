/**
 * Column values from text, checked against node-postgres' own parsers (pg-types, a dev
 * dependency): for each type the stream converts, the same text must give the same value.
 */
import fc from 'fast-check'
import pgTypes from 'pg-types'
import { describe, expect, test } from 'vitest'
import { ValueParseError } from '../../../src/replication/errors.ts'
import { createValueParser, defaultParsers, parseArray } from '../../../src/replication/values.ts'

const parse = createValueParser()
/** What node-postgres gives for `text` of type `oid`; Buffers compared as bytes. */
const pg = (text: string, oid: number): unknown => bytes(pgTypes.getTypeParser(oid, 'text')(text))
const bytes = (value: unknown): unknown => (Buffer.isBuffer(value) ? new Uint8Array(value) : Array.isArray(value) ? value.map(bytes) : value)

describe('as node-postgres reads them', () => {
  const samples: [string, number][] = [
    ['t', 16], ['f', 16],
    ['42', 23], ['-7', 21], ['4294967295', 26], ['9007199254740993', 20],
    ['1.5', 701], ['NaN', 701], ['Infinity', 700], ['-Infinity', 701], ['12345678901234567890.123', 1700],
    ['{"a":[1,2,{"b":null}]}', 3802], ['[1, "x"]', 114],
    ['\\x00ff10', 17], ['abc\\\\def\\001', 17],
    ['2026-12-05 10:00:00.123456+00', 1184], ['2026-12-05 10:00:00+05:30', 1184], ['0044-03-15 12:00:00+00 BC', 1184],
    ['2026-12-05', 1082], ['2026-12-05 10:00:00', 1114], ['infinity', 1184], ['-infinity', 1082],
    ['(1.5,-2)', 600],
    ['{}', 1007], ['{1,2,NULL}', 1007], ['{{1,2},{3,4}}', 1007], ['[0:1]={5,6}', 1007],
    ['{a,"b c","NULL",NULL,"with \\"quote\\"","back\\\\slash","com,ma","{brace}"}', 1009],
    ['{t,f}', 1000], ['{1.5,NaN}', 1022], ['{"{\\"a\\": 1}",null}', 3807], ['{9007199254740993}', 1016],
    ['{"2026-12-05 10:00:00+00"}', 1185], ['{"\\\\x01ff"}', 1001],
    ['héllo wörld ☃', 25], ['3fa85f64-5717-4562-b3fc-2c963f66afa6', 2950],
  ]
  test.each(samples)('%s as type %i', (text, oid) => {
    expect(parse(text, oid)).toEqual(pg(text, oid))
  })

  test('one deliberate difference: numeric[] elements stay exact text, as a numeric does (pg-types makes them floats)', () => {
    expect(parse('{1.10,12345678901234567890.5}', 1231)).toEqual(['1.10', '12345678901234567890.5'])
    expect(pg('{1.10}', 1231)).toEqual([1.1])
  })

  test('law: int4 and text arrays of any elements read as node-postgres reads them', () => {
    const quote = (s: string) => `"${s.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`
    fc.assert(
      fc.property(fc.array(fc.option(fc.string(), { nil: null })), fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })), (texts, ints) => {
        const textArray = `{${texts.map((t) => (t === null ? 'NULL' : quote(t))).join(',')}}`
        expect(parse(textArray, 1009)).toEqual(pg(textArray, 1009))
        const intArray = `{${ints.join(',')}}`
        expect(parse(intArray, 1007)).toEqual(pg(intArray, 1007))
      }),
    )
  })
})

describe('overrides and the rest', () => {
  test('an unknown type stays text; an override by OID replaces the default; a function override first, undefined meaning the default', () => {
    expect(parse('(1,2)', 718)).toBe('(1,2)')
    expect(createValueParser({ 20: BigInt })('9007199254740993', 20)).toBe(9007199254740993n)
    const custom = createValueParser((text, oid) => (oid === 1700 ? Number(text) : undefined))
    expect(custom('1.25', 1700)).toBe(1.25)
    expect(custom('7', 23)).toBe(7)
    expect(defaultParsers.get(23)!('8')).toBe(8)
  })

  test.each([
    ['{1,2', 1007], ['{1,2}x', 1007], ['{"a}', 1009], ['{a"b}', 1009], ['{,}', 1007], ['[1:2]{1,2}', 1007],
    ['\\x0', 17], ['\\xzz', 17], ['a\\9', 17], ['not a date', 1184], ['(1,)', 600], ['{"a":', 3802],
    ['a☃', 17], ['x(1,2)', 600], ['2026-12-05 10:00:00+01 junk', 1184],
  ])('%s (type %i) is a ValueParseError that names the type', (text, oid) => {
    expect(() => parse(text, oid)).toThrow(ValueParseError)
    expect(() => parse(text, oid)).toThrow(new RegExp(`^type ${oid}: `))
  })

  test('an error quotes at most 40 characters of the text it could not read', () => {
    expect(() => parse(`{${'x'.repeat(100)}`, 3802)).toThrow(`type 3802: not JSON: "{${'x'.repeat(39)}"`)
  })

  test('booleans as the server writes them (t, f) and as a user might (true)', () => {
    expect([parse('t', 16), parse('f', 16), parse('true', 16), parse('false', 16)]).toEqual([true, false, true, false])
  })

  test('an offset with seconds, as the server writes local mean time before 1900, moves the instant by its seconds', () => {
    expect((parse('1850-01-01 00:00:00+00:53:28', 1184) as Date).getTime()).toBe(Date.UTC(1850, 0, 1) - (53 * 60 + 28) * 1000)
    expect((parse('1850-01-01 00:00:00-00:53:28', 1184) as Date).getTime()).toBe(Date.UTC(1850, 0, 1) + (53 * 60 + 28) * 1000)
  })

  test('parseArray hands each element to its parser, nulls aside', () => {
    expect(parseArray('{1,NULL,"3"}', (t) => `<${t}>`)).toEqual(['<1>', null, '<3>'])
  })
})

describe('dates in every year the server writes', () => {
  const pad = (n: number, width = 2) => String(n).padStart(width, '0')
  /** `instant` as the server writes a timestamptz in the given offset (ISO DateStyle), BC and all. */
  const serverText = (instant: number, offsetMinutes: number): string => {
    const shifted = new Date(instant + offsetMinutes * 60_000) // its UTC fields are the wall clock
    const year = shifted.getUTCFullYear()
    const sign = offsetMinutes < 0 ? '-' : '+'
    const offset = Math.abs(offsetMinutes)
    return `${pad(year <= 0 ? 1 - year : year, 4)}-${pad(shifted.getUTCMonth() + 1)}-${pad(shifted.getUTCDate())} ` +
      `${pad(shifted.getUTCHours())}:${pad(shifted.getUTCMinutes())}:${pad(shifted.getUTCSeconds())}.${pad(shifted.getUTCMilliseconds(), 3)}` +
      `${sign}${pad(Math.floor(offset / 60))}:${pad(offset % 60)}${year <= 0 ? ' BC' : ''}`
  }

  /** An instant from its UTC fields, years 0 to 99 as they are (Date.UTC would add 1900). */
  const utc = (year: number, month: number, day: number, hour: number, minute: number): number => {
    const d = new Date(0)
    d.setUTCFullYear(year, month, day)
    return d.setUTCHours(hour, minute, 0, 0)
  }

  test('law: a timestamptz as the server writes it reads back as the same instant, in any year (0 to 99 and BC too) and any offset', () => {
    const yearMs = 365.2425 * 24 * 3600_000
    fc.assert(
      fc.property(
        fc.integer({ min: Math.round(-4713 * yearMs - 62_167_219_200_000), max: Math.round(9999 * yearMs - 62_167_219_200_000) }),
        fc.integer({ min: -15 * 60, max: 15 * 60 }),
        (instant, offset) => {
          const text = serverText(instant, offset)
          expect((parse(text, 1184) as Date).getTime(), text).toBe(instant)
        },
      ),
      // Half an hour into a year, an hour west: the wall clock is still in the year before.
      { examples: [[utc(100, 0, 1, 0, 30), -60], [utc(1, 0, 1, 0, 30), -60], [utc(0, 2, 1, 0, 0), 0]] },
    )
  })

  test('the early years: 0099-12-31 23:30-01 is in year 100; 29 February of 1 BC (a leap year) is a day of its own', () => {
    const crossing = parse('0099-12-31 23:30:00-01', 1184) as Date
    expect([crossing.getUTCFullYear(), crossing.getUTCMonth(), crossing.getUTCDate(), crossing.getUTCHours()]).toEqual([100, 0, 1, 0])
    const leap = parse('0001-02-29 BC', 1082) as Date
    expect([leap.getFullYear(), leap.getMonth(), leap.getDate()]).toEqual([0, 1, 29])
    const local = parse('0042-07-04 12:34:56.789', 1114) as Date
    expect([local.getFullYear(), local.getMonth(), local.getDate(), local.getHours(), local.getMinutes(), local.getSeconds(), local.getMilliseconds()]).toEqual([42, 6, 4, 12, 34, 56, 789])
  })
})

describe('what cannot be read is a ValueParseError that names the type and says what is wrong', () => {
  test.each<[string, number, string]>([
    ['{bad', 3802, 'not JSON: "{bad"'],
    ['\\x0', 17, 'malformed bytea hex: "\\\\x0"'],
    // Quoted up to 40 characters: a value may be long.
    [`\\x${'zz'.repeat(30)}`, 17, `malformed bytea hex: "\\\\x${'z'.repeat(38)}"`],
    ['\u2603', 17, 'malformed bytea escape: a character beyond one byte'],
    ['a\\9', 17, 'malformed bytea escape at character 1'],
    ['not a date at all, and a rather long text besides', 1184, 'not a date or timestamp: "not a date at all, and a rather long tex"'],
    ['x', 600, 'not a point: "x"'],
    // Nothing may follow the closing parenthesis; quoted up to 40 characters.
    ['(1,2) and then some, enough to pass forty characters', 600, 'not a point: "(1,2) and then some, enough to pass fort"'],
    ['[1:2]{1,2}', 1007, 'malformed array: dimensions without "="'],
    ['x', 1007, 'malformed array literal at character 0: expected "{"'],
    ['{"abc', 1009, 'malformed array literal at character 5: an unterminated quoted element'],
    ['{"ab\\', 1009, 'malformed array literal at character 5: an unterminated quoted element'], // ends after a backslash
    ['{a"b}', 1009, 'malformed array literal at character 2: a special character in a bare element'],
    ['{a,}', 1009, 'malformed array literal at character 3: an empty element'],
    ['{a}x', 1009, 'malformed array literal at character 3: trailing characters'],
    ['{{1}x}', 1007, 'malformed array literal at character 4: expected "," or "}"'],
    ['{a', 1009, 'malformed array literal at character 2: expected "," or "}"'],
    ['{"a"x}', 1009, 'malformed array literal at character 4: expected "," or "}"'],
  ])('%j as type %i: %s', (text, oid, message) => {
    let caught: unknown
    try {
      parse(text, oid)
    } catch (error) {
      caught = error
    }
    expect(caught).toEqual(new ValueParseError(`type ${oid}: ${message}`))
    // The parser's own error is the cause; JSON's SyntaxError is the cause of that.
    expect((caught as Error).cause).toEqual(new ValueParseError(message))
    if (oid === 3802) expect(((caught as Error).cause as Error).cause).toBeInstanceOf(SyntaxError)
  })

  test('the edges that are allowed: a byte of 0xff, spaces around bare elements, points with infinities and several digits', () => {
    expect(parse('\u00ff', 17)).toEqual(new Uint8Array([0xff]))
    expect(parse('{ a , b }', 1009)).toEqual(['a', 'b'])
    expect(parse('(1.5,-2.25)', 600)).toEqual({ x: 1.5, y: -2.25 })
    expect(parse('(10,23)', 600)).toEqual({ x: 10, y: 23 })
    expect(parse('(-Infinity,Infinity)', 600)).toEqual({ x: -Infinity, y: Infinity })
    expect(parse('(Infinity,-Infinity)', 600)).toEqual({ x: Infinity, y: -Infinity })
  })

  test("an override's own error (not a ValueParseError) comes through as it is; null overrides are none", () => {
    const bug = new TypeError('a bug in the override')
    const withOverride = createValueParser({ 23: () => { throw bug } })
    expect(() => withOverride('1', 23)).toThrow(bug)
    expect(createValueParser(null as never)('42', 23)).toBe(42)
  })
})
