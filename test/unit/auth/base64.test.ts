/**
 * Strict base64 (RFC 4648 section 4): the RFC's own vectors, each kind of malformed text refused,
 * and laws checked with fast-check against Node's Buffer as an independent implementation.
 */
import { fc, test as fcTest } from '@fast-check/vitest'
import { describe, expect, test } from 'vitest'
import { Base64Error, decodeBase64, encodeBase64 } from '../../../src/protocol/bytes/base64.ts'

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
const ascii = (text: string) => new TextEncoder().encode(text)

describe('RFC 4648 section 10 test vectors', () => {
  test.each([
    ['', ''],
    ['f', 'Zg=='],
    ['fo', 'Zm8='],
    ['foo', 'Zm9v'],
    ['foob', 'Zm9vYg=='],
    ['fooba', 'Zm9vYmE='],
    ['foobar', 'Zm9vYmFy'],
  ])('BASE64(%j) = %j, both ways', (plain, encoded) => {
    expect(encodeBase64(ascii(plain))).toBe(encoded)
    expect(decodeBase64(encoded)).toEqual(ascii(plain))
  })

  test('all 256 byte values', () => {
    const every = Uint8Array.from({ length: 256 }, (_, i) => i)
    expect(encodeBase64(every)).toBe(Buffer.from(every).toString('base64'))
    expect(decodeBase64(encodeBase64(every))).toEqual(every)
  })
})

describe('decodeBase64 refuses what is not the canonical encoding', () => {
  test.each([
    ['a length that is not a multiple of 4', 'Zm9vY'],
    ['a missing padding', 'Zg'],
    ['a character outside the alphabet', 'Zm9v!mFy'],
    ['the URL-safe alphabet (RFC 4648 section 5)', 'Zm9-'],
    ['a space', 'Zm9v Zg=='],
    ['a line break', 'Zm9v\nZg=='],
    ['a non-ASCII character', 'Zm9\u00e9'],
    ['three padding characters', 'Z==='],
    ['four padding characters', '===='],
    ['padding inside a group', 'Zg=a'],
    ['padding before the last group', 'Zg==Zm9v'],
    ['non-zero bits under "==" (section 3.5)', 'Zh=='],
    ['non-zero bits under "=" (section 3.5)', 'Zm9='],
  ])('%s: %j', (_, text) => {
    expect(() => decodeBase64(text)).toThrow(Base64Error)
  })

  test('Base64Error is a SyntaxError naming the offending position', () => {
    const error = (() => {
      try {
        decodeBase64('Zm9v!mFy')
      } catch (caught) {
        return caught
      }
    })()
    expect(error).toBeInstanceOf(SyntaxError)
    expect((error as Error).name).toBe('Base64Error')
    expect((error as Error).message).toContain('position 4')
  })

  test.each([
    ['Zm9v!mFy', 'invalid base64: character U+0021 at position 4'],
    ['Zm9\u00e9', 'invalid base64: character U+00e9 at position 3'],
    ['Z===', "invalid base64: '=' before the end at position 1"],
    ['Zg=a', "invalid base64: '=' before the end at position 2"],
    ['Zg==Zm9v', "invalid base64: '=' before the end at position 2"],
    ['Zm9vY', 'base64 length 5 is not a multiple of 4'],
    ['Zh==', 'base64 has non-zero bits under its padding (not canonical, RFC 4648 section 3.5)'],
    ['Zm9=', 'base64 has non-zero bits under its padding (not canonical, RFC 4648 section 3.5)'],
  ])('%j: %s', (text, message) => {
    expect(() => decodeBase64(text)).toThrow(new Base64Error(message))
  })
})

describe('laws', () => {
  fcTest.prop([fc.uint8Array({ maxLength: 200 })])('encoding agrees with Buffer and decoding undoes it', (bytes) => {
    const text = encodeBase64(bytes)
    expect(text).toBe(Buffer.from(bytes).toString('base64'))
    expect(decodeBase64(text)).toEqual(bytes)
  })

  const outside = fc
    .string({ minLength: 1, maxLength: 1, unit: 'binary' })
    .filter((char) => !ALPHABET.includes(char) && char !== '=')

  fcTest.prop([fc.uint8Array({ minLength: 1, maxLength: 60 }), fc.nat(), outside])(
    'strict base64 rejects any string with a character outside the alphabet',
    (bytes, where, char) => {
      const valid = encodeBase64(bytes)
      const at = where % valid.length
      const broken = valid.slice(0, at) + char + valid.slice(at + 1)
      expect(() => decodeBase64(broken)).toThrow(Base64Error)
    },
  )

  fcTest.prop([fc.string({ unit: fc.constantFrom(...ALPHABET, '='), maxLength: 24 })])(
    'whatever is accepted is canonical: it encodes back to the same text',
    (text) => {
      let decoded: Uint8Array
      try {
        decoded = decodeBase64(text)
      } catch (error) {
        expect(error).toBeInstanceOf(Base64Error)
        return
      }
      expect(Buffer.from(decoded).toString('base64')).toBe(text) // Node's encoder, not ours
    },
  )

  fcTest.prop([fc.string({ unit: fc.constantFrom(...ALPHABET, '=', ' ', '-', '_', '\n', '\0', '\u00e9', '\ud800', '\u2603'), maxLength: 16 })])(
    "accepted exactly when Node's encoding of Node's lenient decoding gives the text back",
    (text) => {
      const canonical = Buffer.from(Buffer.from(text, 'base64')).toString('base64') === text
      if (canonical) expect(decodeBase64(text)).toEqual(new Uint8Array(Buffer.from(text, 'base64')))
      else expect(() => decodeBase64(text)).toThrow(Base64Error)
    },
  )
})
