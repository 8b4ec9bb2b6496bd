/**
 * The WebCrypto wrappers, against published vectors (FIPS 180-2, RFC 4231, RFC 7914) and against
 * Node's own crypto module as an independent implementation.
 */
import { createHmac } from 'node:crypto'
import { fc, test as fcTest } from '@fast-check/vitest'
import { describe, expect, test } from 'vitest'
import { constantTimeEqual, hmacSha256, pbkdf2Sha256, randomBytes, sha256 } from '../../../src/protocol/auth/crypto.ts'

const ascii = (text: string) => new TextEncoder().encode(text)
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex')

describe('sha256', () => {
  test('SHA-256("abc"), FIPS 180-2 appendix B.1', async () => {
    expect(hex(await sha256(ascii('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  })
})

describe('hmacSha256', () => {
  test('RFC 4231 test case 2: key "Jefe"', async () => {
    const mac = await hmacSha256(ascii('Jefe'), ascii('what do ya want for nothing?'))
    expect(hex(mac)).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843')
  })

  test('an empty key works, and equals what Node computes for it (RFC 2104 zero padding)', async () => {
    const mac = await hmacSha256(new Uint8Array(0), ascii('data'))
    expect(hex(mac)).toBe(createHmac('sha256', Buffer.alloc(0)).update('data').digest('hex'))
  })
})

describe('pbkdf2Sha256', () => {
  test('RFC 7914 section 11: P="passwd", S="salt", c=1 (first 32 bytes of dkLen=64)', async () => {
    const key = await pbkdf2Sha256(ascii('passwd'), ascii('salt'), 1)
    expect(hex(key)).toBe('55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc')
  })

  test.each([0, -1, 1.5, Number.NaN])('refuses the iteration count %s', async (iterations) => {
    await expect(pbkdf2Sha256(ascii('p'), ascii('s'), iterations)).rejects.toThrow(RangeError)
  })
})

describe('randomBytes', () => {
  test('gives the length asked for, even past the 65,536-byte limit of one getRandomValues call', () => {
    expect(randomBytes(0)).toHaveLength(0)
    expect(randomBytes(18)).toHaveLength(18)
    const many = randomBytes(70_000)
    expect(many).toHaveLength(70_000)
    // The tail past the first call is filled too: 4,464 zero bytes in a row would be a bug.
    expect(many.subarray(65_536).some((byte) => byte !== 0)).toBe(true)
  })

  test('refuses a negative count', () => {
    expect(() => randomBytes(-1)).toThrow(RangeError)
  })
})

describe('constantTimeEqual', () => {
  test('equal bytes, different bytes, different lengths', () => {
    expect(constantTimeEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 3))).toBe(true)
    expect(constantTimeEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 4))).toBe(false)
    expect(constantTimeEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2))).toBe(false)
    expect(constantTimeEqual(new Uint8Array(0), new Uint8Array(0))).toBe(true)
  })

  fcTest.prop([fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.nat(), fc.integer({ min: 0, max: 7 })])(
    'one flipped bit anywhere makes the arrays unequal',
    (bytes, where, bit) => {
      const other = bytes.slice()
      other[where % other.length]! ^= 1 << bit
      expect(constantTimeEqual(bytes, bytes.slice())).toBe(true)
      expect(constantTimeEqual(bytes, other)).toBe(false)
    },
  )
})
