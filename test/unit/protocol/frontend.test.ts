/**
 * Byte vectors for every message the client sends, written by hand from the protocol docs.
 */
import { describe, expect, test } from 'vitest'
import { ByteWriter } from '../../../src/protocol/bytes/writer.ts'
import {
  protocol30,
  protocol32,
  sslRequest,
  terminate,
  writeCancelRequest,
  writeCopyFail,
  writePasswordMessage,
  writeQuery,
  writeSASLInitialResponse,
  writeSASLResponse,
  writeStartupMessage,
} from '../../../src/protocol/frontend.ts'
import { ascii, bytes } from '../../support/wire.ts'

const encode = (write: (w: ByteWriter) => ByteWriter) => write(new ByteWriter(4)).toBytes()

describe('startup-phase messages (no type byte)', () => {
  test('StartupMessage, protocol 3.0', () => {
    expect(encode((w) => writeStartupMessage(w, protocol30, { user: 'ann' }))).toEqual(bytes(
      0x00, 0x00, 0x00, 0x12, // Int32(18)   length
      0x00, 0x03, 0x00, 0x00, // Int32(196608) protocol 3.0
      ...ascii('user'), 0x00, // String      parameter name
      ...ascii('ann'), 0x00,  // String      parameter value
      0x00,                   // Byte1(0)    end of parameters
    ))
  })

  test('StartupMessage, protocol 3.2, several parameters in order', () => {
    expect(encode((w) => writeStartupMessage(w, protocol32, { user: 'u', database: 'd' }))).toEqual(bytes(
      0x00, 0x00, 0x00, 0x1b, // Int32(27)   length
      0x00, 0x03, 0x00, 0x02, // Int32(196610) protocol 3.2
      ...ascii('user'), 0x00, ...ascii('u'), 0x00,
      ...ascii('database'), 0x00, ...ascii('d'), 0x00,
      0x00,                   // Byte1(0)    end of parameters
    ))
  })

  test('StartupMessage refuses a NUL in a value and an empty name', () => {
    expect(() => encode((w) => writeStartupMessage(w, protocol32, { user: 'a\0b' }))).toThrow(RangeError)
    expect(() => encode((w) => writeStartupMessage(w, protocol32, { '': 'x' }))).toThrow(RangeError)
  })

  test('SSLRequest', () => {
    expect(sslRequest).toEqual(bytes(
      0x00, 0x00, 0x00, 0x08, // Int32(8)    length
      0x04, 0xd2, 0x16, 0x2f, // Int32(80877103) SSL request code: 1234, 5679
    ))
  })

  test('CancelRequest with a 4-byte key and with a 32-byte key', () => {
    expect(encode((w) => writeCancelRequest(w, 4242, bytes(1, 2, 3, 4)))).toEqual(bytes(
      0x00, 0x00, 0x00, 0x10, // Int32(16)   length
      0x04, 0xd2, 0x16, 0x2e, // Int32(80877102) cancel request code: 1234, 5678
      0x00, 0x00, 0x10, 0x92, // Int32(4242) process ID
      0x01, 0x02, 0x03, 0x04, // Byte4       secret key
    ))
    const key = new Uint8Array(32).fill(7)
    const long = encode((w) => writeCancelRequest(w, 1, key))
    expect([...long.subarray(0, 4)]).toEqual([0, 0, 0, 44]) // Int32(44): 12 + 32
    expect(long.subarray(12)).toEqual(key)
    expect(() => encode((w) => writeCancelRequest(w, 1, new Uint8Array(257)))).toThrow(RangeError)
  })
})

describe('typed messages', () => {
  test('PasswordMessage', () => {
    expect(encode((w) => writePasswordMessage(w, 'pw'))).toEqual(bytes(
      0x70,                   // Byte1('p')  PasswordMessage
      0x00, 0x00, 0x00, 0x07, // Int32(7)    length
      ...ascii('pw'), 0x00,   // String      password
    ))
  })

  test('SASLInitialResponse, with and without a response', () => {
    expect(encode((w) => writeSASLInitialResponse(w, 'SCRAM-SHA-256', bytes(...ascii('n,,'))))).toEqual(bytes(
      0x70,                   // Byte1('p')  SASLInitialResponse
      0x00, 0x00, 0x00, 0x19, // Int32(25)   length
      ...ascii('SCRAM-SHA-256'), 0x00, // String mechanism
      0x00, 0x00, 0x00, 0x03, // Int32(3)    response length
      ...ascii('n,,'),        // Byte3       client-first-message
    ))
    expect(encode((w) => writeSASLInitialResponse(w, 'X', null))).toEqual(bytes(
      0x70,                   // Byte1('p')
      0x00, 0x00, 0x00, 0x0a, // Int32(10)   length
      0x58, 0x00,             // String      "X"
      0xff, 0xff, 0xff, 0xff, // Int32(-1)   no initial response
    ))
  })

  test('SASLResponse', () => {
    expect(encode((w) => writeSASLResponse(w, bytes(...ascii('c=biws'))))).toEqual(bytes(
      0x70,                   // Byte1('p')  SASLResponse
      0x00, 0x00, 0x00, 0x0a, // Int32(10)   length
      ...ascii('c=biws'),     // Byte6       client-final-message (no NUL)
    ))
  })

  test('Query, in UTF-8', () => {
    expect(encode((w) => writeQuery(w, "SELECT 'é'"))).toEqual(bytes(
      0x51,                   // Byte1('Q')  Query
      0x00, 0x00, 0x00, 0x10, // Int32(16)   length
      ...ascii("SELECT '"), 0xc3, 0xa9, ...ascii("'"), 0x00, // String query
    ))
    expect(() => encode((w) => writeQuery(w, 'SELECT 1\0; DROP TABLE t'))).toThrow(RangeError)
    // A lone surrogate would be sent as U+FFFD (EF BF BD), quietly another text than the one given.
    expect(() => encode((w) => writeQuery(w, "SELECT '\ud800'"))).toThrow(new RangeError('a query must not contain a lone surrogate, which has no UTF-8'))
    expect(() => encode((w) => writeStartupMessage(w, protocol32, { application_name: 'x\udc00' }))).toThrow(RangeError)
  })

  test('CopyFail', () => {
    expect(encode((w) => writeCopyFail(w, 'no'))).toEqual(bytes(
      0x66,                   // Byte1('f')  CopyFail
      0x00, 0x00, 0x00, 0x07, // Int32(7)    length
      ...ascii('no'), 0x00,   // String      reason
    ))
  })

  test('Terminate', () => {
    expect(terminate).toEqual(bytes(
      0x58,                   // Byte1('X')  Terminate
      0x00, 0x00, 0x00, 0x04, // Int32(4)    length
    ))
  })

  test('several messages append to one writer, for one write', () => {
    const w = new ByteWriter(1)
    writeQuery(w, 'A')
    writeQuery(w, 'B')
    expect(w.toBytes()).toEqual(bytes(0x51, 0, 0, 0, 6, 0x41, 0, 0x51, 0, 0, 0, 6, 0x42, 0))
  })
})
