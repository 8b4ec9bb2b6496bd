/**
 * Byte vectors for every backend message the client understands, decoded three ways.
 * Each vector is written out by hand with a comment per field, from the protocol docs'
 * "Message Formats" section.
 */
import { describe, expect, test } from 'vitest'
import { ProtocolViolationError } from '../../../src/protocol/errors.ts'
import { Framer } from '../../../src/protocol/framer.ts'
import { decodeUtf8 } from '../../../src/protocol/bytes/utf8.ts'
import { decodeThreeWays, frame } from '../../support/framing.ts'
import { ascii, bytes, utf8 } from '../../support/wire.ts'

describe('Authentication', () => {
  test('AuthenticationOk', () => {
    const wire = bytes(
      0x52,                   // Byte1('R')  Authentication
      0x00, 0x00, 0x00, 0x08, // Int32(8)    length, including itself
      0x00, 0x00, 0x00, 0x00, // Int32(0)    AuthenticationOk
    )
    expect(decodeThreeWays(wire)).toEqual({ type: 'AuthenticationOk' })
  })

  test('AuthenticationCleartextPassword', () => {
    const wire = bytes(
      0x52,                   // Byte1('R')
      0x00, 0x00, 0x00, 0x08, // Int32(8)    length
      0x00, 0x00, 0x00, 0x03, // Int32(3)    cleartext password requested
    )
    expect(decodeThreeWays(wire)).toEqual({ type: 'AuthenticationCleartextPassword' })
  })

  test('AuthenticationMD5Password', () => {
    const wire = bytes(
      0x52,                   // Byte1('R')
      0x00, 0x00, 0x00, 0x0c, // Int32(12)   length
      0x00, 0x00, 0x00, 0x05, // Int32(5)    MD5 password requested
      0x01, 0x02, 0xfe, 0xff, // Byte4       salt
    )
    expect(decodeThreeWays(wire)).toEqual({ type: 'AuthenticationMD5Password', salt: bytes(1, 2, 0xfe, 0xff) })
  })

  test('AuthenticationSASL lists mechanisms up to an empty string', () => {
    const wire = bytes(
      0x52,                   // Byte1('R')
      0x00, 0x00, 0x00, 0x2a, // Int32(42)   length
      0x00, 0x00, 0x00, 0x0a, // Int32(10)   SASL
      ...ascii('SCRAM-SHA-256-PLUS'), 0x00, // String mechanism
      ...ascii('SCRAM-SHA-256'), 0x00,      // String mechanism
      0x00,                   // Byte1(0)    end of list
    )
    expect(decodeThreeWays(wire)).toEqual({ type: 'AuthenticationSASL', mechanisms: ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'] })
  })

  test('AuthenticationSASLContinue and AuthenticationSASLFinal carry raw data', () => {
    const cont = bytes(
      0x52,                   // Byte1('R')
      0x00, 0x00, 0x00, 0x0b, // Int32(11)   length
      0x00, 0x00, 0x00, 0x0b, // Int32(11)   SASLContinue
      ...ascii('r=a'),        // Byte[n]     server-first-message (no NUL)
    )
    expect(decodeThreeWays(cont)).toEqual({ type: 'AuthenticationSASLContinue', data: bytes(...ascii('r=a')) })
    const final = bytes(
      0x52,                   // Byte1('R')
      0x00, 0x00, 0x00, 0x0b, // Int32(11)   length
      0x00, 0x00, 0x00, 0x0c, // Int32(12)   SASLFinal
      ...ascii('v=x'),        // Byte[n]     server-final-message
    )
    expect(decodeThreeWays(final)).toEqual({ type: 'AuthenticationSASLFinal', data: bytes(...ascii('v=x')) })
  })

  test.each([
    [2, 'AuthenticationKerberosV5'],
    [7, 'AuthenticationGSS'],
    [9, 'AuthenticationSSPI'],
  ])('code %i is recognized as %s, so it can be refused by name', (code, type) => {
    const wire = bytes(
      0x52,                   // Byte1('R')
      0x00, 0x00, 0x00, 0x08, // Int32(8)    length
      0x00, 0x00, 0x00, code, // Int32       method code
    )
    expect(decodeThreeWays(wire)).toEqual({ type })
  })

  test('an unknown code, or a body of the wrong size, is a protocol violation', () => {
    const unknown = bytes(0x52, 0, 0, 0, 8, 0, 0, 0, 99)  // Int32(99): no such method
    expect(() => frame([unknown])).toThrow(ProtocolViolationError)
    const shortSalt = bytes(0x52, 0, 0, 0, 11, 0, 0, 0, 5, 1, 2, 3) // 3-byte MD5 salt
    expect(() => frame([shortSalt])).toThrow(/ends too early/)
    const okWithExtra = bytes(0x52, 0, 0, 0, 9, 0, 0, 0, 0, 7) // AuthenticationOk plus a byte
    expect(() => frame([okWithExtra])).toThrow(/trailing/)
  })
})

describe('session messages', () => {
  test('ParameterStatus', () => {
    const wire = bytes(
      0x53,                   // Byte1('S')  ParameterStatus
      0x00, 0x00, 0x00, 0x18, // Int32(24)   length
      ...ascii('server_version'), 0x00, // String name
      ...ascii('18.4'), 0x00,           // String value
    )
    expect(decodeThreeWays(wire)).toEqual({ type: 'ParameterStatus', name: 'server_version', value: '18.4' })
  })

  test('BackendKeyData with a 4-byte key (protocol 3.0)', () => {
    const wire = bytes(
      0x4b,                   // Byte1('K')  BackendKeyData
      0x00, 0x00, 0x00, 0x0c, // Int32(12)   length
      0x00, 0x00, 0x30, 0x39, // Int32(12345) process ID
      0xde, 0xad, 0xbe, 0xef, // Byte4       secret key
    )
    expect(decodeThreeWays(wire)).toEqual({ type: 'BackendKeyData', processId: 12345, secretKey: bytes(0xde, 0xad, 0xbe, 0xef) })
  })

  test('BackendKeyData with a 32-byte key (protocol 3.2), and the 256-byte limit', () => {
    const key = Array.from({ length: 32 }, (_, i) => i)
    const wire = bytes(
      0x4b,                   // Byte1('K')
      0x00, 0x00, 0x00, 0x28, // Int32(40)   length: 4 + 4 + 32
      0x00, 0x00, 0x00, 0x07, // Int32(7)    process ID
      ...key,                 // Byte32      secret key
    )
    expect(decodeThreeWays(wire)).toEqual({ type: 'BackendKeyData', processId: 7, secretKey: Uint8Array.from(key) })
    const tooLong = bytes(0x4b, 0, 0, 0x01, 0x09, 0, 0, 0, 7, ...new Array(257).fill(1)) // 257-byte key
    expect(() => frame([tooLong])).toThrow(/outside 4..256/)
    const tooShort = bytes(0x4b, 0, 0, 0, 11, 0, 0, 0, 7, 1, 2, 3) // 3-byte key
    expect(() => frame([tooShort])).toThrow(ProtocolViolationError)
  })

  test('NegotiateProtocolVersion', () => {
    const wire = bytes(
      0x76,                   // Byte1('v')  NegotiateProtocolVersion
      0x00, 0x00, 0x00, 0x19, // Int32(25)   length
      0x00, 0x03, 0x00, 0x00, // Int32(196608) newest version supported: 3.0 (major << 16 | minor)
      0x00, 0x00, 0x00, 0x01, // Int32(1)    one unrecognized option
      ...ascii('_pq_.example'), 0x00, // String option name
    )
    expect(decodeThreeWays(wire)).toEqual({ type: 'NegotiateProtocolVersion', newestVersion: 0x30000, unrecognizedOptions: ['_pq_.example'] })
    const lyingCount = bytes(0x76, 0, 0, 0, 12, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff) // 2^31-1 options in 0 bytes
    expect(() => frame([lyingCount])).toThrow(/cannot fit/)
  })

  test.each(['I', 'T', 'E'])('ReadyForQuery %s', (status) => {
    const wire = bytes(
      0x5a,                   // Byte1('Z')  ReadyForQuery
      0x00, 0x00, 0x00, 0x05, // Int32(5)    length
      ...ascii(status),       // Byte1       transaction status
    )
    expect(decodeThreeWays(wire)).toEqual({ type: 'ReadyForQuery', status })
  })

  test('ReadyForQuery with an unknown status is refused', () => {
    expect(() => frame([bytes(0x5a, 0, 0, 0, 5, ...ascii('X'))])).toThrow(/unknown transaction status/)
  })
})

describe('query results', () => {
  test('RowDescription', () => {
    const wire = bytes(
      0x54,                   // Byte1('T')  RowDescription
      0x00, 0x00, 0x00, 0x1b, // Int32(27)   length
      0x00, 0x01,             // Int16(1)    one field
      ...ascii('id'), 0x00,   // String      field name
      0x00, 0x00, 0x40, 0x00, // Int32(16384) table OID
      0x00, 0x01,             // Int16(1)    column number
      0x00, 0x00, 0x00, 0x17, // Int32(23)   type OID: int4
      0x00, 0x04,             // Int16(4)    type size
      0xff, 0xff, 0xff, 0xff, // Int32(-1)   type modifier
      0x00, 0x00,             // Int16(0)    format: text
    )
    expect(decodeThreeWays(wire)).toEqual({
      type: 'RowDescription',
      fields: [{ name: 'id', tableOid: 16384, columnNumber: 1, typeOid: 23, typeSize: 4, typeModifier: -1, format: 0 }],
    })
  })

  test('DataRow with a value, a NULL and an empty string', () => {
    const wire = bytes(
      0x44,                   // Byte1('D')  DataRow
      0x00, 0x00, 0x00, 0x15, // Int32(21)   length
      0x00, 0x03,             // Int16(3)    three columns
      0x00, 0x00, 0x00, 0x03, // Int32(3)    value length
      ...ascii('abc'),        // Byte3       value
      0xff, 0xff, 0xff, 0xff, // Int32(-1)   NULL, no bytes follow
      0x00, 0x00, 0x00, 0x00, // Int32(0)    empty value
    )
    expect(decodeThreeWays(wire)).toEqual({ type: 'DataRow', values: ['abc', null, ''] })
  })

  test('DataRow whose value length runs past the message is refused', () => {
    const wire = bytes(0x44, 0, 0, 0, 11, 0, 1, 0, 0, 0, 9, 0x61) // claims 9 bytes, has 1
    expect(() => frame([wire])).toThrow(/ends too early/)
  })

  test('CommandComplete', () => {
    const wire = bytes(
      0x43,                   // Byte1('C')  CommandComplete
      0x00, 0x00, 0x00, 0x0d, // Int32(13)   length
      ...ascii('SELECT 2'), 0x00, // String  command tag
    )
    expect(decodeThreeWays(wire)).toEqual({ type: 'CommandComplete', tag: 'SELECT 2' })
  })

  test('EmptyQueryResponse', () => {
    const wire = bytes(
      0x49,                   // Byte1('I')  EmptyQueryResponse
      0x00, 0x00, 0x00, 0x04, // Int32(4)    length: no body
    )
    expect(decodeThreeWays(wire)).toEqual({ type: 'EmptyQueryResponse' })
  })

  test.each([
    ['G', 'CopyInResponse'],
    ['H', 'CopyOutResponse'],
    ['W', 'CopyBothResponse'],
  ])('%s is recognized as %s', (letter, type) => {
    const wire = bytes(
      letter.charCodeAt(0),   // Byte1       G, H or W
      0x00, 0x00, 0x00, 0x0b, // Int32(11)   length
      0x00,                   // Int8(0)     textual
      0x00, 0x02,             // Int16(2)    two columns
      0x00, 0x00,             // Int16(0)    column 1 format
      0x00, 0x00,             // Int16(0)    column 2 format
    )
    expect(decodeThreeWays(wire)).toEqual({ type, format: 0, columnFormats: [0, 0] })
  })

  test('CopyData and CopyDone', () => {
    const data = bytes(
      0x64,                   // Byte1('d')  CopyData
      0x00, 0x00, 0x00, 0x06, // Int32(6)    length
      0x31, 0x0a,             // Byte2       "1\n"
    )
    expect(decodeThreeWays(data)).toEqual({ type: 'CopyData', data: bytes(0x31, 0x0a) })
    const done = bytes(
      0x63,                   // Byte1('c')  CopyDone
      0x00, 0x00, 0x00, 0x04, // Int32(4)    length
    )
    expect(decodeThreeWays(done)).toEqual({ type: 'CopyDone' })
  })
})

describe('errors and notices', () => {
  test('ErrorResponse with every field code', () => {
    const field = (code: string, value: string) => [...ascii(code), ...utf8(value), 0]
    const body = [
      ...field('S', 'FEHLER'),        // severity, localized
      ...field('V', 'ERROR'),         // severity
      ...field('C', '42P01'),         // SQLSTATE
      ...field('M', 'relation "x" does not exist'),
      ...field('D', 'detail'),
      ...field('H', 'hint'),
      ...field('P', '15'),            // position
      ...field('p', '3'),             // internal position
      ...field('q', 'SELECT 1'),      // internal query
      ...field('W', 'PL/pgSQL function f()'),
      ...field('s', 'public'),        // schema
      ...field('t', 'x'),             // table
      ...field('c', 'id'),            // column
      ...field('d', 'int4'),          // data type
      ...field('n', 'x_pkey'),        // constraint
      ...field('F', 'parse_relation.c'),
      ...field('L', '1449'),
      ...field('R', 'parserOpenTable'),
      ...field('Z', 'from the future'), // unknown code: ignored
      0x00,                           // end of fields
    ]
    const wire = bytes(0x45, ...[0, 0, 0, body.length + 4], ...body) // Byte1('E') Int32 length
    expect(decodeThreeWays(wire)).toEqual({
      type: 'ErrorResponse',
      fields: {
        severityLocalized: 'FEHLER', severity: 'ERROR', code: '42P01', message: 'relation "x" does not exist',
        detail: 'detail', hint: 'hint', position: 15, internalPosition: 3, internalQuery: 'SELECT 1',
        where: 'PL/pgSQL function f()', schema: 'public', table: 'x', column: 'id', dataType: 'int4',
        constraint: 'x_pkey', file: 'parse_relation.c', line: 1449, routine: 'parserOpenTable',
      },
    })
  })

  test('NoticeResponse', () => {
    const wire = bytes(
      0x4e,                   // Byte1('N')  NoticeResponse
      0x00, 0x00, 0x00, 0x18, // Int32(24)   length
      0x53, ...ascii('NOTICE'), 0x00, // Byte1('S') String severity
      0x43, ...ascii('00000'), 0x00,  // Byte1('C') String SQLSTATE
      0x4d, ...ascii('hi'), 0x00,     // Byte1('M') String message
      0x00,                   // Byte1(0)    end of fields
    )
    expect(decodeThreeWays(wire)).toEqual({ type: 'NoticeResponse', fields: { severityLocalized: 'NOTICE', code: '00000', message: 'hi' } })
  })

  test('a field list without its final zero byte is refused', () => {
    const wire = bytes(0x45, 0, 0, 0, 7, 0x4d, 0x61, 0x00) // 'M' "a" and no terminator
    expect(() => frame([wire])).toThrow(ProtocolViolationError)
  })
})

describe('NotificationResponse', () => {
  test('channel, payload and process ID', () => {
    const wire = bytes(
      0x41,                   // Byte1('A')  NotificationResponse
      0x00, 0x00, 0x00, 0x10, // Int32(16)   length, including itself
      0x00, 0x00, 0x04, 0xd2, // Int32(1234) notifying backend's process ID
      ...ascii('jobs'), 0x00, // String      channel
      ...ascii('42'), 0x00,   // String      payload
    )
    expect(decodeThreeWays(wire)).toEqual({ type: 'NotificationResponse', processId: 1234, channel: 'jobs', payload: '42' })
  })

  test('an empty payload, and multi-byte UTF-8 in both strings', () => {
    const wire = bytes(
      0x41,                   // Byte1('A')
      0x00, 0x00, 0x00, 0x10, // Int32(16)   length
      0xff, 0xff, 0xff, 0xff, // Int32(-1)   process ID (signed)
      0xc3, 0xa9, 0xf0, 0x9f, 0x94, 0x94, 0x00, // String "é🔔"
      0x00,                   // String      empty payload
    )
    expect(decodeThreeWays(wire)).toEqual({ type: 'NotificationResponse', processId: -1, channel: 'é🔔', payload: '' })
  })

  test('a leading byte-order mark in a payload is kept, not swallowed', () => {
    const wire = bytes(
      0x41,                   // Byte1('A')
      0x00, 0x00, 0x00, 0x0f, // Int32(15)   length
      0x00, 0x00, 0x00, 0x01, // Int32(1)    process ID
      0x63, 0x00,             // String      channel "c"
      0xef, 0xbb, 0xbf, 0x78, 0x00, // String U+FEFF "x"
    )
    expect(decodeThreeWays(wire)).toMatchObject({ payload: '\uFEFFx' })
  })

  // Found by review: a value longer than V8's strings (a replication stream's 540 MB text) was
  // reported as "not valid UTF-8", a false reason given for a limit of this runtime.
  test("a text longer than the runtime's strings can be is a RangeError that says so, not invalid UTF-8", () => {
    const longest = 0x1fffffe8 // V8's longest string, in UTF-16 units: one per ASCII byte
    const tooLong = new Uint8Array(longest + 1).fill(0x78)
    expect(() => decodeUtf8(tooLong, 0, tooLong.length)).toThrow(new RangeError(`the server sent a text of ${longest + 1} bytes, longer than a string can be here`))
  })

  test('a NUL inside the payload, a missing NUL and invalid UTF-8 are protocol violations', () => {
    const inner = bytes(0x41, 0, 0, 0, 14, 0, 0, 0, 1, 0x63, 0x00, 0x61, 0x00, 0x62, 0x00) // payload "a\0b"
    expect(() => frame([inner])).toThrow(/trailing bytes after a NUL/)
    const unterminated = bytes(0x41, 0, 0, 0, 11, 0, 0, 0, 1, 0x63, 0x00, 0x61) // payload without NUL
    expect(() => frame([unterminated])).toThrow(/missing NUL/)
    const invalid = bytes(0x41, 0, 0, 0, 12, 0, 0, 0, 1, 0x63, 0x00, 0xc3, 0x00) // lone lead byte
    expect(() => frame([invalid])).toThrow(/not valid UTF-8/)
    const overlong = bytes(0x41, 0, 0, 0, 13, 0, 0, 0, 1, 0xc0, 0xaf, 0x00, 0x61, 0x00) // overlong '/'
    expect(() => frame([overlong])).toThrow(/not valid UTF-8/)
  })
})

describe('framing', () => {
  test('a length under 4 is refused before anything else', () => {
    const wire = bytes(
      0x41,                   // Byte1('A')
      0x00, 0x00, 0x00, 0x03, // Int32(3)    impossible: the length counts itself
    )
    expect(() => frame([wire])).toThrow(/less than the 4 bytes/)
  })

  test('a length above the maximum is refused before the body arrives', () => {
    const header = bytes(
      0x44,                   // Byte1('D')
      0x7f, 0xff, 0xff, 0xff, // Int32(2^31-1) length: 2 GiB
    )
    expect(() => frame([header])).toThrow(/exceeds the maximum/)
    const withTopBit = bytes(0x44, 0xff, 0xff, 0xff, 0xf0) // a negative Int32, read unsigned
    expect(() => frame([withTopBit], { maxMessageLength: 1000 })).toThrow(/exceeds the maximum of 1000/)
  })

  test('an unknown message type is refused, naming it', () => {
    expect(() => frame([bytes(0x31, 0, 0, 0, 4)])).toThrow(/unexpected message type '1'/) // ParseComplete
    expect(() => frame([bytes(0x00, 0, 0, 0, 4)])).toThrow(/0x00/)
  })

  test('after a violation the framer stays failed', () => {
    const framer = new Framer()
    framer.push(bytes(0x41, 0, 0, 0, 3))
    expect(() => framer.next()).toThrow(ProtocolViolationError)
    expect(() => framer.push(bytes(0x5a, 0, 0, 0, 5, 0x49))).toThrow(ProtocolViolationError)
  })
})
