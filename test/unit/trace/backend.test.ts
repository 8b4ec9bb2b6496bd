/**
 * Backend messages as trace lines. Each message is built as wire bytes by the test-side
 * builder, decoded by the real framer, then traced: the expected line is written out, and the
 * length column, which the tracer computes back from the decoded message, must equal the
 * length field on the wire.
 */
import { describe, expect, test } from 'vitest'
import { backendLine } from '../../../src/protocol/trace/backend-line.ts'
import { formatLine } from '../../../src/protocol/trace/line.ts'
import { frame } from '../../support/framing.ts'
import { ascii, backend, bytes, cstr, int16, int32, message } from '../../support/wire.ts'

/** The trace line of the one message in `wire`, checking the length column against the wire. */
function traced(wire: Uint8Array, mechanism?: string): string {
  const [decoded] = frame([wire])
  const line = backendLine(decoded!, mechanism)
  const wireLength = (wire[1]! << 24) | (wire[2]! << 16) | (wire[3]! << 8) | wire[4]!
  if (line.length !== undefined) expect(line.length).toBe(wireLength)
  return formatLine(line)
}

describe('startup and authentication', () => {
  test.each([
    ['AuthenticationOk', backend.authenticationOk(), 'B\t8\tAuthenticationOk'],
    ['AuthenticationCleartextPassword', backend.authenticationCleartextPassword(), 'B\t8\tAuthenticationCleartextPassword'],
    // The salt is public; libpq leaves it out, pglisten shows it for those studying md5.
    ['AuthenticationMD5Password', backend.authenticationMD5Password([0x01, 0x02, 0xfe, 0xff]), "B\t12\tAuthenticationMD5Password\t '\\x01\\x02\\xfe\\xff'"],
    ['AuthenticationGSS', message('R', int32(7)), 'B\t8\tAuthenticationGSS'],
    ['AuthenticationSSPI', message('R', int32(9)), 'B\t8\tAuthenticationSSPI'],
    // The empty String that ends the list is shown, as libpq shows it.
    ['AuthenticationSASL', backend.authenticationSASL('SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'), 'B\t42\tAuthenticationSASL\t "SCRAM-SHA-256-PLUS" "SCRAM-SHA-256" ""'],
    ['ParameterStatus', backend.parameterStatus('server_version', '18.4'), 'B\t24\tParameterStatus\t "server_version" "18.4"'],
    ['NegotiateProtocolVersion', message('v', int32(0x30000), int32(1), cstr('_pq_.x')), 'B\t19\tNegotiateProtocolVersion\t 196608 1 "_pq_.x"'],
    ['ReadyForQuery', backend.readyForQuery('T'), 'B\t5\tReadyForQuery\t T'],
  ])('%s', (_, wire, line) => {
    expect(traced(wire)).toBe(line)
  })

  test('AuthenticationGSSContinue: its data is not kept, so its length is unknown', () => {
    expect(traced(message('R', int32(8), [1, 2, 3]))).toBe('B\t?\tAuthenticationGSSContinue')
  })

  test('BackendKeyData: the process ID is shown, the secret key never', () => {
    const wire = bytes(
      0x4b,                         // Byte1('K')  BackendKeyData
      0x00, 0x00, 0x00, 0x28,       // Int32(40)   length
      0x00, 0x00, 0x04, 0xd2,       // Int32(1234) process ID
      ...new Array(32).fill(0xab),  // Byte[32]    secret key (protocol 3.2)
    )
    expect(traced(wire)).toBe('B\t40\tBackendKeyData\t 1234 [redacted]')
  })

  test('AuthenticationSASLContinue: the server-first-message, in full', () => {
    const first = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096'
    expect(traced(backend.authenticationSASLContinue(first), 'SCRAM-SHA-256')).toBe(`B\t94\tAuthenticationSASLContinue\t '${first}'`)
  })

  test('AuthenticationSASLFinal: the server signature is redacted, an error is not', () => {
    expect(traced(backend.authenticationSASLFinal('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4='), 'SCRAM-SHA-256'))
      .toBe("B\t54\tAuthenticationSASLFinal\t 'v=[redacted]'")
    expect(traced(backend.authenticationSASLFinal('e=invalid-proof'), 'SCRAM-SHA-256'))
      .toBe("B\t23\tAuthenticationSASLFinal\t 'e=invalid-proof'")
  })

  test('SASL data with no SCRAM mechanism known is redacted whole', () => {
    expect(traced(backend.authenticationSASLContinue('{"status":"invalid_token"}'), undefined))
      .toBe('B\t34\tAuthenticationSASLContinue\t [redacted]')
  })
})

describe('queries', () => {
  test("RowDescription of SELECT 1: name, table OID, column, type OID 23 (int4), size 4, modifier -1, text", () => {
    const wire = bytes(
      0x54,                         // Byte1('T')  RowDescription
      0x00, 0x00, 0x00, 0x21,       // Int32(33)   length
      0x00, 0x01,                   // Int16(1)    field count
      ...ascii('?column?'), 0x00,   // String      field name
      0x00, 0x00, 0x00, 0x00,       // Int32(0)    table OID
      0x00, 0x00,                   // Int16(0)    column number
      0x00, 0x00, 0x00, 0x17,       // Int32(23)   type OID
      0x00, 0x04,                   // Int16(4)    type size
      0xff, 0xff, 0xff, 0xff,       // Int32(-1)   type modifier
      0x00, 0x00,                   // Int16(0)    format: text
    )
    expect(traced(wire)).toBe('B\t33\tRowDescription\t 1 "?column?" 0 0 23 4 -1 0')
  })

  test('DataRow: each value as its length and its bytes, NULL as -1', () => {
    const wire = bytes(
      0x44,                         // Byte1('D')  DataRow
      0x00, 0x00, 0x00, 0x17,       // Int32(23)   length
      0x00, 0x03,                   // Int16(3)    column count
      0x00, 0x00, 0x00, 0x01, 0x31, // Int32(1)    '1'
      0xff, 0xff, 0xff, 0xff,       // Int32(-1)   NULL
      0x00, 0x00, 0x00, 0x04,       // Int32(4)    4 bytes:
      0xc3, 0xa9, 0x27, 0x0a,       //             'é', a quote, a newline
    )
    expect(traced(wire)).toBe("B\t23\tDataRow\t 3 1 '1' -1 4 '\\xc3\\xa9\\x27\\x0a'")
  })

  test.each([
    ['CommandComplete', backend.commandComplete('SELECT 1'), 'B\t13\tCommandComplete\t "SELECT 1"'],
    ['EmptyQueryResponse', backend.emptyQueryResponse(), 'B\t4\tEmptyQueryResponse'],
    ['CopyInResponse', message('G', [0], int16(2), int16(0), int16(1)), 'B\t11\tCopyInResponse\t 0 2 0 1'],
    ['CopyOutResponse', message('H', [0], int16(0)), 'B\t7\tCopyOutResponse\t 0 0'],
    ['CopyData', message('d', ascii("a'b\\")), "B\t8\tCopyData\t 'a\\x27b\\x5c'"],
    ['CopyDone', message('c'), 'B\t4\tCopyDone'],
  ])('%s', (_, wire, line) => {
    expect(traced(wire)).toBe(line)
  })

  test('ErrorResponse: each field as its code and value, in wire order, then the zero byte', () => {
    const wire = backend.errorResponse({ S: 'ERROR', V: 'ERROR', C: '42601', M: 'syntax error at end of input', P: '8', F: 'scan.l', L: '1244', R: 'scanner_yyerror' })
    expect(traced(wire)).toBe(
      'B\t90\tErrorResponse\t S "ERROR" V "ERROR" C "42601" M "syntax error at end of input" P "8" F "scan.l" L "1244" R "scanner_yyerror" \\x00',
    )
  })

  test('NoticeResponse with a newline in its message: still one line', () => {
    expect(traced(backend.noticeResponse({ S: 'NOTICE', M: 'two\nlines' }))).toBe('B\t24\tNoticeResponse\t S "NOTICE" M "two\\nlines" \\x00')
  })

  test('a field code pglisten does not decode is not shown, and not counted', () => {
    const wire = backend.errorResponse({ S: 'ERROR', Z: 'future field', M: 'm' })
    expect(wire.length - 1).toBe(29) // the length on the wire counts Z's 14 bytes; the line cannot
    const [decoded] = frame([wire])
    expect(formatLine(backendLine(decoded!, undefined))).toBe('B\t15\tErrorResponse\t S "ERROR" M "m" \\x00')
  })
})

describe('notifications', () => {
  test('NotificationResponse: process ID, channel, payload', () => {
    const wire = bytes(
      0x41,                         // Byte1('A')  NotificationResponse
      0x00, 0x00, 0x00, 0x10,       // Int32(16)   length
      0x00, 0x00, 0x04, 0xd2,       // Int32(1234) notifying backend's process ID
      ...ascii('jobs'), 0x00,       // String      channel
      ...ascii('42'), 0x00,         // String      payload
    )
    expect(traced(wire)).toBe('B\t16\tNotificationResponse\t 1234 "jobs" "42"')
  })

  test('a payload that tries to forge a second line stays on one', () => {
    const payload = 'x"\nB\t5\tReadyForQuery\t I\u2028'
    expect(traced(backend.notificationResponse(7, 'c', payload))).toBe('B\t37\tNotificationResponse\t 7 "c" "x\\"\\nB\\t5\\tReadyForQuery\\t I\\u2028"')
  })
})
