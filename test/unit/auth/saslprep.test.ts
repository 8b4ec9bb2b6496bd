/**
 * SASLprep as PostgreSQL applies it: the RFC 4013 examples, each step on its own, the places
 * where PostgreSQL departs from the RFC, and secrets recorded from a real PostgreSQL server.
 */
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto'
import { describe, expect, test } from 'vitest'
import { inTable, saslprep, scramPassword } from '../../../src/protocol/auth/saslprep.ts'
import * as tables from '../../../src/protocol/auth/saslprep-tables.ts'

describe('RFC 4013 section 3, examples', () => {
  test.each([
    ['I\u00adX', 'IX', 'SOFT HYPHEN mapped to nothing'],
    ['user', 'user', 'no transformation'],
    ['USER', 'USER', 'case preserved, will not match #2'],
    ['\u00aa', 'a', 'output is NFKC, input in ISO 8859-1'],
    ['\u2168', 'IX', 'output is NFKC, will match #1'],
  ])('%j -> %j (%s)', (input, output) => {
    expect(saslprep(input)).toBe(output)
  })

  test.each([
    ['\u0007', 'Error - prohibited character'],
    ['\u0627\u0031', 'Error - bidirectional check'],
  ])('%j -> error (%s)', (input) => {
    expect(saslprep(input)).toBeUndefined()
  })
})

describe('mapping (RFC 4013 section 2.1)', () => {
  test.each([
    ['\u00a0', 'NO-BREAK SPACE'],
    ['\u1680', 'OGHAM SPACE MARK'],
    ['\u2003', 'EM SPACE'],
    ['\u202f', 'NARROW NO-BREAK SPACE'],
    ['\u3000', 'IDEOGRAPHIC SPACE'],
  ])('non-ASCII space %j (%s) becomes U+0020', (space) => {
    expect(saslprep(`pass${space}word`)).toBe('pass word')
  })

  test('U+200B is in both C.1.2 and B.1; PostgreSQL checks C.1.2 first, so it becomes a space', () => {
    expect(saslprep('a\u200bb')).toBe('a b')
  })

  test('B.1 characters disappear: zero width joiner, variation selector, BOM', () => {
    expect(saslprep('a\u200db\ufe0fc\ufeffd')).toBe('abcd')
  })

  test('no case folding: SASLprep does not use table B.2', () => {
    expect(saslprep('\u00c9t\u00c9')).toBe('\u00c9t\u00c9')
  })

  test('a password that maps to nothing fails, as PostgreSQL refuses empty passwords', () => {
    expect(saslprep('\u00ad\u200d')).toBeUndefined()
  })
})

describe('prohibited output (RFC 4013 sections 2.3 and 2.5)', () => {
  test.each([
    ['\u0085', 'C.2.2 non-ASCII control (NEXT LINE)'],
    ['\ue000', 'C.3 private use'],
    ['\ufdd0', 'C.4 non-character'],
    ['\ufffd', 'C.6 inappropriate for plain text (REPLACEMENT CHARACTER)'],
    ['\u2ff0', 'C.7 inappropriate for canonical representation'],
    ['\u202e', 'C.8 change display properties (RIGHT-TO-LEFT OVERRIDE)'],
    ['\u{e0041}', 'C.9 tagging character'],
    ['\u0221', 'A.1 unassigned in Unicode 3.2'],
    ['\u{1f600}', 'A.1 unassigned in Unicode 3.2 (an emoji)'],
    ['\ud800', 'a lone surrogate: not Unicode text at all'],
  ])('%j fails: %s', (char) => {
    expect(saslprep(`pass${char}word\u00e9`)).toBeUndefined()
  })
})

describe('bidi (RFC 3454 section 6)', () => {
  test('right-to-left only, first and last right-to-left: accepted', () => {
    expect(saslprep('\u05d0\u05d1\u05d2')).toBe('\u05d0\u05d1\u05d2')
    expect(saslprep('\u0627\u0031\u0628')).toBe('\u0627\u0031\u0628') // a digit (EN) in the middle is fine
  })

  test('a left-to-right character with a right-to-left one fails', () => {
    expect(saslprep('\u05d0a\u05d0')).toBeUndefined()
  })

  test('a right-to-left string must start with a right-to-left character', () => {
    expect(saslprep('1\u05d0')).toBeUndefined()
  })
})

describe('where PostgreSQL departs from the RFCs, this follows PostgreSQL', () => {
  test('prohibit and bidi are checked before NFKC: U+2100 is not L, though its NFKC "a/c" is', () => {
    expect(saslprep('\u05d0\u2100\u05d0')).toBe('\u05d0a/c\u05d0')
  })

  test('an ASCII password with a control character is not prepared, and SCRAM uses it as is', () => {
    expect(saslprep('a\u0007b')).toBeUndefined()
    expect(scramPassword('a\u0007b')).toBe('a\u0007b')
  })

  test('the empty password is ASCII and prepares to itself', () => {
    expect(saslprep('')).toBe('')
  })
})

describe('scramPassword: the libpq rule', () => {
  test('the prepared password when SASLprep succeeds', () => {
    expect(scramPassword('I\u00adX')).toBe('IX')
  })

  test('the raw password when SASLprep fails', () => {
    expect(scramPassword('\u0627\u0031')).toBe('\u0627\u0031')
    expect(scramPassword('\u00ad')).toBe('\u00ad')
    expect(scramPassword('smile \u{1f600}')).toBe('smile \u{1f600}')
  })
})

/*
 * Recorded from PostgreSQL 18.4: `CREATE ROLE r LOGIN PASSWORD U&'...'` with
 * password_encryption = scram-sha-256, then `SELECT rolpassword FROM pg_authid`, which reads
 * SCRAM-SHA-256$4096:<salt>$<StoredKey>:<ServerKey>. The server ran its own pg_saslprep on the
 * password, so a StoredKey computed here (with Node's crypto, not the code under test) from
 * scramPassword(input) matches only if both prepared the password the same way.
 */
describe('secrets recorded from a real PostgreSQL server', () => {
  test.each([
    ['pa\u00adss\u00a0word\u2168', 'f4DjdH4aY/1hBidwfPVI1Q==', 'TikJK016Cu787WKS17XkUMgtNX5o/4PuWzkfHGuUg6M='],
    ['\u05d0\u2100\u05d0', 'G1ea836i0N9A4XWJkkflBw==', 'e7btK9ldHQVr2zdWFXIalc+0ugHiBz2bwB/2RoxVS5o='],
    ['\u0627\u0031', 'Hiu9+sb5hNIE/CK+NNXL4Q==', 'T8rgpRZ4QQk2EnL/Nxlbm3DYyJLvvCPOMWD3gK6V/TM='],
    ['a\u0007b', 'tR3cE4RuJAKXUgpzcXiLCA==', 'psYDOUcMOlUrqRpT1yecXMNfoFWy9ABq+cJrT6gaoGs='],
    ['x\u00ady', 'joCbjoeZ2Olu2uB4MxqNug==', 'PU2KiSYq1UJF93PZ9VNLq58EiljtzqBLX3YwZDseesQ='],
    ['\u2168', 'oRteogCSAsDACtWuVPCOzA==', '5wn/AZBIW51t4TZPvGbFBZo0Lc8ryPBGj3blA7RlUB0='],
    ['\u05d0\ufb01\u05d0', 'P2X9+gnQTMNrtg2iKaixxQ==', 'TpYzcqBU5O78j4yjPEhJEldqt/S1K19GwPWstD2U5aY='],
    ['a\u200bb', 'abf1x7xL3Cn8vOJz+xnapQ==', 'GCNEGKoPIBqN7ANbpOviF51rZeDXbmxSAEnzAC9zCIg='],
    ['\u{1f600}x', 'yaU/NbpvfHxjt9EA8Us4mA==', 'Xmq8scOOHSiC9YlUEI0enR8RzRD9Cfc56V6VgZaS3Ac='],
  ])('%j', (input, salt, storedKey) => {
    const salted = pbkdf2Sync(scramPassword(input), Buffer.from(salt, 'base64'), 4096, 32, 'sha256')
    const clientKey = createHmac('sha256', salted).update('Client Key').digest()
    expect(createHash('sha256').update(clientKey).digest('base64')).toBe(storedKey)
  })
})

describe('the generated tables', () => {
  test.each(Object.entries(tables))('%s is sorted, non-overlapping pairs', (_, table) => {
    expect(table.length % 2).toBe(0)
    for (let i = 0; i < table.length; i += 2) {
      expect(table[i]!).toBeLessThanOrEqual(table[i + 1]!)
      if (i > 0) expect(table[i]!).toBeGreaterThan(table[i - 1]!) // starts after the previous range ends
    }
  })

  test('inTable finds range ends and misses the gaps between ranges', () => {
    const table = [0x10, 0x12, 0x20, 0x20]
    expect([0x0f, 0x10, 0x11, 0x12, 0x13, 0x1f, 0x20, 0x21].map((code) => inTable(table, code)))
      .toEqual([false, true, true, true, false, false, true, false])
    expect(inTable([], 0x41)).toBe(false)
  })
})
