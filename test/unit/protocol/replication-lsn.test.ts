/**
 * Log sequence numbers (src/protocol/replication/lsn.ts): the text "X/Y" that pg_lsn_in reads
 * and pg_lsn_out writes, the high and low 32 bits of a 64-bit WAL position in hex.
 */
import { fc, test as property } from '@fast-check/vitest'
import { describe, expect, test } from 'vitest'
import { formatLsn, parseLsn } from '../../../src/protocol/replication/lsn.ts'

/** The RangeError parseLsn gives for `text`, word for word. */
const notAnLsn = (text: string) => `${JSON.stringify(text)} is not an LSN: expected two hex numbers of up to 8 digits, as in 16/B374D848`

describe('parseLsn', () => {
  test.each([
    ['0/0', 0n],                                      // InvalidXLogRecPtr
    ['16/B374D848', 0x16_b374_d848n],                 // the docs' example
    ['16/b374d848', 0x16_b374_d848n],                 // lower-case hex reads the same
    ['1/0', 0x1_0000_0000n],                          // the high half is shifted left by 32
    ['0/1', 1n],
    ['9/9', 0x9_0000_0009n],                          // the last decimal digit
    ['A/a', 0xa_0000_000an],                          // the first hex letter, either case
    ['F/f', 0xf_0000_000fn],                          // the last hex letter, either case
    ['00000000/00000001', 1n],                        // leading zeros up to 8 digits each
    ['7FFFFFFF/FFFFFFFF', 0x7fff_ffff_ffff_ffffn],    // 2^63 - 1
    ['80000000/0', 0x8000_0000_0000_0000n],           // 2^63: past every signed Int64
    ['FFFFFFFF/FFFFFFFF', 0xffff_ffff_ffff_ffffn],    // 2^64 - 1, the largest
    ['12345678/9ABCDEF0', 0x1234_5678_9abc_def0n],    // every nibble distinct: halves are not mixed
  ])('%s is %s', (text, lsn) => {
    expect(parseLsn(text)).toBe(lsn)
  })

  test.each([
    ['', 'empty'],
    ['0', 'no slash'],
    ['0/', 'no low half'],
    ['/0', 'no high half'],
    ['123456789/0', 'nine digits in the high half'],
    ['0/123456789', 'nine digits in the low half'],
    ['G/0', 'a letter past F'],
    ['0/g', 'a lower-case letter past f'],
    ['x0/0', 'a stray character before'],
    ['0/0x', 'a stray character after'],
    [' 0/0', 'leading space (pg_lsn_in takes none)'],
    ['0/0\n', 'a trailing newline'],
    ['0x1/0', 'a 0x prefix'],
    ['-1/0', 'a sign'],
    ['0//0', 'two slashes'],
    ['0/0/0', 'three parts'],
    ['0:0', 'another separator'],
  ])('%j is refused (%s)', (text) => {
    expect(() => parseLsn(text)).toThrow(new RangeError(notAnLsn(text)))
  })
})

describe('formatLsn', () => {
  test.each([
    [0n, '0/0'],
    [0x16_b374_d848n, '16/B374D848'],                 // upper-case hex, as pg_lsn_out's %X
    [0xab_0000_00cdn, 'AB/CD'],                       // no leading zeros in either half
    [0xffff_ffffn, '0/FFFFFFFF'],                     // the low half alone
    [0x1_0000_0000n, '1/0'],                          // 2^32: the first LSN with a high half
    [0x8000_0000_0000_0000n, '80000000/0'],           // 2^63
    [0xffff_ffff_ffff_ffffn, 'FFFFFFFF/FFFFFFFF'],    // 2^64 - 1, the largest
  ])('%s is %s', (lsn, text) => {
    expect(formatLsn(lsn)).toBe(text)
  })

  test.each([
    [-1n, '-1 is outside the 64-bit range of an LSN'],
    [0x1_0000_0000_0000_0000n, '18446744073709551616 is outside the 64-bit range of an LSN'],
  ])('%s is refused', (lsn, message) => {
    expect(() => formatLsn(lsn)).toThrow(new RangeError(message))
  })
})

describe('laws', () => {
  property.prop([fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })])('formatLsn and parseLsn are inverse for every 64-bit value', (lsn) => {
    expect(parseLsn(formatLsn(lsn))).toBe(lsn)
  })

  property.prop([fc.bigInt({ min: 0n, max: 2n ** 32n - 1n }), fc.bigInt({ min: 0n, max: 2n ** 32n - 1n })])(
    'the text of an LSN is its high and low 32 bits in upper-case hex, without leading zeros',
    (high, low) => {
      expect(formatLsn((high << 32n) | low)).toBe(`${high.toString(16).toUpperCase()}/${low.toString(16).toUpperCase()}`)
    },
  )

  property.prop([fc.stringMatching(/^[0-9a-fA-F]{1,8}\/[0-9a-fA-F]{1,8}$/)])(
    'every text pg_lsn_in accepts is read, and printed back in its canonical form',
    (text) => {
      const [high, low] = text.split('/') as [string, string]
      const lsn = parseLsn(text)
      expect(lsn).toBe(BigInt(`0x${high}`) * 2n ** 32n + BigInt(`0x${low}`))
      expect(formatLsn(lsn)).toBe(`${BigInt(`0x${high}`).toString(16).toUpperCase()}/${BigInt(`0x${low}`).toString(16).toUpperCase()}`)
    },
  )
})
