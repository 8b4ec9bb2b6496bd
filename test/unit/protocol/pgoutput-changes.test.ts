/**
 * pgoutput's row changes (Insert, Update, Delete, Truncate) and the TupleData inside them, as
 * literal byte vectors commented per field, decoded by decodePgoutput and built again by the
 * independent test builder; then the same changes inside a stream, with their xid.
 */
import { describe, expect, test } from 'vitest'
import { BodyReader } from '../../../src/protocol/bytes/reader.ts'
import { decodePgoutput, type PgoutputContext } from '../../../src/protocol/replication/pgoutput/decode.ts'
import { unchangedToast, type PgoutputMessage } from '../../../src/protocol/replication/pgoutput-messages.ts'
import { contextOf, pgoutputBytes } from '../../support/pgoutput-bytes.ts'
import { ascii, bytes, utf8 } from '../../support/wire.ts'

const outside: PgoutputContext = { inStream: false, parallelAbort: false }

function decode(wire: Uint8Array, context: PgoutputContext = outside): PgoutputMessage {
  return decodePgoutput(new BodyReader().reset(wire, 0, wire.length), context)
}

/** Decodes `wire` to exactly `expected`, and the test builder writes `expected` as exactly `wire`. */
function agree(wire: Uint8Array, expected: PgoutputMessage): void {
  expect(decode(wire, contextOf(expected))).toStrictEqual(expected)
  expect(pgoutputBytes(expected)).toEqual(wire)
}

describe('Insert and its TupleData', () => {
  test('every kind of column: text (UTF-8), null, binary, and text again', () => {
    agree(bytes(
      ...ascii('I'),                                  // Byte1('I')  Insert
      0x00, 0x00, 0x40, 0x05,                         // Int32       relation OID 16389
      ...ascii('N'),                                  // Byte1('N')  a new tuple follows
      0x00, 0x04,                                     // Int16(4)    columns
      ...ascii('t'), 0x00, 0x00, 0x00, 0x02,          //   Byte1('t') text, Int32(2) length
      ...ascii('42'),                                 //   Byte2     value
      ...ascii('n'),                                  //   Byte1('n') null
      ...ascii('b'), 0x00, 0x00, 0x00, 0x03,          //   Byte1('b') binary, Int32(3) length
      0x00, 0x01, 0xff,                               //   Byte3     value, the type's send format
      ...ascii('t'), 0x00, 0x00, 0x00, 0x07,          //   Byte1('t') text, Int32(7) length: bytes, not characters
      ...utf8('Grüße'),                               //   Byte7     value, UTF-8
    ), { type: 'Insert', relationOid: 16389, newTuple: ['42', null, bytes(0x00, 0x01, 0xff), 'Grüße'] })
  })

  test('empty text and binary values, and a tuple of no columns', () => {
    agree(bytes(
      ...ascii('I'),                                  // Byte1('I')  Insert
      0x00, 0x00, 0x40, 0x05,                         // Int32       relation OID
      ...ascii('N'),                                  // Byte1('N')  new tuple
      0x00, 0x02,                                     // Int16(2)    columns
      ...ascii('t'), 0x00, 0x00, 0x00, 0x00,          //   Byte1('t') text, Int32(0): ''
      ...ascii('b'), 0x00, 0x00, 0x00, 0x00,          //   Byte1('b') binary, Int32(0): no bytes
    ), { type: 'Insert', relationOid: 16389, newTuple: ['', new Uint8Array(0)] })
    agree(bytes(...ascii('I'), 0x00, 0x00, 0x40, 0x05, ...ascii('N'), 0x00, 0x00), { type: 'Insert', relationOid: 16389, newTuple: [] })
  })

  test('a tuple of nulls alone: one byte a column, to the body\'s last byte', () => {
    agree(bytes(
      ...ascii('I'),                                  // Byte1('I')  Insert
      0xff, 0xff, 0xff, 0xf0,                         // Int32       relation OID 4294967280: unsigned
      ...ascii('N'),                                  // Byte1('N')  new tuple
      0x00, 0x03,                                     // Int16(3)    columns
      ...ascii('nnn'),                                //   Byte1('n') × 3
    ), { type: 'Insert', relationOid: 4_294_967_280, newTuple: [null, null, null] })
  })

  test('a binary value is a copy: it does not change when the buffer it came from does', () => {
    const wire = bytes(...ascii('I'), 0, 0, 0, 1, ...ascii('N'), 0x00, 0x01, ...ascii('b'), 0, 0, 0, 1, 0x07)
    const message = decode(wire)
    wire[wire.length - 1] = 0x08
    expect(message).toStrictEqual({ type: 'Insert', relationOid: 1, newTuple: [bytes(0x07)] })
  })
})

describe('Update', () => {
  test('no old tuple (the key did not change); an unchanged TOAST value is marked, not undefined', () => {
    const message = decode(bytes(
      ...ascii('U'),                                  // Byte1('U')  Update
      0x00, 0x00, 0x40, 0x05,                         // Int32       relation OID 16389
      ...ascii('N'),                                  // Byte1('N')  new tuple
      0x00, 0x03,                                     // Int16(3)    columns
      ...ascii('t'), 0x00, 0x00, 0x00, 0x01, ...ascii('7'), // Byte1('t') Int32(1) '7'
      ...ascii('u'),                                  //   Byte1('u') unchanged TOASTed value, not sent
      ...ascii('n'),                                  //   Byte1('n') null
    ))
    expect(message).toStrictEqual({ type: 'Update', relationOid: 16389, newTuple: ['7', unchangedToast, null] })
    expect('oldKind' in message).toBe(false)
    expect('oldTuple' in message).toBe(false)
    expect(pgoutputBytes(message)).toEqual(bytes(...ascii('U'), 0, 0, 0x40, 0x05, ...ascii('N'), 0, 3, ...ascii('t'), 0, 0, 0, 1, ...ascii('7'), ...ascii('u'), ...ascii('n')))
  })

  test("the key changed: 'K' and the old key's columns (the rest null)", () => {
    agree(bytes(
      ...ascii('U'),                                  // Byte1('U')  Update
      0x00, 0x00, 0x40, 0x05,                         // Int32       relation OID
      ...ascii('K'),                                  // Byte1('K')  the old key follows
      0x00, 0x02,                                     // Int16(2)    columns
      ...ascii('t'), 0x00, 0x00, 0x00, 0x01, ...ascii('1'), // Byte1('t') Int32(1) '1': the key column
      ...ascii('n'),                                  //   Byte1('n') not part of the key
      ...ascii('N'),                                  // Byte1('N')  new tuple
      0x00, 0x02,                                     // Int16(2)    columns
      ...ascii('t'), 0x00, 0x00, 0x00, 0x01, ...ascii('2'), // Byte1('t') Int32(1) '2'
      ...ascii('t'), 0x00, 0x00, 0x00, 0x01, ...ascii('x'), // Byte1('t') Int32(1) 'x'
    ), { type: 'Update', relationOid: 16389, oldKind: 'K', oldTuple: ['1', null], newTuple: ['2', 'x'] })
  })

  test("REPLICA IDENTITY FULL: 'O' and the whole old row", () => {
    agree(bytes(
      ...ascii('U'),                                  // Byte1('U')  Update
      0x00, 0x00, 0x40, 0x05,                         // Int32       relation OID
      ...ascii('O'),                                  // Byte1('O')  the old tuple follows
      0x00, 0x02,                                     // Int16(2)    columns
      ...ascii('t'), 0x00, 0x00, 0x00, 0x01, ...ascii('1'), // Byte1('t') Int32(1) '1'
      ...ascii('t'), 0x00, 0x00, 0x00, 0x01, ...ascii('a'), // Byte1('t') Int32(1) 'a'
      ...ascii('N'),                                  // Byte1('N')  new tuple
      0x00, 0x02,                                     // Int16(2)    columns
      ...ascii('t'), 0x00, 0x00, 0x00, 0x01, ...ascii('1'), // Byte1('t') Int32(1) '1'
      ...ascii('n'),                                  //   Byte1('n') null
    ), { type: 'Update', relationOid: 16389, oldKind: 'O', oldTuple: ['1', 'a'], newTuple: ['1', null] })
  })
})

describe('Delete', () => {
  test("'K': the key of the deleted row", () => {
    agree(bytes(
      ...ascii('D'),                                  // Byte1('D')  Delete
      0x00, 0x00, 0x40, 0x05,                         // Int32       relation OID 16389
      ...ascii('K'),                                  // Byte1('K')  the key follows
      0x00, 0x02,                                     // Int16(2)    columns
      ...ascii('t'), 0x00, 0x00, 0x00, 0x01, ...ascii('9'), // Byte1('t') Int32(1) '9'
      ...ascii('n'),                                  //   Byte1('n') not part of the key
    ), { type: 'Delete', relationOid: 16389, oldKind: 'K', oldTuple: ['9', null] })
  })

  test("'O': the whole deleted row (REPLICA IDENTITY FULL)", () => {
    agree(bytes(
      ...ascii('D'),                                  // Byte1('D')  Delete
      0x00, 0x00, 0x40, 0x05,                         // Int32       relation OID
      ...ascii('O'),                                  // Byte1('O')  the old tuple follows
      0x00, 0x01,                                     // Int16(1)    columns
      ...ascii('t'), 0x00, 0x00, 0x00, 0x02, ...ascii('ok'), // Byte1('t') Int32(2) 'ok'
    ), { type: 'Delete', relationOid: 16389, oldKind: 'O', oldTuple: ['ok'] })
  })
})

describe('Truncate', () => {
  test('two tables, CASCADE and RESTART IDENTITY', () => {
    agree(bytes(
      ...ascii('T'),                                  // Byte1('T')  Truncate
      0x00, 0x00, 0x00, 0x02,                         // Int32(2)    relations
      0x03,                                           // Int8        options: 1 CASCADE | 2 RESTART IDENTITY
      0x00, 0x00, 0x40, 0x05,                         // Int32       relation OID 16389
      0xff, 0xff, 0xff, 0xfe,                         // Int32       relation OID 4294967294: unsigned
    ), { type: 'Truncate', cascade: true, restartIdentity: true, relationOids: [16389, 4_294_967_294] })
  })

  test.each([
    [0x00, false, false],
    [0x01, true, false],
    [0x02, false, true],
    [0xfc, false, false], // bits beyond the two defined are ignored, as proto.c ignores them
    [0xfd, true, false],
    [0xfe, false, true],
  ])('options %i: cascade %s, restart identity %s', (options, cascade, restartIdentity) => {
    const wire = bytes(
      ...ascii('T'),                                  // Byte1('T')  Truncate
      0x00, 0x00, 0x00, 0x01,                         // Int32(1)    relations
      options,                                        // Int8        options
      0x00, 0x00, 0x40, 0x05,                         // Int32       relation OID
    )
    expect(decode(wire)).toStrictEqual({ type: 'Truncate', cascade, restartIdentity, relationOids: [16389] })
  })

  test('no tables at all', () => {
    agree(bytes(...ascii('T'), 0, 0, 0, 0, 0x00), { type: 'Truncate', cascade: false, restartIdentity: false, relationOids: [] })
  })
})

describe('inside a stream, a change carries the xid of its (sub)transaction first', () => {
  const xid = [0x80, 0x00, 0x03, 0x20]               // Int32       xid 2147484448: unsigned
  const changes: [string, number[], PgoutputMessage][] = [
    ['Insert', [...ascii('I'), ...xid, 0, 0, 0x40, 0x05, ...ascii('N'), 0, 1, ...ascii('n')],
      { type: 'Insert', xid: 2_147_484_448, relationOid: 16389, newTuple: [null] }],
    ['Update', [...ascii('U'), ...xid, 0, 0, 0x40, 0x05, ...ascii('N'), 0, 1, ...ascii('u')],
      { type: 'Update', xid: 2_147_484_448, relationOid: 16389, newTuple: [unchangedToast] }],
    ['Update with a key', [...ascii('U'), ...xid, 0, 0, 0x40, 0x05, ...ascii('K'), 0, 1, ...ascii('n'), ...ascii('N'), 0, 1, ...ascii('n')],
      { type: 'Update', xid: 2_147_484_448, relationOid: 16389, oldKind: 'K', oldTuple: [null], newTuple: [null] }],
    ['Delete', [...ascii('D'), ...xid, 0, 0, 0x40, 0x05, ...ascii('O'), 0, 1, ...ascii('n')],
      { type: 'Delete', xid: 2_147_484_448, relationOid: 16389, oldKind: 'O', oldTuple: [null] }],
    ['Truncate', [...ascii('T'), ...xid, 0, 0, 0, 1, 0x01, 0, 0, 0x40, 0x05],
      { type: 'Truncate', xid: 2_147_484_448, cascade: true, restartIdentity: false, relationOids: [16389] }],
  ]

  test.each(changes)('%s', (_, wire, expected) => {
    agree(Uint8Array.from(wire), expected)
  })

  test.each(changes)('%s, outside a stream: no xid read, and no xid key', (_, wire, expected) => {
    const { xid: _xid, ...unstreamed } = expected as PgoutputMessage & { xid: number }
    const message = decode(Uint8Array.from([...wire.slice(0, 1), ...wire.slice(5)]))
    expect(message).toStrictEqual(unstreamed)
    expect('xid' in message).toBe(false)
  })
})
