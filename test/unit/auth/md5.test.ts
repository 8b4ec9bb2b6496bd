/**
 * MD5 against the RFC 1321 test suite and Node's crypto, and the md5 and cleartext password
 * answers against values computed independently with Python's hashlib.
 */
import { createHash } from 'node:crypto'
import { fc, test as fcTest } from '@fast-check/vitest'
import { describe, expect, test } from 'vitest'
import { md5, md5Hex } from '../../../src/protocol/auth/md5.ts'
import { cleartextPasswordResponse, md5PasswordResponse } from '../../../src/protocol/auth/password.ts'

const ascii = (text: string) => new TextEncoder().encode(text)

describe('md5', () => {
  // RFC 1321 appendix A.5, "Test suite".
  test.each([
    ['', 'd41d8cd98f00b204e9800998ecf8427e'],
    ['a', '0cc175b9c0f1b6a831c399e269772661'],
    ['abc', '900150983cd24fb0d6963f7d28e17f72'],
    ['message digest', 'f96b697d7cb7938d525a2f31aaf161d0'],
    ['abcdefghijklmnopqrstuvwxyz', 'c3fcd3d76192e4007dfb496cca67e13b'],
    ['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', 'd174ab98d277d9f5a5611c2c9f419d9f'],
    ['1234567890'.repeat(8), '57edf4a22be3c955ac49da2e2107b67a'],
  ])('MD5 (%j) = %s', (text, digest) => {
    expect(md5Hex(ascii(text))).toBe(digest)
  })

  test('the digest is 16 bytes, of which md5Hex is the lowercase hex', () => {
    const digest = md5(ascii('abc'))
    expect(digest).toHaveLength(16)
    expect(Buffer.from(digest).toString('hex')).toBe(md5Hex(ascii('abc')))
  })

  // Lengths around 55, 56 and 64 bytes exercise the padding into one or two final blocks.
  fcTest.prop([fc.uint8Array({ maxLength: 300 })])('agrees with Node for any bytes', (bytes) => {
    expect(md5Hex(bytes)).toBe(createHash('md5').update(bytes).digest('hex'))
  })
})

describe('md5PasswordResponse (AuthenticationMD5Password)', () => {
  // Computed independently with Python:
  //   import hashlib
  //   inner = hashlib.md5('sécret'.encode() + 'alice'.encode()).hexdigest()
  //   print('md5' + hashlib.md5(inner.encode() + bytes([0x01, 0x02, 0x03, 0x04])).hexdigest())
  test('a UTF-8 password, user "alice", salt 01 02 03 04', () => {
    const salt = Uint8Array.of(0x01, 0x02, 0x03, 0x04) // Byte4 salt, from the message
    expect(md5PasswordResponse('alice', 'sécret', salt)).toBe('md5f42fcb93f90a435da70f5a76b4961d68')
  })

  // The same script with b'foo' + b'bar' and bytes([0x93, 0x7a, 0x00, 0xff]): the salt is raw
  // bytes, a zero and bytes above 0x7f included, not text.
  test('user "bar", password "foo", a salt with a zero byte and high bytes', () => {
    const salt = Uint8Array.of(0x93, 0x7a, 0x00, 0xff)
    expect(md5PasswordResponse('bar', 'foo', salt)).toBe('md5d87eee234cf763bbd87def9712e3d261')
  })

  test('refuses a salt that is not 4 bytes', () => {
    expect(() => md5PasswordResponse('bar', 'foo', Uint8Array.of(1, 2, 3))).toThrow(RangeError)
    // The message's Byte4 salt is exactly 4 bytes; the error says how many there were.
    expect(() => md5PasswordResponse('bar', 'foo', Uint8Array.of(1, 2, 3))).toThrow('an MD5 salt is 4 bytes, not 3')
    expect(() => md5PasswordResponse('bar', 'foo', new Uint8Array(5))).toThrow('an MD5 salt is 4 bytes, not 5')
    expect(() => md5PasswordResponse('bar', 'foo', new Uint8Array(0))).toThrow('an MD5 salt is 4 bytes, not 0')
  })
})

describe('cleartextPasswordResponse (AuthenticationCleartextPassword)', () => {
  test('is the password itself', () => {
    expect(cleartextPasswordResponse('pa ss\u00e9')).toBe('pa ss\u00e9')
  })
})
