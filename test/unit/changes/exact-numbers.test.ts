/**
 * exactNumbers and decodeJson (src/listener/changes/json.ts): JSON.parse turns 9007199254740993
 * into 9007199254740992 and 0.12345678901234567890 into 0.12345678901234568; before parsing,
 * such numbers become strings of their exact digits. Numbers a double holds stay numbers.
 */
import { fc, test as propertyTest } from '@fast-check/vitest'
import { describe, expect, test } from 'vitest'
import { PayloadError } from '../../../src/listener/changes/errors.ts'
import { decodeJson, exactNumbers } from '../../../src/listener/changes/json.ts'

/** What a bare JSON number should parse to: the number if a double holds it exactly, else its text. */
function expectedNumber(text: string): number | string {
  const value = Number(text)
  return Number.isFinite(value) && sameDecimal(text, String(value)) ? value : text
}

/** Two decimal texts with the same value, compared by an independent route: integers scaled by 10^400. */
function sameDecimal(a: string, b: string): boolean {
  const scaled = (t: string) => {
    const m = /^(-?)(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/i.exec(t)!
    const [, sign, whole = '', fraction = '', exponent = '0'] = m
    const shift = 400 + Number(exponent) - fraction.length
    const digits = BigInt((whole + fraction) || '0')
    return (sign === '-' ? -1n : 1n) * (shift >= 0 ? digits * 10n ** BigInt(shift) : digits / 10n ** BigInt(-shift)) // exact for these inputs
  }
  return scaled(a) === scaled(b)
}

/** JSON text written by hand, so that numbers appear exactly as generated. */
function write(value: unknown): string {
  if (typeof value === 'object' && value !== null && 'raw' in value) return (value as { raw: string }).raw
  if (Array.isArray(value)) return `[${value.map(write).join(',')}]`
  if (value !== null && typeof value === 'object') return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${write(v)}`).join(',')}}`
  return JSON.stringify(value)
}
function expected(value: unknown): unknown {
  if (typeof value === 'object' && value !== null && 'raw' in value) return expectedNumber((value as { raw: string }).raw)
  if (Array.isArray(value)) return value.map(expected)
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expected(v)]))
  return value === undefined ? value : JSON.parse(JSON.stringify(value))
}

describe('exactNumbers', () => {
  test('integers beyond 2^53 and decimals with more digits than a double keeps become their digits; the rest stay numbers', () => {
    const text = '{"a":9007199254740993,"b":-9007199254740993,"c":9007199254740991,"d":9007199254740992,"e":0.12345678901234567890,"f":1.2345678901234567,"g":"12345678901234567890","h":[12345678901234567890],"i":9.500000000000000000}'
    expect(JSON.parse(exactNumbers(text))).toEqual({
      a: '9007199254740993', b: '-9007199254740993', c: 9007199254740991, d: 9007199254740992,
      e: '0.12345678901234567890', f: 1.2345678901234567, g: '12345678901234567890', h: ['12345678901234567890'], i: 9.5,
    })
  })

  test('digits inside a string, after escaped quotes and backslashes, are left alone', () => {
    const text = String.raw`{"s":"a\"12345678901234567890\\","n":12345678901234567890}`
    expect(JSON.parse(exactNumbers(text))).toEqual({ s: 'a"12345678901234567890\\', n: '12345678901234567890' })
  })

  test('malformed text ends the scan too: an unterminated string, a number at the very end', () => {
    expect(exactNumbers('"abc 12345678901234567')).toBe('"abc 12345678901234567')
    expect(exactNumbers('12345678901234567')).toBe('"12345678901234567"')
    expect(exactNumbers('[1,12345678901234567')).toBe('[1,"12345678901234567"')
  })

  test('text without 16 digits (or digits and points) in a row is returned as it is', () => {
    const text = '{"a":123456789012345,"b":"x","c":1.5}'
    expect(exactNumbers(text)).toBe(text)
  })

  const number = fc.oneof(
    fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
    fc.bigInt({ min: -(2n ** 54n), max: 2n ** 54n }).map(String),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
    fc.tuple(fc.bigInt({ min: 0n, max: 10n ** 25n }), fc.integer({ min: 1, max: 25 })).map(([n, places]) => {
      const digits = n.toString().padStart(places + 1, '0')
      return `${digits.slice(0, -places)}.${digits.slice(-places)}`
    }),
  ).map((raw) => ({ raw }))
  const leaf = fc.oneof(number, fc.string({ unit: 'grapheme' }), fc.boolean(), fc.constant(null))
  const { value } = fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(fc.string(), tie('value'), { maxKeys: 4 })),
  }))

  propertyTest.prop([value])('parsing after exactNumbers gives every number a double holds as that number, and every other as its exact text', (v) => {
    expect(JSON.parse(exactNumbers(write(v)))).toEqual(expected(v))
  })
})

describe('decodeJson', () => {
  const from = (payload: string) => ({ channel: 'c', processId: 1, payload })
  test.each([
    '[00000000000000000009007199254740993]',
    '{12345678901234567890: 1}',
    '[-012345678901234567890]',
  ])('%s is not JSON, and stays refused though its number would be rewritten', (payload) => {
    expect(decodeJson(from(payload))).toBeInstanceOf(PayloadError)
  })

  test('a number a double cannot hold arrives as its text', () => {
    expect(decodeJson(from('{"id":12345678901234567890,"n":1}'))).toEqual({ id: '12345678901234567890', n: 1 })
  })
})
