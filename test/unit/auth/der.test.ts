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

/** Runs `action`, expects a DerError, and returns it, so its words and offset can be checked. */
function derError(action: () => unknown): DerError {
  try {
    action()
  } catch (error) {
    expect(error).toBeInstanceOf(DerError)
    return error as DerError
  }
  throw new Error('expected a DerError, but nothing was thrown')
}

describe('DerError: the words, and the byte where the reader stopped', () => {
  test('is named DerError and puts its offset in the message', () => {
    const error = new DerError('a test', 7)
    expect(error).toBeInstanceOf(Error)
    expect(error.name).toBe('DerError')
    expect(error.offset).toBe(7)
    expect(error.message).toBe('a test (at byte 7)')
    expect(derError(() => new DerReader(bytes(0x30, 0x80, 0x00, 0x00)).read(0x30, 'x')).name).toBe('DerError')
  })

  test('an element that is not there at all is missing, at the end of its range', () => {
    // An empty input: nothing to read, not even a tag.
    let error = derError(() => new DerReader(bytes()).read(0x30, 'Certificate'))
    expect(error.message).toBe('Certificate: missing (at byte 0)')
    expect(error.offset).toBe(0)
    // Everything read already.
    const reader = new DerReader(bytes(0x05, 0x00))
    reader.read(0x05, 'NULL')
    error = derError(() => reader.read(0x05, 'second NULL'))
    expect(error.message).toBe('second NULL: missing (at byte 2)')
    expect(error.offset).toBe(2)
    // An empty SEQUENCE with a sibling after it: the child's range ends where the sibling
    // starts, so the sibling's bytes are not read as the child's element.
    const outer = new DerReader(bytes(0x30, 0x00, 0x05, 0x00))
    const sequence = outer.read(0x30, 'SEQUENCE')
    error = derError(() => outer.inside(sequence).read(0x05, 'parameters'))
    expect(error.message).toBe('parameters: missing (at byte 2)')
    expect(error.offset).toBe(2)
  })

  // The length octets start at byte 1, after the tag (X.690 section 8.1.1); a refused length
  // form is reported there, at its first octet.
  test.each([
    ['the indefinite form (0x80)', bytes(0x30, 0x80, 0x00, 0x00), 'element: indefinite length, which DER forbids (at byte 1)', 1],
    ['a length in five bytes', bytes(0x04, 0x85, 0, 0, 0, 0, 1, 0), 'element: a length in 5 bytes (at byte 1)', 1],
    ['the long form for a length under 128', bytes(0x04, 0x81, 0x05, 1, 2, 3, 4, 5), 'element: a length not in its shortest form, which DER forbids (at byte 1)', 1],
    ['a leading zero length byte', bytes(0x04, 0x82, 0x00, 0x80, ...new Uint8Array(128)), 'element: a length not in its shortest form, which DER forbids (at byte 1)', 1],
    // Two length bytes announced, one there: refused at the first length byte after the count
    // (byte 2), where the reader finds too few bytes left in its parent for them.
    ['length bytes cut off', bytes(0x04, 0x82, 0x01), 'element: the length runs past its parent (at byte 2)', 2],
    // One length byte announced and there (128), but no contents: refused at the contents.
    ['a complete long-form length with no contents after it', bytes(0x04, 0x81, 0x80), 'element: 128 bytes of contents run past their parent (at byte 3)', 3],
  ])('%s', (_, input, message, offset) => {
    const error = derError(() => new DerReader(input).read(input[0]!, 'element'))
    expect(error.message).toBe(message)
    expect(error.offset).toBe(offset)
  })

  test('a length not in its shortest form, after another element: the offset is in the whole input', () => {
    // NULL, then an OCTET STRING whose length 5 is in the long form: its length octets are at byte 3.
    const reader = new DerReader(bytes(0x05, 0x00, 0x04, 0x81, 0x05, 1, 2, 3, 4, 5))
    reader.read(0x05, 'NULL')
    const error = derError(() => reader.read(0x04, 'OCTET STRING'))
    expect(error.message).toBe('OCTET STRING: a length not in its shortest form, which DER forbids (at byte 3)')
    expect(error.offset).toBe(3)
  })

  test('a length in four bytes is read (only five and more are refused)', () => {
    // 0x84 0x01 0x00 0x00 0x00: 2^24 bytes, in the fewest bytes that length takes.
    const length = 2 ** 24
    const input = new Uint8Array(6 + length)
    input.set([0x04, 0x84, 0x01, 0x00, 0x00, 0x00])
    const reader = new DerReader(input)
    const element = reader.read(0x04, 'OCTET STRING')
    expect(element).toEqual({ tag: 0x04, start: 0, contentStart: 6, end: 6 + length })
    expect(reader.done).toBe(true)
    // The same header without its contents: the length is taken, and the contents are missing.
    const error = derError(() => new DerReader(input.subarray(0, 6)).read(0x04, 'OCTET STRING'))
    expect(error.message).toBe('OCTET STRING: 16777216 bytes of contents run past their parent (at byte 6)')
  })

  // decodeOid's offset is where the contents start in the whole input; errors add the index.
  test.each([
    ['empty', bytes(), 'an empty OBJECT IDENTIFIER (at byte 20)', 20],
    ['a sub-identifier starting 0x80', bytes(0x2a, 0x80, 0x01), 'an OID sub-identifier not in its shortest form (at byte 21)', 21],
    ['a first sub-identifier starting 0x80', bytes(0x80, 0x2a), 'an OID sub-identifier not in its shortest form (at byte 20)', 20],
    // The last byte (index 2, byte 22) still has its continuation bit set.
    ['a last byte with the continuation bit', bytes(0x2a, 0x86, 0x86), 'an OBJECT IDENTIFIER ends inside a sub-identifier (at byte 22)', 22],
  ])('an OBJECT IDENTIFIER: %s', (_, contents, message, offset) => {
    const error = derError(() => decodeOid(contents, 20))
    expect(error.message).toBe(message)
    expect(error.offset).toBe(offset)
  })
})
