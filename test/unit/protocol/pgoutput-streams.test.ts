/**
 * pgoutput's streaming messages (protocol 2: Stream Start, Stop, Commit, Abort; protocol 4: the
 * abort LSN and time) and two-phase messages (protocol 3: Begin Prepare, Prepare, Commit
 * Prepared, Rollback Prepared, Stream Prepare), as literal byte vectors commented per field,
 * decoded by decodePgoutput and built again by the independent test builder.
 */
import { describe, expect, test } from 'vitest'
import { BodyReader } from '../../../src/protocol/bytes/reader.ts'
import { ProtocolViolationError } from '../../../src/protocol/errors.ts'
import { decodePgoutput, type PgoutputContext } from '../../../src/protocol/replication/pgoutput/decode.ts'
import type { PgoutputMessage } from '../../../src/protocol/replication/pgoutput-messages.ts'
import { contextOf, pgoutputBytes } from '../../support/pgoutput-bytes.ts'
import { ascii, bytes } from '../../support/wire.ts'

function decode(wire: Uint8Array, context: PgoutputContext): PgoutputMessage {
  return decodePgoutput(new BodyReader().reset(wire, 0, wire.length), context)
}

/** Decodes `wire` to exactly `expected` in `context`, and the test builder writes `expected` as exactly `wire`. */
function agree(wire: Uint8Array, expected: PgoutputMessage, context: PgoutputContext = contextOf(expected)): void {
  expect(decode(wire, context)).toStrictEqual(expected)
  expect(pgoutputBytes(expected)).toEqual(wire)
}

const everyContext: PgoutputContext[] = [
  { inStream: false, parallelAbort: false },
  { inStream: true, parallelAbort: false },
  { inStream: false, parallelAbort: true },
  { inStream: true, parallelAbort: true },
]

const commitTime = 849_748_982_345_678n // 2026-12-05 01:23:02.345678 UTC

describe('streaming (protocol 2)', () => {
  test.each(everyContext)('Stream Start, first segment, decoded the same in any context (%o)', (context) => {
    agree(bytes(
      ...ascii('S'),                                  // Byte1('S')  Stream Start
      0x00, 0x00, 0x03, 0x20,                         // Int32(800)  xid of the top-level transaction
      0x01,                                           // Int8        1: the first segment of this xid
    ), { type: 'StreamStart', xid: 800, firstSegment: true }, context)
  })

  test.each([
    [0x00, false],
    [0x02, false], // only 1 means first, as in logicalrep_read_stream_start
    [0xff, false],
  ])('Stream Start with %i: first segment %s', (flag, firstSegment) => {
    expect(decode(bytes(
      ...ascii('S'),                                  // Byte1('S')  Stream Start
      0xff, 0xff, 0xff, 0xff,                         // Int32       xid 4294967295: unsigned
      flag,                                           // Int8        first segment?
    ), { inStream: false, parallelAbort: false })).toStrictEqual({ type: 'StreamStart', xid: 4_294_967_295, firstSegment })
  })

  test.each(everyContext)('Stream Stop (%o)', (context) => {
    agree(bytes(
      ...ascii('E'),                                  // Byte1('E')  Stream Stop, nothing more
    ), { type: 'StreamStop' }, context)
  })

  test('Stream Commit', () => {
    agree(bytes(
      ...ascii('c'),                                  // Byte1('c')  Stream Commit
      0x00, 0x00, 0x03, 0x20,                         // Int32(800)  xid
      0x00,                                           // Int8(0)     flags, unused
      0x00, 0x00, 0x00, 0x16, 0xb3, 0x74, 0xd8, 0xf0, // Int64       commit LSN 16/B374D8F0
      0x00, 0x00, 0x00, 0x16, 0xb3, 0x74, 0xd9, 0x20, // Int64       end LSN 16/B374D920
      0x00, 0x03, 0x04, 0xd7, 0x9a, 0x3d, 0xaf, 0xce, // Int64       commit time
    ), { type: 'StreamCommit', xid: 800, commitLsn: 0x16_b374_d8f0n, endLsn: 0x16_b374_d920n, commitTime })
  })

  const abort = [
    ...ascii('A'),                                    // Byte1('A')  Stream Abort
    0x00, 0x00, 0x03, 0x20,                           // Int32(800)  xid of the top-level transaction
    0x80, 0x00, 0x03, 0x22,                           // Int32       subxid 2147484450: the aborted subtransaction
  ]
  const parallel = [
    0x00, 0x00, 0x00, 0x16, 0xb3, 0x74, 0xd9, 0x40,   // Int64       abort LSN 16/B374D940
    0x00, 0x03, 0x04, 0xd7, 0x9a, 0x3d, 0xaf, 0xce,   // Int64       abort time
  ]

  test('Stream Abort, streaming on (protocols 2 to 4): two xids and nothing more', () => {
    agree(bytes(...abort), { type: 'StreamAbort', xid: 800, subxid: 2_147_484_450 }, { inStream: false, parallelAbort: false })
  })

  test('Stream Abort of a whole transaction: subxid = xid', () => {
    agree(bytes(...ascii('A'), 0, 0, 3, 0x20, 0, 0, 3, 0x20), { type: 'StreamAbort', xid: 800, subxid: 800 })
  })

  test('Stream Abort, streaming parallel (protocol 4): with the abort LSN and time', () => {
    agree(bytes(...abort, ...parallel), {
      type: 'StreamAbort', xid: 800, subxid: 2_147_484_450, abortLsn: 0x16_b374_d940n, abortTime: commitTime,
    }, { inStream: false, parallelAbort: true })
  })

  test('Stream Abort: nothing in the bytes says whether the parallel fields are there; the context decides', () => {
    expect(() => decode(bytes(...abort, ...parallel), { inStream: false, parallelAbort: false }))
      .toThrow(new ProtocolViolationError('StreamAbort: 16 unexpected trailing bytes'))
    expect(() => decode(bytes(...abort), { inStream: false, parallelAbort: true }))
      .toThrow(new ProtocolViolationError('StreamAbort abort LSN: the message ends too early'))
    expect(() => decode(bytes(...abort, ...parallel.slice(0, 8)), { inStream: false, parallelAbort: true }))
      .toThrow(new ProtocolViolationError('StreamAbort abort time: the message ends too early'))
  })

  test('outside Stream Abort, parallel streaming changes nothing', () => {
    const begin = bytes(...ascii('B'), 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 3)
    expect(decode(begin, { inStream: false, parallelAbort: true })).toStrictEqual({ type: 'Begin', finalLsn: 1n, commitTime: 2n, xid: 3 })
  })
})

describe('two-phase commit (protocol 3)', () => {
  const gid = [...ascii('tx-42'), 0x00]                // String      the GID given to PREPARE TRANSACTION

  test('Begin Prepare', () => {
    agree(bytes(
      ...ascii('b'),                                  // Byte1('b')  Begin Prepare
      0x00, 0x00, 0x00, 0x16, 0xb3, 0x74, 0xd8, 0xf0, // Int64       prepare LSN 16/B374D8F0
      0x00, 0x00, 0x00, 0x16, 0xb3, 0x74, 0xd9, 0x20, // Int64       end LSN 16/B374D920
      0x00, 0x03, 0x04, 0xd7, 0x9a, 0x3d, 0xaf, 0xce, // Int64       prepare time
      0x00, 0x00, 0x03, 0x20,                         // Int32(800)  xid
      ...gid,                                         // String      GID
    ), { type: 'BeginPrepare', prepareLsn: 0x16_b374_d8f0n, endLsn: 0x16_b374_d920n, prepareTime: commitTime, xid: 800, gid: 'tx-42' })
  })

  test('Prepare', () => {
    agree(bytes(
      ...ascii('P'),                                  // Byte1('P')  Prepare
      0x00,                                           // Int8(0)     flags, unused
      0x00, 0x00, 0x00, 0x16, 0xb3, 0x74, 0xd8, 0xf0, // Int64       prepare LSN
      0x00, 0x00, 0x00, 0x16, 0xb3, 0x74, 0xd9, 0x20, // Int64       end LSN
      0x00, 0x03, 0x04, 0xd7, 0x9a, 0x3d, 0xaf, 0xce, // Int64       prepare time
      0xff, 0xff, 0xff, 0xfd,                         // Int32       xid 4294967293: unsigned
      ...gid,                                         // String      GID
    ), { type: 'Prepare', prepareLsn: 0x16_b374_d8f0n, endLsn: 0x16_b374_d920n, prepareTime: commitTime, xid: 4_294_967_293, gid: 'tx-42' })
  })

  test('Stream Prepare: Prepare\'s grammar under another type byte', () => {
    agree(bytes(
      ...ascii('p'),                                  // Byte1('p')  Stream Prepare
      0x00,                                           // Int8(0)     flags, unused
      0x00, 0x00, 0x00, 0x16, 0xb3, 0x74, 0xd8, 0xf0, // Int64       prepare LSN
      0x00, 0x00, 0x00, 0x16, 0xb3, 0x74, 0xd9, 0x20, // Int64       end LSN
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // Int64(-1)   prepare time: 1999-12-31 23:59:59.999999
      0x00, 0x00, 0x03, 0x20,                         // Int32(800)  xid
      0x00,                                           // String      GID, empty
    ), { type: 'StreamPrepare', prepareLsn: 0x16_b374_d8f0n, endLsn: 0x16_b374_d920n, prepareTime: -1n, xid: 800, gid: '' })
  })

  test('Commit Prepared', () => {
    agree(bytes(
      ...ascii('K'),                                  // Byte1('K')  Commit Prepared
      0x00,                                           // Int8(0)     flags, unused
      0x00, 0x00, 0x00, 0x16, 0xb3, 0x74, 0xda, 0x00, // Int64       commit LSN 16/B374DA00
      0x00, 0x00, 0x00, 0x16, 0xb3, 0x74, 0xda, 0x30, // Int64       end LSN 16/B374DA30
      0x00, 0x03, 0x04, 0xd7, 0x9a, 0x3d, 0xaf, 0xce, // Int64       commit time
      0x00, 0x00, 0x03, 0x20,                         // Int32(800)  xid
      ...gid,                                         // String      GID
    ), { type: 'CommitPrepared', commitLsn: 0x16_b374_da00n, endLsn: 0x16_b374_da30n, commitTime, xid: 800, gid: 'tx-42' })
  })

  test('Rollback Prepared', () => {
    agree(bytes(
      ...ascii('r'),                                  // Byte1('r')  Rollback Prepared
      0x00,                                           // Int8(0)     flags, unused
      0x00, 0x00, 0x00, 0x16, 0xb3, 0x74, 0xd9, 0x20, // Int64       end LSN of the prepare 16/B374D920
      0x00, 0x00, 0x00, 0x16, 0xb3, 0x74, 0xda, 0x30, // Int64       end LSN of the rollback 16/B374DA30
      0x00, 0x03, 0x04, 0xd7, 0x9a, 0x3d, 0xaf, 0xce, // Int64       prepare time
      0x00, 0x03, 0x04, 0xd7, 0x9a, 0x3d, 0xaf, 0xcf, // Int64       rollback time, 1 µs later
      0x00, 0x00, 0x03, 0x20,                         // Int32(800)  xid
      ...gid,                                         // String      GID
    ), {
      type: 'RollbackPrepared', prepareEndLsn: 0x16_b374_d920n, rollbackEndLsn: 0x16_b374_da30n,
      prepareTime: commitTime, rollbackTime: commitTime + 1n, xid: 800, gid: 'tx-42',
    })
  })
})
