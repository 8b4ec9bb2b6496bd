/**
 * exactIntegers (src/listener/changes/json.ts): JSON.parse turns 9007199254740993 into
 * 9007199254740992; before parsing, such integers become strings of their exact digits.
 */
import { fc, test as propertyTest } from '@fast-check/vitest'
import { describe, expect, test } from 'vitest'
import { exactIntegers } from '../../../src/listener/changes/json.ts'

/** What a JSON value should parse to: every unsafe integer as its digits, the rest unchanged. */
function expected(value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : String(value)
  if (typeof value === 'number') {
    // A double written as bare digits beyond 2^53 is such an integer too (JSON cannot tell).
    const text = JSON.stringify(value)
    return /^-?\d+$/.test(text) && !Number.isSafeInteger(Number(text)) ? text : JSON.parse(text)
  }
  if (Array.isArray(value)) return value.map(expected)
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expected(v)]))
  return value
}

/** JSON text written by hand, so that bigints appear as bare integers. */
function write(value: unknown): string {
  if (typeof value === 'bigint') return String(value)
  if (Array.isArray(value)) return `[${value.map(write).join(',')}]`
  if (value !== null && typeof value === 'object') return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${write(v)}`).join(',')}}`
  return JSON.stringify(value)
}

describe('exactIntegers', () => {
  test('integers beyond 2^53 become their digits; safe ones, decimals and strings stay as they are', () => {
    const text = '{"a":9007199254740993,"b":-9007199254740993,"c":9007199254740991,"d":1.2345678901234567,"e":"12345678901234567890","f":[12345678901234567890]}'
    expect(JSON.parse(exactIntegers(text))).toEqual({ a: '9007199254740993', b: '-9007199254740993', c: 9007199254740991, d: 1.2345678901234567, e: '12345678901234567890', f: ['12345678901234567890'] })
  })

  test('digits inside a string, after escaped quotes and backslashes, are left alone', () => {
    const text = String.raw`{"s":"a\"12345678901234567890\\","n":12345678901234567890}`
    expect(JSON.parse(exactIntegers(text))).toEqual({ s: 'a"12345678901234567890\\', n: '12345678901234567890' })
  })

  test('malformed text ends the scan too: an unterminated string, a number at the very end', () => {
    expect(exactIntegers('"abc 12345678901234567')).toBe('"abc 12345678901234567')
    expect(exactIntegers('12345678901234567')).toBe('"12345678901234567"')
    expect(exactIntegers('[1,12345678901234567')).toBe('[1,"12345678901234567"')
  })

  test('text without 16 digits in a row is returned as it is', () => {
    const text = '{"a":123456789012345,"b":"x"}'
    expect(exactIntegers(text)).toBe(text)
  })

  const leaf = fc.oneof(fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }), fc.bigInt({ min: -(2n ** 54n), max: 2n ** 54n }), fc.string({ unit: 'grapheme' }), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null))
  const { value } = fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(fc.string(), tie('value'), { maxKeys: 4 })),
  }))

  propertyTest.prop([value])('parsing after exactIntegers gives every unsafe integer exactly, as its digits, and everything else as JSON.parse does', (v) => {
    expect(JSON.parse(exactIntegers(write(v)))).toEqual(expected(v))
  })
})
