/**
 * The pure SHA-224 against FIPS 180-4's examples and against Node's crypto module (OpenSSL) as an
 * independent implementation, across the padding boundaries where such code goes wrong.
 */
import { createHash } from 'node:crypto'
import { fc, test as fcTest } from '@fast-check/vitest'
import { describe, expect, test } from 'vitest'
import { sha224 } from '../../../src/protocol/auth/sha224.ts'

const ascii = (text: string) => new TextEncoder().encode(text)
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex')
const node = (bytes: Uint8Array) => createHash('sha224').update(bytes).digest('hex')

describe('sha224', () => {
  // NIST's examples for FIPS 180 (csrc.nist.gov, "SHA224.pdf"): one block, two blocks.
  test('SHA-224("abc")', () => {
    expect(hex(sha224(ascii('abc')))).toBe('23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7')
  })

  test('SHA-224 of the 448-bit two-block message', () => {
    const message = ascii('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')
    expect(hex(sha224(message))).toBe('75388b16512776cc5dba5da1fd890150b0c6455cb4f58b1952522525')
  })

  test('SHA-224 of nothing', () => {
    expect(hex(sha224(new Uint8Array(0)))).toBe('d14a028c2a3a2bc9476102bb288234c415a2b01f828ea62ac5b3e42f')
  })

  // 55 bytes is the most that pads into one block, 56 the least that needs two.
  test.each([55, 56, 63, 64, 65, 119, 120, 1000])('agrees with Node at %i bytes', (length) => {
    const data = Uint8Array.from({ length }, (_, i) => (i * 31 + 7) & 0xff)
    expect(hex(sha224(data))).toBe(node(data))
  })

  test('hashes a view, not the buffer under it', () => {
    const buffer = Uint8Array.from({ length: 100 }, (_, i) => i)
    const view = buffer.subarray(10, 70)
    expect(hex(sha224(view))).toBe(node(Uint8Array.from(view)))
  })

  fcTest.prop([fc.uint8Array({ maxLength: 300 })])('agrees with Node for any bytes', (data) => {
    expect(hex(sha224(data))).toBe(node(data))
  })
})
