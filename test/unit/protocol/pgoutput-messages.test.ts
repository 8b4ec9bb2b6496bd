/**
 * pgoutput's messages, one literal byte vector at least for each ("Logical Replication Message
 * Formats" in the protocol docs), commented per field: each is decoded by decodePgoutput and
 * compared with the message expected, and built again by the independent test builder
 * (test/support/pgoutput-bytes.ts), which must give back the same bytes.
 */
import { describe, expect, test } from 'vitest'
import { BodyReader } from '../../../src/protocol/bytes/reader.ts'
import { decodePgoutput, type PgoutputContext } from '../../../src/protocol/replication/pgoutput/decode.ts'
import { unchangedToast, type PgoutputMessage } from '../../../src/protocol/replication/pgoutput-messages.ts'
import { contextOf, pgoutputBytes } from '../../support/pgoutput-bytes.ts'
import { ascii, bytes, utf8 } from '../../support/wire.ts'

const outside: PgoutputContext = { inStream: false, parallelAbort: false }
const inStream: PgoutputContext = { inStream: true, parallelAbort: false }

function decode(wire: Uint8Array, context: PgoutputContext = outside): PgoutputMessage {
  return decodePgoutput(new BodyReader().reset(wire, 0, wire.length), context)
}

/** Decodes `wire` to exactly `expected`, and the test builder writes `expected` as exactly `wire`. */
function agree(wire: Uint8Array, expected: PgoutputMessage, context: PgoutputContext = contextOf(expected)): void {
  expect(decode(wire, context)).toStrictEqual(expected)
  expect(pgoutputBytes(expected)).toEqual(wire)
}

// Values reused below. 16/B374D8F0 is an LSN; 849748982345678 µs after 2000-01-01 is
// 2026-12-05 01:23:02.345678 UTC.
const commitTime = 849_748_982_345_678n

describe('the transaction frame', () => {
  test('Begin', () => {
    agree(bytes(
      ...ascii('B'),                                  // Byte1('B')  Begin
      0x00, 0x00, 0x00, 0x16, 0xb3, 0x74, 0xd8, 0xf0, // Int64       final LSN 16/B374D8F0, of the commit record
      0x00, 0x03, 0x04, 0xd7, 0x9a, 0x3d, 0xaf, 0xce, // Int64       commit time, µs since 2000-01-01: 2026-12-05 01:23:02.345678
      0x00, 0x00, 0x02, 0xdb,                         // Int32(731)  xid
    ), { type: 'Begin', finalLsn: 0x16_b374_d8f0n, commitTime, xid: 731 })
  })

  test('Begin with an xid past 2^31, an LSN past 2^53 and a time before 2000', () => {
    agree(bytes(
      ...ascii('B'),                                  // Byte1('B')  Begin
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, // Int64       final LSN FFFFFFFF/FFFFFFFE: unsigned, not -2
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfc, 0x18, // Int64(-1000) commit time: 1999-12-31 23:59:59.999
      0xff, 0xff, 0xff, 0xfe,                         // Int32       xid 4294967294: unsigned, not -2
    ), { type: 'Begin', finalLsn: 2n ** 64n - 2n, commitTime: -1000n, xid: 4_294_967_294 })
  })

  test('Commit', () => {
    agree(bytes(
      ...ascii('C'),                                  // Byte1('C')  Commit
      0x00,                                           // Int8(0)     flags, unused
      0x00, 0x00, 0x00, 0x16, 0xb3, 0x74, 0xd8, 0xf0, // Int64       commit LSN 16/B374D8F0: the Begin's final LSN
      0x00, 0x00, 0x00, 0x16, 0xb3, 0x74, 0xd9, 0x20, // Int64       end LSN 16/B374D920: what to confirm once applied
      0x00, 0x03, 0x04, 0xd7, 0x9a, 0x3d, 0xaf, 0xce, // Int64       commit time
    ), { type: 'Commit', commitLsn: 0x16_b374_d8f0n, endLsn: 0x16_b374_d920n, commitTime })
  })

  test('Origin', () => {
    agree(bytes(
      ...ascii('O'),                                  // Byte1('O')  Origin
      0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x28, // Int64       commit LSN on the origin server, 1/28
      ...ascii('pg_16389'), 0x00,                     // String      origin name
    ), { type: 'Origin', commitLsn: 0x1_0000_0028n, name: 'pg_16389' })
  })

  test('Origin after a Stream Start: LSN 0 is accepted, and a name may be empty', () => {
    agree(bytes(
      ...ascii('O'),                                  // Byte1('O')  Origin
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // Int64       commit LSN: 0, as pgoutput_stream_start sends it
      0x00,                                           // String      origin name, empty
    ), { type: 'Origin', commitLsn: 0n, name: '' })
  })
})

describe('Message', () => {
  const content = [...ascii('hi'), 0x00, 0xff] // bytes, not text: a NUL and a byte that is no UTF-8

  test('transactional', () => {
    agree(bytes(
      ...ascii('M'),                                  // Byte1('M')  Message
      0x01,                                           // Int8        flags: 1, transactional
      0x00, 0x00, 0x00, 0x16, 0xb3, 0x74, 0xd8, 0x60, // Int64       LSN of the message, 16/B374D860
      ...ascii('audit'), 0x00,                        // String      prefix
      0x00, 0x00, 0x00, 0x04,                         // Int32(4)    content length
      ...content,                                     // Byte4       content
    ), { type: 'Message', transactional: true, lsn: 0x16_b374_d860n, prefix: 'audit', content: Uint8Array.from(content) })
  })

  test('not transactional, empty', () => {
    agree(bytes(
      ...ascii('M'),                                  // Byte1('M')  Message
      0x00,                                           // Int8        flags: 0, sent at once
      0x00, 0x00, 0x00, 0x16, 0xb3, 0x74, 0xd8, 0x60, // Int64       LSN of the message
      0x00,                                           // String      prefix, empty
      0x00, 0x00, 0x00, 0x00,                         // Int32(0)    content length
    ), { type: 'Message', transactional: false, lsn: 0x16_b374_d860n, prefix: '', content: new Uint8Array(0) })
  })

  test('inside a stream, with the xid of its transaction', () => {
    agree(bytes(
      ...ascii('M'),                                  // Byte1('M')  Message
      0x00, 0x00, 0x03, 0x20,                         // Int32(800)  xid, inside a stream only
      0x01,                                           // Int8        flags: transactional
      0x00, 0x00, 0x00, 0x16, 0xb3, 0x74, 0xd8, 0x60, // Int64       LSN of the message
      ...utf8('journal·é'), 0x00,                     // String      prefix, UTF-8
      0x00, 0x00, 0x00, 0x01,                         // Int32(1)    content length
      0x2a,                                           // Byte1       content
    ), { type: 'Message', xid: 800, transactional: true, lsn: 0x16_b374_d860n, prefix: 'journal·é', content: bytes(0x2a) })
  })

  test.each([
    [0x02, false], // bit 2 alone: not transactional
    [0x03, true],
    [0xff, true],
  ])('flags %i: only bit 1 says transactional (%s)', (flags, transactional) => {
    const wire = bytes(...ascii('M'), flags, 0, 0, 0, 0, 0, 0, 0, 1, 0x00, 0, 0, 0, 0)
    expect(decode(wire)).toMatchObject({ type: 'Message', transactional })
  })
})

describe('Relation and Type', () => {
  const relation = bytes(
    ...ascii('R'),                                  // Byte1('R')  Relation
    0x00, 0x00, 0x40, 0x05,                         // Int32       relation OID 16389
    ...ascii('public'), 0x00,                       // String      namespace
    ...ascii('jobs'), 0x00,                         // String      relation name
    ...ascii('d'),                                  // Int8        replica identity: default (the primary key)
    0x00, 0x03,                                     // Int16(3)    columns
    0x01,                                           //   Int8      flags: 1, part of the key
    ...ascii('id'), 0x00,                           //   String    name
    0x00, 0x00, 0x00, 0x14,                         //   Int32(20) type OID: int8
    0xff, 0xff, 0xff, 0xff,                         //   Int32(-1) type modifier: none
    0x00,                                           //   Int8      flags: 0
    ...ascii('title'), 0x00,                        //   String    name
    0x00, 0x00, 0x04, 0x13,                         //   Int32(1043) type OID: varchar
    0x00, 0x00, 0x00, 0x44,                         //   Int32(68) type modifier: varchar(64), 64 + 4
    0x00,                                           //   Int8      flags: 0
    ...ascii('done_at'), 0x00,                      //   String    name
    0x00, 0x00, 0x04, 0xa0,                         //   Int32(1184) type OID: timestamptz
    0xff, 0xff, 0xff, 0xff,                         //   Int32(-1) type modifier
  )
  const described = {
    type: 'Relation', relationOid: 16389, namespace: 'public', relationName: 'jobs', replicaIdentity: 'd',
    columns: [
      { flags: 1, isKey: true, name: 'id', typeOid: 20, typeModifier: -1 },
      { flags: 0, isKey: false, name: 'title', typeOid: 1043, typeModifier: 68 },
      { flags: 0, isKey: false, name: 'done_at', typeOid: 1184, typeModifier: -1 },
    ],
  } as const

  test('Relation', () => {
    agree(relation, described)
  })

  test('Relation, decoded twice with one reader: interned names come back the same', () => {
    const reader = new BodyReader()
    const first = decodePgoutput(reader.reset(relation, 0, relation.length), outside)
    const second = decodePgoutput(reader.reset(relation, 0, relation.length), outside)
    expect(second).toStrictEqual(first)
    expect(second).toStrictEqual(described)
  })

  test('Relation in pg_catalog (empty namespace, left as sent), REPLICA IDENTITY FULL, an OID past 2^31, no columns', () => {
    agree(bytes(
      ...ascii('R'),                                  // Byte1('R')  Relation
      0x80, 0x00, 0x00, 0x01,                         // Int32       relation OID 2147483649: unsigned
      0x00,                                           // String      namespace: empty, for pg_catalog
      ...ascii('t'), 0x00,                            // String      relation name
      ...ascii('f'),                                  // Int8        replica identity: full
      0x00, 0x00,                                     // Int16(0)    columns
    ), { type: 'Relation', relationOid: 2_147_483_649, namespace: '', relationName: 't', replicaIdentity: 'f', columns: [] })
  })

  test.each(['n', 'i'] as const)('replica identity %s', (identity) => {
    const wire = bytes(...ascii('R'), 0, 0, 0, 1, 0x00, ...ascii('t'), 0x00, ...ascii(identity), 0x00, 0x00)
    expect(decode(wire)).toMatchObject({ type: 'Relation', replicaIdentity: identity })
  })

  test('column flags: only bit 1 marks a key column; a type OID past 2^31 stays unsigned', () => {
    const column = (flags: number) => [
      flags,                                        //   Int8      flags
      ...ascii('c'), 0x00,                          //   String    name
      0xff, 0xff, 0xff, 0xff,                       //   Int32     type OID 4294967295
      0x80, 0x00, 0x00, 0x00,                       //   Int32     type modifier -2147483648
    ]
    const wire = bytes(...ascii('R'), 0, 0, 0, 1, 0x00, ...ascii('t'), 0x00, ...ascii('d'), 0x00, 0x03, ...column(0x02), ...column(0x03), ...column(0xfe))
    expect(decode(wire)).toMatchObject({
      columns: [
        { flags: 0x02, isKey: false, name: 'c', typeOid: 4_294_967_295, typeModifier: -2_147_483_648 },
        { flags: 0x03, isKey: true },
        { flags: 0xfe, isKey: false },
      ],
    })
  })

  test('Relation inside a stream, with the xid of its (sub)transaction', () => {
    agree(bytes(
      ...ascii('R'),                                  // Byte1('R')  Relation
      0x00, 0x00, 0x03, 0x21,                         // Int32(801)  xid, inside a stream only
      0x00, 0x00, 0x40, 0x05,                         // Int32       relation OID 16389
      ...ascii('public'), 0x00,                       // String      namespace
      ...utf8('tâches'), 0x00,                        // String      relation name, UTF-8
      ...ascii('i'),                                  // Int8        replica identity: an index
      0x00, 0x01,                                     // Int16(1)    columns
      0x01, ...ascii('id'), 0x00,                     //   Int8 flags, String name
      0x00, 0x00, 0x00, 0x17, 0xff, 0xff, 0xff, 0xff, //   Int32(23) int4, Int32(-1) type modifier
    ), {
      type: 'Relation', xid: 801, relationOid: 16389, namespace: 'public', relationName: 'tâches', replicaIdentity: 'i',
      columns: [{ flags: 1, isKey: true, name: 'id', typeOid: 23, typeModifier: -1 }],
    })
  })

  test('Type', () => {
    agree(bytes(
      ...ascii('Y'),                                  // Byte1('Y')  Type
      0x00, 0x00, 0x40, 0x10,                         // Int32       type OID 16400
      ...ascii('public'), 0x00,                       // String      namespace
      ...ascii('mood'), 0x00,                         // String      type name
    ), { type: 'Type', typeOid: 16400, namespace: 'public', typeName: 'mood' })
  })

  test('Type inside a stream; a pg_catalog base type of a domain (OID past 2^31)', () => {
    agree(bytes(
      ...ascii('Y'),                                  // Byte1('Y')  Type
      0x00, 0x00, 0x03, 0x20,                         // Int32(800)  xid, inside a stream only
      0x80, 0x00, 0x00, 0x00,                         // Int32       type OID 2147483648: the domain's
      0x00,                                           // String      namespace: empty, pg_catalog (the base type's)
      ...ascii('text'), 0x00,                         // String      type name: the base type's
    ), { type: 'Type', xid: 800, typeOid: 2_147_483_648, namespace: '', typeName: 'text' })
  })
})
