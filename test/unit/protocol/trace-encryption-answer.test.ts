/**
 * The trace of the encryption requests (SSLRequest, GSSENCRequest) and of the server's one-byte
 * answer, which is no message, in libpq's layout: fe-trace.c's pqTraceOutputNoTypeByteMessage
 * prints "F\t8\tSSLRequest\t 1234 5679" and pqTraceOutputCharResponse "B\t1\tSSLResponse\t S".
 */
import { describe, expect, test } from 'vitest'
import { charResponseLine, createTracer, formatLine } from '../../../src/protocol/trace/index.ts'
import { ascii, bytes } from '../../support/wire.ts'

function traced(options: Parameters<typeof createTracer>[1] = {}) {
  const lines: string[] = []
  return { lines, tracer: createTracer((line) => lines.push(line), options) }
}

describe('the request and its one-byte answer, as libpq traces them', () => {
  test('SSLRequest answered S', () => {
    const { lines, tracer } = traced()
    tracer.sent(bytes(
      0x00, 0x00, 0x00, 0x08, // Int32(8)        length, including itself
      0x04, 0xd2, 0x16, 0x2f, // Int32(80877103) the SSLRequest code: 1234 << 16 | 5679
    ))
    tracer.receivedByte!('SSLResponse', ascii('S')[0]!)
    expect(lines).toEqual(['F\t8\tSSLRequest\t 1234 5679', 'B\t1\tSSLResponse\t S'])
  })

  test('GSSENCRequest answered N', () => {
    const { lines, tracer } = traced()
    tracer.sent(bytes(
      0x00, 0x00, 0x00, 0x08, // Int32(8)        length, including itself
      0x04, 0xd2, 0x16, 0x30, // Int32(80877104) the GSSENCRequest code: 1234 << 16 | 5680
    ))
    tracer.receivedByte!('GSSENCResponse', ascii('N')[0]!)
    expect(lines).toEqual(['F\t8\tGSSENCRequest\t 1234 5680', 'B\t1\tGSSENCResponse\t N'])
  })

  test.each([
    ['S', 0x53, 'S'], // TLS accepted
    ['N', 0x4e, 'N'], // refused: go on in plain text, or give up
    ['E', 0x45, 'E'], // the first byte of an ErrorResponse, which is left unread (CVE-2024-10977)
    ['G', 0x47, 'G'], // GSSENCRequest accepted
    ['a control byte', 0x00, '\\x00'], // not printable: \xNN, so that the line stays one line
    ['a byte past ASCII', 0xff, '\\xff'],
  ])('the answer %s is shown as a Byte1', (_, byte, shown) => {
    expect(formatLine(charResponseLine('SSLResponse', byte))).toBe(`B\t1\tSSLResponse\t ${shown}`)
  })

  test('with timestamps, the answer gets one too, as every line does', () => {
    const { lines, tracer } = traced({ timestamps: true, now: () => new Date(2026, 0, 2, 3, 4, 5).getTime() + 6.789 })
    tracer.receivedByte!('SSLResponse', 0x53)
    expect(lines).toEqual(['2026-01-02 03:04:05.006789\tB\t1\tSSLResponse\t S'])
  })

  test('the answer changes none of the state that reads the messages after it', () => {
    const { lines, tracer } = traced()
    tracer.receivedByte!('SSLResponse', 0x53)
    // A 'p' message with no authentication request pending: not read, as before any answer.
    tracer.sent(bytes(0x70, 0x00, 0x00, 0x00, 0x08, ...ascii('abc'), 0x00))
    expect(lines).toEqual(['B\t1\tSSLResponse\t S', 'F\t8\tUnknownAuthenticationResponse\t [redacted]'])
  })
})
