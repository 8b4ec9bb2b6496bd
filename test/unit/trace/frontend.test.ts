/**
 * Byte vectors for every message the client sends, written by hand from the protocol docs,
 * decoded by the trace decoder and printed as trace lines: the decoded object and the line are
 * checked in the same test. Then what malformed bytes give: a line saying so, never a throw.
 */
import { describe, expect, test } from 'vitest'
import { decodeFrontendMessages, type AuthenticationResponseType } from '../../../src/protocol/trace/frontend.ts'
import { frontendLine } from '../../../src/protocol/trace/frontend-line.ts'
import { formatLine } from '../../../src/protocol/trace/line.ts'
import { ascii, bytes, concat, cstr, int32, message } from '../../support/wire.ts'

/** The lines `wire` traces to, with `pending` the 'p' message the server waits for. */
function lines(wire: Uint8Array, pending?: AuthenticationResponseType, mechanism?: string): string[] {
  return decodeFrontendMessages(wire, pending).map((m) => formatLine(frontendLine(m, mechanism)))
}

describe('messages without a type byte', () => {
  test('StartupMessage, protocol 3.2: version as major and minor, then each parameter', () => {
    const wire = bytes(
      0x00, 0x00, 0x00, 0x1e,     // Int32(30)     length, including itself
      0x00, 0x03, 0x00, 0x02,     // Int32(196610) protocol 3.2
      ...cstr('user'), ...cstr('ann'),
      ...cstr('database'), ...cstr('db'),
      0x00,                       // Byte1(0)      end of parameters
    )
    expect(decodeFrontendMessages(wire)).toEqual([
      { type: 'StartupMessage', length: 30, protocolVersion: 0x30002, parameters: [['user', 'ann'], ['database', 'db']] },
    ])
    expect(lines(wire)).toEqual(['F\t30\tStartupMessage\t 3 2 "user" "ann" "database" "db"'])
  })

  test('StartupMessage, protocol 3.0, no parameters', () => {
    const wire = bytes(
      0x00, 0x00, 0x00, 0x09,     // Int32(9)      length
      0x00, 0x03, 0x00, 0x00,     // Int32(196608) protocol 3.0
      0x00,                       // Byte1(0)      end of parameters
    )
    expect(lines(wire)).toEqual(['F\t9\tStartupMessage\t 3 0'])
  })

  test('SSLRequest', () => {
    const wire = bytes(
      0x00, 0x00, 0x00, 0x08,     // Int32(8)      length
      0x04, 0xd2, 0x16, 0x2f,     // Int32(80877103) 1234 << 16 | 5679
    )
    expect(lines(wire)).toEqual(['F\t8\tSSLRequest\t 1234 5679'])
  })

  test('CancelRequest: the process ID is shown, the secret key is not', () => {
    const wire = bytes(
      0x00, 0x00, 0x00, 0x10,     // Int32(16)     length
      0x04, 0xd2, 0x16, 0x2e,     // Int32(80877102) 1234 << 16 | 5678
      0x00, 0x00, 0x10, 0x92,     // Int32(4242)   process ID
      0xde, 0xad, 0xbe, 0xef,     // Byte4         secret key
    )
    expect(decodeFrontendMessages(wire)).toEqual([
      { type: 'CancelRequest', length: 16, processId: 4242, secretKey: bytes(0xde, 0xad, 0xbe, 0xef) },
    ])
    expect(lines(wire)).toEqual(['F\t16\tCancelRequest\t 1234 5678 4242 [redacted]'])
  })
})

describe("the 'p' messages, told apart by the request they answer", () => {
  test('PasswordMessage with a cleartext password: redacted', () => {
    const wire = bytes(
      0x70,                       // Byte1('p')
      0x00, 0x00, 0x00, 0x0c,     // Int32(12)     length
      ...ascii('hunter2'), 0x00,  // String        password
    )
    expect(decodeFrontendMessages(wire, 'PasswordMessage')).toEqual([{ type: 'PasswordMessage', length: 12, password: 'hunter2' }])
    expect(lines(wire, 'PasswordMessage')).toEqual(['F\t12\tPasswordMessage\t [redacted]'])
  })

  test('PasswordMessage with an md5 hash: redacted too', () => {
    const hash = 'md5' + 'c0ffee00'.repeat(4)
    const wire = message('p', cstr(hash)) // Byte1('p') Int32(40) String "md5" + 32 hex digits
    expect(lines(wire, 'PasswordMessage')).toEqual(['F\t40\tPasswordMessage\t [redacted]'])
  })

  test('SASLInitialResponse: the mechanism, the length and the whole client-first-message', () => {
    const wire = bytes(
      0x70,                       // Byte1('p')
      0x00, 0x00, 0x00, 0x32,     // Int32(50)     length
      ...ascii('SCRAM-SHA-256'), 0x00, // String   mechanism
      0x00, 0x00, 0x00, 0x1c,     // Int32(28)     response length
      ...ascii('n,,n=,r=rOprNGfwEbeRWgbNEkqO'), // Byte[28] client-first-message (RFC 7677's nonce)
    )
    expect(decodeFrontendMessages(wire, 'SASLInitialResponse')).toEqual([
      { type: 'SASLInitialResponse', length: 50, mechanism: 'SCRAM-SHA-256', response: bytes(...ascii('n,,n=,r=rOprNGfwEbeRWgbNEkqO')) },
    ])
    expect(lines(wire, 'SASLInitialResponse')).toEqual([
      "F\t50\tSASLInitialResponse\t \"SCRAM-SHA-256\" 28 'n,,n=,r=rOprNGfwEbeRWgbNEkqO'",
    ])
  })

  test("SASLInitialResponse with channel binding: the gs2 flag p=tls-server-end-point is not SCRAM's proof", () => {
    const first = 'p=tls-server-end-point,,n=,r=abc'
    const wire = message('p', cstr('SCRAM-SHA-256-PLUS'), int32(first.length), ascii(first))
    expect(lines(wire, 'SASLInitialResponse')).toEqual([`F\t59\tSASLInitialResponse\t "SCRAM-SHA-256-PLUS" 32 '${first}'`])
  })

  test('SASLInitialResponse without a response: length -1', () => {
    const wire = bytes(
      0x70,                       // Byte1('p')
      0x00, 0x00, 0x00, 0x16,     // Int32(22)     length
      ...ascii('SCRAM-SHA-256'), 0x00, // String   mechanism
      0xff, 0xff, 0xff, 0xff,     // Int32(-1)     no response
    )
    expect(lines(wire, 'SASLInitialResponse')).toEqual(['F\t22\tSASLInitialResponse\t "SCRAM-SHA-256" -1'])
  })

  test('SASLInitialResponse of a mechanism other than SCRAM: its data is redacted whole', () => {
    const token = 'n,,\x01auth=Bearer secret-token\x01\x01'
    const wire = message('p', cstr('OAUTHBEARER'), int32(token.length), ascii(token))
    expect(lines(wire, 'SASLInitialResponse')).toEqual(['F\t50\tSASLInitialResponse\t "OAUTHBEARER" 30 [redacted]'])
  })

  test("SASLResponse: RFC 7677's client-final-message, shown without its proof", () => {
    const wire = bytes(
      0x70,                       // Byte1('p')
      0x00, 0x00, 0x00, 0x6e,     // Int32(110)    length
      ...ascii('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ='),
    )
    expect(lines(wire, 'SASLResponse', 'SCRAM-SHA-256')).toEqual([
      "F\t110\tSASLResponse\t 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=[redacted]'",
    ])
  })

  test('SASLResponse with no SCRAM mechanism known: redacted whole', () => {
    expect(lines(message('p', ascii('c=biws,r=x,p=proof')), 'SASLResponse', undefined)).toEqual(['F\t22\tSASLResponse\t [redacted]'])
  })

  test("a 'p' message that answers no pending request: named as libpq names it, body hidden", () => {
    expect(lines(message('p', cstr('pw')))).toEqual(['F\t7\tUnknownAuthenticationResponse\t [redacted]'])
  })

  test("`pending` applies to the first 'p' message only", () => {
    const two = concat(message('p', cstr('pw')), message('p', cstr('pw')))
    expect(lines(two, 'PasswordMessage')).toEqual([
      'F\t7\tPasswordMessage\t [redacted]',
      'F\t7\tUnknownAuthenticationResponse\t [redacted]',
    ])
  })
})

describe('typed messages', () => {
  test('Query', () => {
    const wire = bytes(
      0x51,                       // Byte1('Q')
      0x00, 0x00, 0x00, 0x0d,     // Int32(13)     length
      ...ascii('SELECT 1'), 0x00, // String        query
    )
    expect(decodeFrontendMessages(wire)).toEqual([{ type: 'Query', length: 13, query: 'SELECT 1' }])
    expect(lines(wire)).toEqual(['F\t13\tQuery\t "SELECT 1"'])
  })

  test('Query with a newline, quotes and a non-ASCII letter: still one line', () => {
    expect(lines(message('Q', cstr('SELECT \'é\'\n, "x"')))).toEqual(['F\t22\tQuery\t "SELECT \'é\'\\n, \\"x\\""'])
  })

  test('CopyFail', () => {
    const wire = bytes(
      0x66,                       // Byte1('f')
      0x00, 0x00, 0x00, 0x25,     // Int32(37)     length
      ...ascii('COPY from stdin is not supported'), 0x00, // String reason
    )
    expect(lines(wire)).toEqual(['F\t37\tCopyFail\t "COPY from stdin is not supported"'])
  })

  test('Terminate: a message without fields ends at its name', () => {
    const wire = bytes(
      0x58,                       // Byte1('X')
      0x00, 0x00, 0x00, 0x04,     // Int32(4)      length
    )
    expect(lines(wire)).toEqual(['F\t4\tTerminate'])
  })

  test('several messages in one write give one line each, in order', () => {
    expect(lines(concat(message('Q', cstr('SELECT 1')), message('X')))).toEqual(['F\t13\tQuery\t "SELECT 1"', 'F\t4\tTerminate'])
  })

  test('a type the client never sends: named by its code, body not shown', () => {
    expect(lines(message('H'))).toEqual(['F\t4\tUnknown message: 0x48'])
    expect(lines(message('B', ascii('secret')))).toEqual(['F\t10\tUnknown message: 0x42'])
  })

  test('Sync, the heartbeat: its name alone, as libpq shows it; with a body it is malformed', () => {
    expect(lines(message('S'))).toEqual(['F\t4\tSync'])
    expect(lines(message('S', ascii('x')))[0]).toMatch(/^F\t5\tSync\t \[malformed: /)
  })
})

describe('malformed bytes give a line that says how, never a throw', () => {
  test.each([
    ['too short for a header', bytes(0x51, 0x00, 0x00), 'F\t?\tQuery\t [malformed: 3 bytes cannot hold a message header]'],
    ['too short for an untyped header', bytes(0x00, 0x00), 'F\t?\tMalformed\t [malformed: 2 bytes cannot hold a message header]'],
    ['a length under 4', bytes(0x51, ...int32(3)), 'F\t3\tQuery\t [malformed: a length under the minimum of 4]'],
    ['an untyped length under 8', bytes(...int32(7), 0, 3, 0, 0), 'F\t7\tStartupMessage\t [malformed: a length under the minimum of 8]'],
    ['a length past the bytes sent', bytes(0x51, ...int32(100), ...cstr('x')), 'F\t100\tQuery\t [malformed: the length runs past the 6 bytes sent]'],
    ['a String without its NUL', message('Q', ascii('SELECT 1')), 'F\t12\tQuery\t [malformed: the query has no NUL terminator]'],
    ['bytes after the last String', message('Q', cstr('x'), [1, 2]), 'F\t8\tQuery\t [malformed: 2 unexpected bytes after the query]'],
    ['Terminate with a body', message('X', [0]), 'F\t5\tTerminate\t [malformed: 1 unexpected byte after Terminate]'],
    ['a parameter list without its end', bytes(...int32(17), 0, 3, 0, 2, ...cstr('user'), ...cstr('ann')), 'F\t17\tStartupMessage\t [malformed: the parameter list has no terminating zero byte]'],
    ['a parameter without a value', bytes(...int32(14), 0, 3, 0, 2, ...cstr('user'), 0x41), 'F\t14\tStartupMessage\t [malformed: a parameter value has no NUL terminator]'],
    ['a CancelRequest with a 2-byte key', bytes(...int32(14), 0x04, 0xd2, 0x16, 0x2e, ...int32(1), 9, 9), 'F\t14\tCancelRequest\t [malformed: a secret key of 2 bytes, outside 4..256]'],
  ])('%s', (_, wire, line) => {
    expect(lines(wire)).toEqual([line])
  })

  test('a malformed PasswordMessage shows none of its bytes', () => {
    const wire = message('p', ascii('hunter2')) // no NUL
    expect(lines(wire, 'PasswordMessage')).toEqual(['F\t11\tPasswordMessage\t [malformed: the password has no NUL terminator]'])
  })

  test('a SASLInitialResponse whose response length overruns the message', () => {
    const wire = message('p', cstr('SCRAM-SHA-256'), int32(1000), ascii('n,,'))
    expect(lines(wire, 'SASLInitialResponse')).toEqual(['F\t25\tSASLInitialResponse\t [malformed: the message ends inside the response]'])
  })

  test('a malformed body does not stop the messages after it; a broken length does', () => {
    expect(lines(concat(message('Q', ascii('x')), message('X')))).toEqual(['F\t5\tQuery\t [malformed: the query has no NUL terminator]', 'F\t4\tTerminate'])
    expect(lines(concat(bytes(0x51, ...int32(2)), message('X')))).toEqual(['F\t2\tQuery\t [malformed: a length under the minimum of 4]'])
  })

  test('text that is not UTF-8 is shown with U+FFFD in its place', () => {
    expect(lines(message('Q', [0x61, 0xff, 0x62, 0x00]))).toEqual(['F\t8\tQuery\t "a\uFFFDb"'])
  })
})
