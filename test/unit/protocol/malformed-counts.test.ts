/**
 * The checks a decoder makes before it trusts a server's numbers, each named by its message:
 * a String's NUL must lie inside the body (even when the next message has one just after it),
 * a count must be one the body can hold, a numeric error field must be all digits. Without a
 * check most of these bodies would still fail somewhere later, or pass; so each test names the
 * check that must refuse it, and the body that only just fits is accepted. Found by a mutation
 * run over src/protocol/backend, framer.ts and bytes/reader.ts (test/mutation/survivors.md).
 */
import { describe, expect, test } from 'vitest'
import { decodeBackendMessage } from '../../../src/protocol/backend/decode.ts'
import { BodyReader } from '../../../src/protocol/bytes/reader.ts'
import { ProtocolViolationError } from '../../../src/protocol/errors.ts'
import { decodeLatin1Fast, decodeUtf8Fast } from '../../../src/protocol/io/node-bytes.ts'
import { ShortStrings } from '../../../src/protocol/bytes/short-strings.ts'
import { decodeThreeWays, frame } from '../../support/framing.ts'
import { ascii, bytes, concat, cstr, int16, int32, message } from '../../support/wire.ts'

/** A ProtocolViolationError whose message is exactly `text`. */
function refused(text: string): ProtocolViolationError {
  return new ProtocolViolationError(text)
}

/** ReadyForQuery, idle: a message that starts with NULs in its length, to follow a broken one. */
const readyForQuery = bytes(
  0x5a,                   // Byte1('Z')  ReadyForQuery
  0x00, 0x00, 0x00, 0x05, // Int32(5)    length: its first bytes are NULs
  0x49,                   // Byte1('I')  idle
)

describe("a String's NUL must lie inside its message", () => {
  test.each([
    ['a short one (the byte loop)', 3],
    ['one of 64 bytes (the loop to its end)', 64],
    ['a long one (indexOf past the first 64 bytes)', 65],
    ['a much longer one', 300],
  ])('%s, with no NUL before the next message, is refused', (_, length) => {
    // ParameterStatus whose name has no NUL: the next message's length holds three.
    const wire = concat(message('S', ascii('x'.repeat(length))), readyForQuery)
    expect(() => frame([wire])).toThrow(refused('ParameterStatus name: missing NUL terminator'))
  })

  test.each([3, 64, 65, 300])('a body of %i bytes with a NUL just past its end is refused (the NUL is the next message\'s)', (length) => {
    const wire = concat(bytes(...ascii('y'.repeat(length))), bytes(0x00))
    const reader = new BodyReader().reset(wire, 0, length, wire.length)
    expect(() => reader.cstring('field')).toThrow(refused('field: missing NUL terminator'))
  })

  test.each([1, 63, 64, 65, 200])('a String of %i bytes with its NUL inside is read, and the reader moves past it', (length) => {
    const name = 'n'.repeat(length)
    const wire = message('S', cstr(name), cstr('on'))
    expect(decodeThreeWays(wire)).toEqual({ type: 'ParameterStatus', name, value: 'on' })
  })

  test("a message's last String must end with the body's last byte", () => {
    // CommandComplete 'SELECT 1' with no NUL, then a message whose length starts with NULs.
    const wire = concat(message('C', ascii('SELECT 1')), readyForQuery)
    expect(() => frame([wire])).toThrow(refused('CommandComplete tag: missing NUL terminator'))
    expect(() => frame([message('C')])).toThrow(refused('CommandComplete tag: missing NUL terminator')) // no byte at all
  })

  test('an empty last String is its NUL alone', () => {
    expect(decodeThreeWays(message('C', [0x00]))).toEqual({ type: 'CommandComplete', tag: '' })
  })

  test("a last String that is missing altogether is refused, though the byte before it is a NUL", () => {
    // ParameterStatus with its name and no value: the body ends with the name's NUL.
    expect(() => frame([message('S', cstr('TimeZone'))])).toThrow(refused('ParameterStatus value: missing NUL terminator'))
  })

  test('a long ASCII payload after short ones (whose window the reader keeps) comes whole', () => {
    // With Node's decoders, short ASCII payloads are cut from a window of up to 4096 bytes
    // decoded once; a payload longer than that must never be cut from it.
    const long = 'L'.repeat(5000)
    const payloads = ['1', '2', '3', long, '4', 'x'.repeat(12), 'y'.repeat(13)]
    const wire = concat(...payloads.map((payload) => message('A', int32(1), cstr('jobs'), cstr(payload))))
    const messages = frame([wire], { decodeText: decodeUtf8Fast, shortStrings: () => new ShortStrings(decodeLatin1Fast!) })
    expect(messages.map((m) => m.type === 'NotificationResponse' && m.payload)).toEqual(payloads)
  })
})

describe('RowDescription: a field takes at least 19 bytes', () => {
  /** A field with an empty name: NUL, then 18 bytes of numbers (the least a field can take). */
  const emptyField = [
    0x00,         // String  name: '' (its NUL alone)
    ...int32(0),  // Int32   table OID: none
    ...int16(0),  // Int16   column number: none
    ...int32(25), // Int32   type OID: text
    ...int16(-1), // Int16   type size: variable
    ...int32(-1), // Int32   type modifier: none
    ...int16(0),  // Int16   format: text
  ]
  const field = { name: '', tableOid: 0, columnNumber: 0, typeOid: 25, typeSize: -1, typeModifier: -1, format: 0 }

  test('two fields of 19 bytes fill 38 bytes exactly, and are read', () => {
    expect(emptyField).toHaveLength(19)
    const wire = message('T', int16(2), emptyField, emptyField)
    expect(decodeThreeWays(wire)).toEqual({ type: 'RowDescription', fields: [field, field] })
  })

  test('three fields cannot fit in 38 bytes', () => {
    const wire = message('T', int16(3), emptyField, emptyField)
    expect(() => frame([wire])).toThrow(refused('RowDescription: 3 fields cannot fit in 38 bytes'))
  })

  test('a negative count is refused, even with nothing after it', () => {
    expect(() => frame([message('T', int16(-1))])).toThrow(refused('RowDescription: -1 fields cannot fit in 0 bytes'))
  })
})

describe('DataRow: a column takes at least its 4-byte length', () => {
  const nullColumn = int32(-1)

  test('three NULLs fill 12 bytes exactly, and are read', () => {
    const wire = message('D', int16(3), nullColumn, nullColumn, nullColumn)
    expect(decodeThreeWays(wire)).toEqual({ type: 'DataRow', values: [null, null, null] })
  })

  test('four columns cannot fit in 12 bytes', () => {
    const wire = message('D', int16(4), nullColumn, nullColumn, nullColumn)
    expect(() => frame([wire])).toThrow(refused('DataRow: 4 columns cannot fit in 12 bytes'))
  })

  test('a negative count is refused, even with nothing after it', () => {
    expect(() => frame([message('D', int16(-2))])).toThrow(refused('DataRow: -2 columns cannot fit in 0 bytes'))
  })
})

describe('BackendKeyData and NegotiateProtocolVersion', () => {
  test('a secret key of 256 bytes, the most protocol 3.2 allows, is read', () => {
    const key = Array.from({ length: 256 }, (_, i) => i)
    expect(decodeThreeWays(message('K', int32(7), key))).toEqual({ type: 'BackendKeyData', processId: 7, secretKey: Uint8Array.from(key) })
    expect(() => frame([message('K', int32(7), [...key, 0])])).toThrow(refused('BackendKeyData: a secret key of 257 bytes is outside 4..256'))
  })

  test('a negative option count is refused, even with nothing after it', () => {
    const wire = message('v', int32(0x30000), int32(-1))
    expect(() => frame([wire])).toThrow(refused('NegotiateProtocolVersion: -1 options cannot fit in 0 bytes'))
  })
})

describe('CopyInResponse, CopyOutResponse, CopyBothResponse: one Int16 format per column, no more, no fewer', () => {
  test.each([
    ['G', 'CopyInResponse'],
    ['H', 'CopyOutResponse'],
    ['W', 'CopyBothResponse'],
  ])('%s (%s): a count the formats do not fill, or a negative one, is refused', (letter, type) => {
    // Byte1 overall format, Int16 column count, Int16 format × count.
    expect(() => frame([message(letter, [0], int16(2), int16(0))])).toThrow(refused(`${type}: 2 column formats do not fill 2 bytes`))
    expect(() => frame([message(letter, [0], int16(1), int16(0), int16(0))])).toThrow(refused(`${type}: 1 column formats do not fill 4 bytes`))
    expect(() => frame([message(letter, [0], int16(-1))])).toThrow(refused(`${type}: -1 column formats do not fill 0 bytes`))
    // Overall binary (1), so each column may be text (0) or binary (1); under an overall text
    // format all must be 0, a rule this decoder, like libpq's getCopyStart, leaves unchecked.
    expect(decodeThreeWays(message(letter, [1], int16(2), int16(0), int16(1)))).toEqual({ type, format: 1, columnFormats: [0, 1] })
  })
})

describe('ErrorResponse and NoticeResponse: numeric fields', () => {
  /** Byte1 code, String value. */
  const field = (code: string, value: string) => [code.charCodeAt(0), ...cstr(value)]

  test.each(['12a', 'a12', '', '-3', '1.5'])('a position of %j is not a number, and is left out', (value) => {
    const wire = message('N', field('M', 'hi'), field('P', value), field('L', value), [0])
    expect(decodeThreeWays(wire)).toEqual({ type: 'NoticeResponse', fields: { message: 'hi' } })
  })

  test('digits under a code the docs do not define are skipped, as any unknown field is', () => {
    const wire = message('N', field('M', 'hi'), field('X', '42'), field('P', '7'), [0])
    expect(decodeThreeWays(wire)).toEqual({ type: 'NoticeResponse', fields: { message: 'hi', position: 7 } })
  })
})

describe('decodeBackendMessage, exported by pglisten/protocol, decodes every type itself', () => {
  test("NotificationResponse ('A'), which the framer sends straight to its own decoder", () => {
    const body = bytes(...int32(7), ...cstr('jobs'), ...cstr('42')) // process ID, channel, payload
    const reader = new BodyReader().reset(body, 0, body.length)
    expect(decodeBackendMessage(0x41, reader)).toEqual({ type: 'NotificationResponse', processId: 7, channel: 'jobs', payload: '42' })
  })
})

describe('an unexpected message type is named printably', () => {
  test.each([
    [0x1f, '0x1f'],
    [0x20, "' '"],
    [0x31, "'1'"],
    [0x7e, "'~'"],
    [0x7f, '0x7f'],
    [0xff, '0xff'],
  ])('type %i is %s', (type, shown) => {
    const wire = bytes(
      type,                   // Byte1       the type under test
      0x00, 0x00, 0x00, 0x04, // Int32(4)    length: an empty body
    )
    expect(() => frame([wire])).toThrow(refused(`unexpected message type ${shown}`))
  })
})

describe('the reader remembers recent channel names; what it remembers never changes what it reads', () => {
  /** NotificationResponse: Int32 process ID, String channel, String payload. */
  const notification = (channel: string, payload = '') => message('A', int32(7), cstr(channel), cstr(payload))

  test('names that share a prefix, a length, or all but one byte, in one stream, each come back as sent', () => {
    const channels = ['ab', 'abc', 'ab', 'ba', 'abd', 'abc', 'a', '', 'ab', 'x'.repeat(64), 'x'.repeat(65), 'x'.repeat(64), 'é', 'è', 'é']
    // More names than the reader keeps (8), so that the oldest are forgotten and read again.
    const many = Array.from({ length: 12 }, (_, i) => `ch${i % 10}`)
    const all = [...channels, ...many, ...many.reverse()]
    const messages = frame([concat(...all.map((channel) => notification(channel)))])
    expect(messages.map((m) => (m.type === 'NotificationResponse' ? m.channel : m.type))).toEqual(all)
  })

  test("a remembered name is never matched against the bytes before a channel (the process ID's)", () => {
    // Process ID 0x62 ends in the byte 'b'. 'ac' must not pass for 'ab' by comparing 'b' to the
    // byte before it: neither as the last name read, nor as one remembered before it.
    const pid = 0x62
    const at = (channel: string) => message('A', int32(pid), cstr(channel), cstr(''))
    const messages = frame([concat(at('ab'), at('ac'), at('ab'), at('zz'), at('ac'))])
    expect(messages.map((m) => m.type === 'NotificationResponse' && m.channel)).toEqual(['ab', 'ac', 'ab', 'zz', 'ac'])
  })

  test("the last name's bytes with the NUL just past the body are refused, as any String's are", () => {
    const reader = new BodyReader()
    const first = bytes(...cstr('ab'))
    expect(reader.reset(first, 0, first.length).internedCString('channel')).toBe('ab')
    const next = bytes(...ascii('ab'), 0x00) // the body is 'ab'; the NUL is the next message's
    expect(() => reader.reset(next, 0, 2, next.length).internedCString('channel')).toThrow(refused('channel: missing NUL terminator'))
  })

  test("the last name followed by more bytes (a longer name) is not taken for it", () => {
    // The last name was 'ab'; 'ab' then a byte other than NUL is another name.
    const messages = frame([concat(notification('ab'), notification('abz'), notification('ab'))])
    expect(messages.map((m) => m.type === 'NotificationResponse' && m.channel)).toEqual(['ab', 'abz', 'ab'])
  })
})

describe('a body cut short inside a field names that field', () => {
  /** A field of a message's grammar: its name in errors, its bytes, and whether it is a String (cut: its NUL is missing). */
  type Field = [name: string, bytes: number[], kind: 'bytes' | 'string']
  const int32Field = (name: string, value: number): Field => [name, int32(value), 'bytes']
  const int16Field = (name: string, value: number): Field => [name, int16(value), 'bytes']
  const stringField = (name: string, value: string): Field => [name, cstr(value), 'string']

  /**
   * For each field: the fields before it, then that field without its last byte. A String then
   * lacks its NUL; any other field ends too early. The message's length counts what is sent.
   */
  function cutInEachField(type: string, fields: Field[]): string[] {
    return fields.map((_, i) => {
      const body = [...fields.slice(0, i).flatMap(([, bytes]) => bytes), ...fields[i]![1].slice(0, -1)]
      try {
        frame([message(type, body)])
        return 'decoded'
      } catch (error) {
        expect(error).toBeInstanceOf(ProtocolViolationError)
        return (error as Error).message
      }
    })
  }

  /**
   * What each cut must say: `${name}: the message ends too early`, or for a String `${name}:
   * missing NUL terminator`; a name that is already a whole message (a check that comes first) as it is.
   */
  function named(fields: Field[]): string[] {
    return fields.map(([name, , kind]) => (name.includes(': ') ? name : `${name}: ${kind === 'string' ? 'missing NUL terminator' : 'the message ends too early'}`))
  }

  test.each<[string, string, Field[]]>([
    ['RowDescription', 'T', [
      int16Field('RowDescription field count', 1),
      stringField('RowDescription field name', 'a name long enough that the count check passes'),
      int32Field('RowDescription table OID', 16384),
      int16Field('RowDescription column number', 1),
      int32Field('RowDescription type OID', 23),
      int16Field('RowDescription type size', 4),
      int32Field('RowDescription type modifier', -1),
      int16Field('RowDescription format', 0),
    ]],
    // The first length cut short is the count check's (two columns need 8 bytes, 3 are left);
    // after a 6-byte value there is room enough, and the second length's cut is its own.
    ['DataRow', 'D', [
      int16Field('DataRow column count', 2),
      int32Field('DataRow: 2 columns cannot fit in 3 bytes', 6),
      ['DataRow value', ascii('abcdef'), 'bytes'],
      int32Field('DataRow value length', 1),
    ]],
    ['CommandComplete', 'C', [stringField('CommandComplete tag', 'SELECT 1')]],
    ['ParameterStatus', 'S', [stringField('ParameterStatus name', 'TimeZone'), stringField('ParameterStatus value', 'UTC')]],
    ['NotificationResponse', 'A', [
      int32Field('NotificationResponse process ID', 7),
      stringField('NotificationResponse channel', 'jobs'),
      stringField('NotificationResponse payload', '42'),
    ]],
    ['BackendKeyData', 'K', [int32Field('BackendKeyData process ID', 7)]],
    ['NegotiateProtocolVersion', 'v', [
      int32Field('NegotiateProtocolVersion version', 0x30000),
      int32Field('NegotiateProtocolVersion option count', 1),
      stringField('NegotiateProtocolVersion option', '_pq_.x'),
    ]],
    ['CopyOutResponse', 'H', [['CopyOutResponse format', [0], 'bytes'], int16Field('CopyOutResponse column count', 0)]],
    ['AuthenticationMD5Password', 'R', [int32Field('Authentication code', 5), ['AuthenticationMD5Password salt', [1, 2, 3, 4], 'bytes']]],
    ['AuthenticationSASL', 'R', [int32Field('Authentication code', 10), stringField('AuthenticationSASL mechanism', 'SCRAM-SHA-256')]],
    ['ErrorResponse', 'E', [['ErrorResponse field code', ascii('S'), 'bytes'], stringField('ErrorResponse field S', 'ERROR')]],
    ['ReadyForQuery', 'Z', [['ReadyForQuery status', [0x49], 'bytes']]],
  ])('%s', (_, type, fields) => {
    expect(cutInEachField(type, fields)).toEqual(named(fields))
  })
})

describe('a body with bytes after its last field names its message', () => {
  test.each<[string, string, number[]]>([
    ['AuthenticationOk', 'R', int32(0)],
    ['AuthenticationKerberosV5', 'R', int32(2)],
    ['AuthenticationCleartextPassword', 'R', int32(3)],
    ['AuthenticationMD5Password', 'R', [...int32(5), 1, 2, 3, 4]],
    ['AuthenticationGSS', 'R', int32(7)],
    ['AuthenticationSSPI', 'R', int32(9)],
    ['AuthenticationSASL', 'R', [...int32(10), ...cstr('SCRAM-SHA-256'), 0]],
    ['RowDescription', 'T', int16(0)],
    ['DataRow', 'D', int16(0)],
    ['EmptyQueryResponse', 'I', []],
    ['CopyDone', 'c', []],
    ['ReadyForQuery', 'Z', [0x49]],
    ['NegotiateProtocolVersion', 'v', [...int32(0x30000), ...int32(0)]],
    ['ErrorResponse', 'E', [...ascii('M'), ...cstr('boom'), 0]], // field M (message), then the list's end
    ['NoticeResponse', 'N', [...ascii('M'), ...cstr('hi'), 0]],
  ])('%s', (name, type, body) => {
    const trailing = ascii('!') // one byte more than the grammar has
    expect(() => frame([message(type, body, trailing)])).toThrow(refused(`${name}: 1 unexpected trailing bytes`))
  })

  test('an Authentication code no version of PostgreSQL sends is named', () => {
    expect(() => frame([message('R', int32(13))])).toThrow(refused('unknown Authentication code 13'))
  })
})
