/**
 * The DER reader (X.690) on its own: lengths in every form DER allows and the ones it forbids,
 * bounds that a child cannot cross, and OBJECT IDENTIFIERs against X.690's own example.
 */
import { fc, test as fcTest } from '@fast-check/vitest'
import { describe, expect, test } from 'vitest'
import { DerError, DerReader, decodeOid } from '../../../src/protocol/auth/der.ts'
import { derLength, oid } from './der-support.ts'

const bytes = (...values: number[]) => Uint8Array.from(values)

describe('lengths', () => {
  test('short and long forms, each read to the end', () => {
    const long = new Uint8Array(300).fill(7)
    const input = bytes(
      0x04, 0x02, 0xaa, 0xbb,  // OCTET STRING, short form: 2 bytes
      0x04, 0x81, 0x80, ...new Uint8Array(128), // long form, one length byte: 128 bytes
      0x04, 0x82, 0x01, 0x2c, ...long,          // long form, two length bytes: 300 bytes
    )
    const reader = new DerReader(input)
    expect(reader.contents(reader.read(0x04, 'first'))).toEqual(bytes(0xaa, 0xbb))
    expect(reader.contents(reader.read(0x04, 'second')).length).toBe(128)
    expect(reader.contents(reader.read(0x04, 'third'))).toEqual(long)
    expect(reader.done).toBe(true)
    reader.finish('input')
  })

  test.each([
    ['indefinite length (BER only)', bytes(0x30, 0x80, 0x00, 0x00), /indefinite length/],
    ['long form for a length under 128', bytes(0x04, 0x81, 0x05, 1, 2, 3, 4, 5), /shortest form/],
    ['a leading zero length byte', bytes(0x04, 0x82, 0x00, 0x80, ...new Uint8Array(128)), /shortest form/],
    ['a length in five bytes', bytes(0x04, 0x85, 0, 0, 0, 0, 1, 0), /5 bytes/],
    ['length bytes cut off', bytes(0x04, 0x82, 0x01), /runs past/],
    ['no length at all', bytes(0x04), /no length/],
    ['contents cut off', bytes(0x04, 0x03, 1, 2), /3 bytes of contents run past/],
    ['a high tag number', bytes(0x1f, 0x81, 0x00, 0x00), /high tag number/],
  ])('refuses %s', (_, input, message) => {
    const reader = new DerReader(input)
    expect(() => reader.read(input[0]!, 'element')).toThrow(DerError)
    expect(() => new DerReader(input).read(input[0]!, 'element')).toThrow(message)
  })

  test('a child whose length runs past its parent is refused, though the input goes on', () => {
    const input = bytes(
      0x30, 0x04,             // SEQUENCE of 4 bytes
      0x04, 0x05, 0xaa, 0xbb, //   OCTET STRING claiming 5 bytes: 3 more than its parent holds
      0x04, 0x01, 0xcc,       // a sibling of the SEQUENCE, which the child must not swallow
    )
    const outer = new DerReader(input)
    const sequence = outer.read(0x30, 'outer')
    expect(() => outer.inside(sequence).read(0x04, 'inner')).toThrow(/run past their parent/)
    expect(outer.contents(outer.read(0x04, 'sibling'))).toEqual(bytes(0xcc))
  })

  test('a wrong tag and trailing bytes are refused', () => {
    expect(() => new DerReader(bytes(0x02, 0x01, 0x00)).read(0x30, 'SEQUENCE')).toThrow(/expected tag 0x30, found 0x02/)
    const reader = new DerReader(bytes(0x05, 0x00, 0x05, 0x00))
    reader.read(0x05, 'NULL')
    expect(() => reader.finish('input')).toThrow(/2 unexpected trailing bytes/)
  })

  fcTest.prop([fc.uint8Array({ maxLength: 40 }), fc.integer({ min: 1, max: 0xffffff })])(
    'a declared length past the end is refused, never read',
    (contents, excess) => {
      const declared = contents.length + excess
      const input = Uint8Array.from([0x04, ...derLength(declared), ...contents])
      expect(() => new DerReader(input).read(0x04, 'OCTET STRING')).toThrow(DerError)
    },
  )
})

describe('OBJECT IDENTIFIER', () => {
  test.each([
    // X.690 section 8.19.5's example: {2 999 3} is 0x88 0x37 0x03.
    ['2.999.3', bytes(0x88, 0x37, 0x03)],
    // sha256WithRSAEncryption, as it appears in every RSA certificate.
    ['1.2.840.113549.1.1.11', bytes(0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b)],
    ['1.3.101.112', bytes(0x2b, 0x65, 0x70)], // Ed25519, RFC 8410 section 3
    ['0.0', bytes(0x00)],
    ['1.39', bytes(0x4f)],
    ['1.0', bytes(0x28)], // 40: the first value that is arc 1's, not arc 0's
    ['2.0', bytes(0x50)],
  ])('%s', (dotted, contents) => {
    expect(decodeOid(contents)).toBe(dotted)
  })

  test('a 128-bit arc (a UUID under 2.25, ITU-T X.667) stays exact', () => {
    const uuid = '329800735698586629295641978511506172918'
    expect(decodeOid(oid(`2.25.${uuid}`).subarray(2))).toBe(`2.25.${uuid}`)
  })

  test.each([
    ['empty', bytes(), /empty/],
    ['a sub-identifier starting 0x80', bytes(0x2a, 0x80, 0x01), /shortest form/],
    ['a first sub-identifier starting 0x80', bytes(0x80, 0x2a), /shortest form/],
    ['a last byte with the continuation bit', bytes(0x2a, 0x86), /ends inside/],
  ])('refuses %s', (_, contents, message) => {
    expect(() => decodeOid(contents)).toThrow(message)
  })

  fcTest.prop([fc.integer({ min: 0, max: 2 }), fc.bigInt({ min: 0n, max: 39n }), fc.array(fc.bigInt({ min: 0n, max: 2n ** 70n }), { maxLength: 8 })])(
    'decoding undoes an independent encoder',
    (first, second, rest) => {
      const dotted = [BigInt(first), second, ...rest].join('.')
      expect(decodeOid(oid(dotted).subarray(2))).toBe(dotted)
    },
  )
})
