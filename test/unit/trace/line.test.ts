/**
 * The layout of a trace line (libpq's fe-trace.c): columns, field notations, escaping, and the
 * timestamp.
 */
import { describe, expect, test } from 'vitest'
import { byte1, bytes, formatLine, formatTimestamp, int, list, named, note, quoteBytes, quoteString, string, word } from '../../../src/protocol/trace/line.ts'

describe('columns', () => {
  test('direction, length, name, then a tab and each field after a space', () => {
    expect(formatLine({ direction: 'F', length: 13, name: 'Query', fields: [string('SELECT 1')] })).toBe('F\t13\tQuery\t "SELECT 1"')
  })

  test('a message without fields ends at its name', () => {
    expect(formatLine({ direction: 'B', length: 4, name: 'EmptyQueryResponse', fields: [] })).toBe('B\t4\tEmptyQueryResponse')
  })

  test('an unknown length is "?"', () => {
    expect(formatLine({ direction: 'B', length: undefined, name: 'AuthenticationGSSContinue', fields: [] })).toBe('B\t?\tAuthenticationGSSContinue')
  })

  test('a timestamp, when given, is the first column', () => {
    expect(formatLine({ direction: 'F', length: 4, name: 'Terminate', fields: [] }, '2026-01-02 03:04:05.000006')).toBe('2026-01-02 03:04:05.000006\tF\t4\tTerminate')
  })

  test('every notation side by side', () => {
    const fields = [int(-1), byte1(0x49), byte1(0), string('a"b'), bytes(Uint8Array.of(0x61, 0x00)), note('[redacted]')]
    expect(formatLine({ direction: 'B', length: 9, name: 'X', fields })).toBe('B\t9\tX\t -1 I \\x00 "a\\"b" \'a\\x00\' [redacted]')
  })
})

describe('the notations of messages carried in CopyData, which libpq leaves as bytes', () => {
  test('a word as is, a named field as name=value, a list with its count, items separated by commas', () => {
    const fields = [
      word('XLogData'),
      named('walStart', word('0/1764378')),
      named('relation', int(16384)),
      named('new', list('3 columns', [[string('7')], [bytes(Uint8Array.of(0x27))], [word('null')]])),
      list('2 columns', [[string('id'), named('type', int(23)), word('key')], [string('item')]]),
      named('old', list('0 columns', [])),
    ]
    expect(formatLine({ direction: 'B', length: 60, name: 'CopyData', fields })).toBe(
      'B\t60\tCopyData\t XLogData walStart=0/1764378 relation=16384 new=(3 columns: "7", \'\\x27\', null) (2 columns: "id" type=23 key, "item") old=(0 columns)',
    )
  })
})

describe('escaping keeps one message on one line, and quotes unambiguous', () => {
  test.each([
    ['plain text', 'LISTEN jobs', '"LISTEN jobs"'],
    ['quote and backslash', 'a"b\\c', '"a\\"b\\\\c"'],
    ['newline, carriage return, tab', 'a\nb\rc\td', '"a\\nb\\rc\\td"'],
    ['other C0 controls', '\u0000\u001b', '"\\u0000\\u001b"'],
    ['DEL and C1 controls', '\u007f\u0085\u009b', '"\\u007f\\u0085\\u009b"'],
    ['line and paragraph separators', '\u2028\u2029', '"\\u2028\\u2029"'],
    ['letters beyond ASCII stay as they are', 'é漢🎉', '"é漢🎉"'],
  ])('String: %s', (_, text, shown) => {
    expect(quoteString(text)).toBe(shown)
    expect(JSON.parse(quoteString(text))).toBe(text) // still valid JSON, and lossless
  })

  test('Byte[n]: printable ASCII as is; quote, backslash and everything else as \\xNN', () => {
    expect(quoteBytes(Uint8Array.of(0x41, 0x20, 0x7e, 0x27, 0x5c, 0x0a, 0x7f, 0x80, 0xff))).toBe("'A ~\\x27\\x5c\\x0a\\x7f\\x80\\xff'")
    expect(quoteBytes(new Uint8Array(0))).toBe("''")
  })
})

describe('timestamps, as pqTraceFormatTimestamp prints them', () => {
  test('local time with microseconds', () => {
    // Built from local time fields, so the test holds in any time zone.
    const epochMs = new Date(2026, 0, 2, 3, 4, 5, 6).getTime() + 0.789
    expect(formatTimestamp(epochMs)).toBe('2026-01-02 03:04:05.006789')
  })

  test('a fraction that rounds up to the next second carries over', () => {
    const epochMs = new Date(2026, 11, 31, 23, 59, 59, 999).getTime() + 0.9999
    expect(formatTimestamp(epochMs)).toBe('2027-01-01 00:00:00.000000')
  })
})
