/**
 * What travels inside CopyData once START_REPLICATION has begun ("Streaming Replication
 * Protocol" in the protocol docs): the server's XLogData and primary keepalive, decoded by
 * src/protocol/replication/stream-messages.ts, and the client's standby status update, encoded
 * by it; with the Int64 fields they are made of (replication/int64.ts: readUint64, readInt64,
 * writeInt64) and
 * the conversions of their timestamps. Expected bytes are written by hand or built by the
 * test-side int64() below, never by src's own encoders.
 */
import { fc, test as property } from '@fast-check/vitest'
import { describe, expect, test } from 'vitest'
import { BodyReader } from '../../../src/protocol/bytes/reader.ts'
import { ByteWriter } from '../../../src/protocol/bytes/writer.ts'
import { ProtocolViolationError } from '../../../src/protocol/errors.ts'
import { readInt64, readUint64, writeInt64 } from '../../../src/protocol/replication/int64.ts'
import {
  decodeReplicationMessage,
  pgTimeFromMs,
  pgTimeToDate,
  writeStandbyStatusUpdate,
  xLogDataHeaderLength,
  type XLogData,
} from '../../../src/protocol/replication/stream-messages.ts'
import { ascii, bytes } from '../../support/wire.ts'

/** Int64, big-endian two's complement, computed apart from src: eight bytes, most significant first. */
function int64(value: bigint): number[] {
  const unsigned = BigInt.asUintN(64, value)
  return Array.from({ length: 8 }, (_, i) => Number((unsigned >> BigInt(56 - 8 * i)) & 0xffn))
}

const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })
const i64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })

/** The reader's `what` in a truncation error, word for word. */
const endsEarly = (what: string) => new ProtocolViolationError(`${what}: the message ends too early`)

describe('Int64 on the wire', () => {
  const read = (wire: Uint8Array) => {
    const reader = new BodyReader().reset(wire, 0, wire.length)
    const unsigned = readUint64(reader, 'field')
    reader.end('field')
    return { unsigned, signed: readInt64(new BodyReader().reset(wire, 0, wire.length), 'field') }
  }

  test.each([
    // bytes, most significant first                        unsigned (an LSN)        signed (a timestamp)
    [[0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],      0n,                      0n],
    [[0x00, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff],      2n ** 31n - 1n,          2n ** 31n - 1n],
    [[0x00, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00],      2n ** 31n,               2n ** 31n],        // low half's top bit is not a sign
    [[0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff],      2n ** 32n - 1n,          2n ** 32n - 1n],
    [[0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00],      2n ** 32n,               2n ** 32n],        // the high half counts 2^32s
    [[0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02],      2n ** 32n + 2n,          2n ** 32n + 2n],   // both halves at once
    [[0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],      2n ** 53n,               2n ** 53n],
    [[0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01],      2n ** 53n + 1n,          2n ** 53n + 1n],   // no Number holds it
    [[0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],      2n ** 63n - 1n,          2n ** 63n - 1n],
    [[0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],      2n ** 63n,               -(2n ** 63n)],     // the sign bit
    [[0xff, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00],      2n ** 64n - 2n ** 31n,   -(2n ** 31n)],
    [[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe],      2n ** 64n - 2n,          -2n],
    [[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],      2n ** 64n - 1n,          -1n],
  ])('%j reads as %s unsigned, %s signed, and is written back the same', (wire, unsigned, signed) => {
    expect(read(Uint8Array.from(wire))).toEqual({ unsigned, signed })
    expect(writeInt64(new ByteWriter(1), unsigned).toBytes()).toEqual(Uint8Array.from(wire))
    expect(writeInt64(new ByteWriter(1), signed).toBytes()).toEqual(Uint8Array.from(wire))
  })

  test.each([
    ['none', 0],
    ['three: inside the high half', 3],
    ['four: the high half only', 4],
    ['seven: inside the low half', 7],
  ])('an Int64 cut short (%s of its eight bytes) is a ProtocolViolationError naming the field', (_, length) => {
    const wire = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8])
    expect(() => readUint64(new BodyReader().reset(wire, 0, length), 'walStart')).toThrow(endsEarly('walStart'))
    expect(() => readInt64(new BodyReader().reset(wire, 0, length), 'sendTime')).toThrow(endsEarly('sendTime'))
  })

  test('an Int64 is read at the position reached, and moves it on by eight', () => {
    const wire = bytes(0xaa, ...int64(0x0102030405060708n), 0xbb)
    const reader = new BodyReader().reset(wire, 0, wire.length)
    expect(reader.byte('before')).toBe(0xaa)
    expect(readInt64(reader, 'middle')).toBe(0x0102030405060708n)
    expect(reader.byte('after')).toBe(0xbb)
    reader.end('all')
  })

  test('writeInt64 appends after what is there, growing the array', () => {
    const w = writeInt64(new ByteWriter(2).byte(0xaa), -2n).byte(0xbb)
    expect(w.length).toBe(10)
    expect(w.toBytes()).toEqual(bytes(0xaa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xbb))
  })

  property.prop([u64])('every unsigned 64-bit value reads back from its big-endian bytes', (value) => {
    const wire = Uint8Array.from(int64(value))
    expect(readUint64(new BodyReader().reset(wire, 0, 8), 'u')).toBe(value)
  })

  property.prop([i64])('every signed 64-bit value reads back from its big-endian two\'s complement', (value) => {
    const wire = Uint8Array.from(int64(value))
    expect(readInt64(new BodyReader().reset(wire, 0, 8), 'i')).toBe(value)
  })

  property.prop([fc.oneof(u64, i64)])('writeInt64 writes every 64-bit value big-endian, negative ones in two\'s complement', (value) => {
    expect(writeInt64(new ByteWriter(0), value).toBytes()).toEqual(Uint8Array.from(int64(value)))
  })
})

describe('XLogData', () => {
  // A pgoutput Begin message, as the payload of the XLogData that carries it.
  const begin = [
    ...ascii('B'),                                  // Byte1('B')  Begin
    0x00, 0x00, 0x00, 0x16, 0xb3, 0x74, 0xd8, 0xf0, // Int64       final LSN of the transaction, 16/B374D8F0
    0x00, 0x03, 0x04, 0xd7, 0x9a, 0x3d, 0xaf, 0xce, // Int64       commit time
    0x00, 0x00, 0x02, 0xdb,                         // Int32(731)  xid
  ]
  const wire = bytes(
    0x77,                                           // Byte1('w')  XLogData
    0x00, 0x00, 0x00, 0x16, 0xb3, 0x74, 0xd8, 0x48, // Int64       walStart 16/B374D848
    0x00, 0x00, 0x00, 0x16, 0xb3, 0x74, 0xd9, 0x00, // Int64       walEnd 16/B374D900
    0x00, 0x03, 0x04, 0xd7, 0x9a, 0x3d, 0xaf, 0xce, // Int64       sendTime, µs since 2000-01-01: 2026-12-05 01:23:02.345678
    ...begin,                                       // Byte[n]     data: one message of the output plugin
  )

  test('its three Int64s, and a body bounded to the payload, left unread in the reader', () => {
    const reader = new BodyReader()
    const message = decodeReplicationMessage(wire, reader) as XLogData
    expect(message).toMatchObject({ type: 'XLogData', walStart: 0x16_b374_d848n, walEnd: 0x16_b374_d900n, sendTime: 849_748_982_345_678n })
    expect(message.body).toBe(reader)
    expect(message.body.remaining).toBe(begin.length)
    expect(message.body.byte('pgoutput message type')).toBe(0x42)
    expect(readUint64(message.body, 'final LSN')).toBe(0x16_b374_d8f0n)
    expect(message.body.rest()).toEqual(bytes(0x00, 0x03, 0x04, 0xd7, 0x9a, 0x3d, 0xaf, 0xce, 0x00, 0x00, 0x02, 0xdb))
    expect(pgTimeToDate(message.sendTime)).toEqual(new Date('2026-12-05T01:23:02.345Z'))
  })

  test('the header is 25 bytes: type and three Int64s', () => {
    expect(xLogDataHeaderLength).toBe(25)
    expect((decodeReplicationMessage(wire, new BodyReader()) as XLogData).body.remaining).toBe(wire.length - xLogDataHeaderLength)
  })

  test('an empty payload leaves an empty body', () => {
    const message = decodeReplicationMessage(wire.subarray(0, 25), new BodyReader()) as XLogData
    expect(message.type).toBe('XLogData')
    expect(message.body.remaining).toBe(0)
    expect(() => message.body.byte('payload')).toThrow(endsEarly('payload'))
  })

  test('LSNs past 2^63 are unsigned; a send time before 2000 is negative', () => {
    const message = decodeReplicationMessage(bytes(
      0x77,                                           // Byte1('w')  XLogData
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, // Int64       walStart FFFFFFFF/FFFFFFFE
      0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // Int64       walEnd 80000000/0
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfc, 0x18, // Int64(-1000) sendTime: 1999-12-31 23:59:59.999
    ), new BodyReader())
    expect(message).toMatchObject({ type: 'XLogData', walStart: 2n ** 64n - 2n, walEnd: 2n ** 63n, sendTime: -1000n })
    expect(pgTimeToDate(message.sendTime)).toEqual(new Date('1999-12-31T23:59:59.999Z'))
  })

  test.each([
    [1, 'XLogData WAL start'],
    [8, 'XLogData WAL start'],
    [9, 'XLogData WAL end'],
    [16, 'XLogData WAL end'],
    [17, 'XLogData send time'],
    [24, 'XLogData send time'],
  ])('cut after %i bytes: a ProtocolViolationError naming the %s', (length, what) => {
    expect(() => decodeReplicationMessage(wire.subarray(0, length), new BodyReader())).toThrow(endsEarly(what))
  })

  property.prop([u64, u64, i64, fc.uint8Array({ maxLength: 64 })])(
    'every field is read big-endian at its offset, and the body is exactly the rest',
    (walStart, walEnd, sendTime, payload) => {
      const message = decodeReplicationMessage(bytes(0x77, ...int64(walStart), ...int64(walEnd), ...int64(sendTime), ...payload), new BodyReader())
      expect(message).toMatchObject({ type: 'XLogData', walStart, walEnd, sendTime })
      expect((message as XLogData).body.rest()).toEqual(payload)
    },
  )
})

describe('Primary keepalive message', () => {
  const keepalive = (reply: number) => bytes(
    0x6b,                                           // Byte1('k')  primary keepalive
    0x00, 0x00, 0x00, 0x16, 0xb3, 0x74, 0xd9, 0x00, // Int64       walEnd 16/B374D900
    0x00, 0x03, 0x04, 0xd7, 0x9a, 0x3d, 0xaf, 0xce, // Int64       sendTime: 2026-12-05 01:23:02.345678
    reply,                                          // Byte1       1: reply at once
  )

  test('reply requested', () => {
    expect(decodeReplicationMessage(keepalive(1), new BodyReader())).toEqual({
      type: 'PrimaryKeepalive', walEnd: 0x16_b374_d900n, sendTime: 849_748_982_345_678n, replyRequested: true,
    })
  })

  test('no reply requested', () => {
    expect(decodeReplicationMessage(keepalive(0), new BodyReader())).toEqual({
      type: 'PrimaryKeepalive', walEnd: 0x16_b374_d900n, sendTime: 849_748_982_345_678n, replyRequested: false,
    })
  })

  test('only the CopyData\'s own bytes are read, even where they sit in a larger buffer', () => {
    const buffer = bytes(0xee, ...keepalive(1), 0xee)
    expect(decodeReplicationMessage(buffer.subarray(1, 19), new BodyReader())).toMatchObject({ type: 'PrimaryKeepalive', replyRequested: true })
  })

  test.each([
    [1, 'primary keepalive WAL end'],
    [8, 'primary keepalive WAL end'],
    [9, 'primary keepalive send time'],
    [16, 'primary keepalive send time'],
    [17, 'primary keepalive reply flag'],
  ])('cut after %i bytes: a ProtocolViolationError naming the %s', (length, what) => {
    expect(() => decodeReplicationMessage(keepalive(1).subarray(0, length), new BodyReader())).toThrow(endsEarly(what))
  })

  test('a byte past the reply flag is a ProtocolViolationError', () => {
    expect(() => decodeReplicationMessage(bytes(...keepalive(0), 0x00), new BodyReader()))
      .toThrow(new ProtocolViolationError('primary keepalive: 1 unexpected trailing bytes'))
  })

  property.prop([u64, i64, fc.boolean()])('walEnd and sendTime are read big-endian at offsets 1 and 9, the flag at 17', (walEnd, sendTime, reply) => {
    expect(decodeReplicationMessage(bytes(0x6b, ...int64(walEnd), ...int64(sendTime), reply ? 1 : 0), new BodyReader()))
      .toEqual({ type: 'PrimaryKeepalive', walEnd, sendTime, replyRequested: reply })
  })
})

describe('anything else in CopyData', () => {
  test('an empty CopyData is a ProtocolViolationError', () => {
    expect(() => decodeReplicationMessage(bytes(), new BodyReader())).toThrow(endsEarly('replication message type'))
  })

  test.each([
    [0x72, '0x72'], // 'r': a standby status update comes from the client, never the server
    [0x05, '0x05'], // one hex digit is padded to two
    [0x00, '0x00'],
    [0xff, '0xff'],
  ])('type byte %i is a ProtocolViolationError that names it as %s', (type, hex) => {
    expect(() => decodeReplicationMessage(bytes(type, ...new Array(24).fill(0)), new BodyReader()))
      .toThrow(new ProtocolViolationError(`unexpected replication message type ${hex} in CopyData`))
  })

  property.prop([fc.uint8Array({ maxLength: 40 })])(
    'arbitrary bytes decode to XLogData, a PrimaryKeepalive or a ProtocolViolationError, never anything else',
    (data) => {
      let outcome: unknown
      try {
        outcome = decodeReplicationMessage(data, new BodyReader()).type
      } catch (error) {
        outcome = error
      }
      if (outcome instanceof ProtocolViolationError) return
      expect(outcome).toBe(data[0] === 0x77 ? 'XLogData' : 'PrimaryKeepalive')
      expect(data[0] === 0x77 ? data.length >= 25 : data[0] === 0x6b && data.length === 18).toBe(true)
    },
  )
})

describe('Standby status update', () => {
  const status = {
    written: 0x16_b374_d901n,   // 16/B374D901
    flushed: 0x16_b374_d849n,   // 16/B374D849
    applied: 0x16_b374_d849n,
    clientTime: 849_748_983_000_000n, // 2026-12-05 01:23:03
  }
  const update = (reply: number) => bytes(
    0x64,                                           // Byte1('d')  CopyData
    0x00, 0x00, 0x00, 0x26,                         // Int32(38)   length: itself, 'r', four Int64s, the flag
    0x72,                                           // Byte1('r')  standby status update
    0x00, 0x00, 0x00, 0x16, 0xb3, 0x74, 0xd9, 0x01, // Int64       written, plus one
    0x00, 0x00, 0x00, 0x16, 0xb3, 0x74, 0xd8, 0x49, // Int64       flushed, plus one: what the slot may release
    0x00, 0x00, 0x00, 0x16, 0xb3, 0x74, 0xd8, 0x49, // Int64       applied, plus one
    0x00, 0x03, 0x04, 0xd7, 0x9a, 0x47, 0xab, 0xc0, // Int64       clientTime, µs since 2000-01-01: 2026-12-05 01:23:03
    reply,                                          // Byte1       1: answer with a keepalive at once
  )

  test('no reply requested, when the option is left out', () => {
    expect(writeStandbyStatusUpdate(new ByteWriter(0), status).toBytes()).toEqual(update(0))
  })

  test('no reply requested, when it is false', () => {
    expect(writeStandbyStatusUpdate(new ByteWriter(0), { ...status, replyRequested: false }).toBytes()).toEqual(update(0))
  })

  test('reply requested', () => {
    expect(writeStandbyStatusUpdate(new ByteWriter(0), { ...status, replyRequested: true }).toBytes()).toEqual(update(1))
  })

  test('appended to what the writer holds, its length counting from its own start', () => {
    const w = new ByteWriter(0).byte(0xaa).byte(0xbb)
    expect(writeStandbyStatusUpdate(w, status)).toBe(w)
    expect(w.toBytes()).toEqual(bytes(0xaa, 0xbb, ...update(0)))
  })

  property.prop([u64, u64, u64, i64, fc.boolean()])(
    'a standby status update encodes each LSN big-endian at its offset',
    (written, flushed, applied, clientTime, replyRequested) => {
      const out = writeStandbyStatusUpdate(new ByteWriter(0), { written, flushed, applied, clientTime, replyRequested }).toBytes()
      expect(out).toEqual(bytes(0x64, 0, 0, 0, 38, 0x72, ...int64(written), ...int64(flushed), ...int64(applied), ...int64(clientTime), replyRequested ? 1 : 0))
    },
  )
})

describe('timestamps: microseconds since 2000-01-01 UTC', () => {
  test.each([
    [0n, '2000-01-01T00:00:00.000Z'],                   // PostgreSQL's epoch
    [999n, '2000-01-01T00:00:00.000Z'],                 // microseconds are dropped, not rounded
    [1_999n, '2000-01-01T00:00:00.001Z'],
    [-1_000n, '1999-12-31T23:59:59.999Z'],
    [-946_684_800_000_000n, '1970-01-01T00:00:00.000Z'], // the Unix epoch
    [849_748_982_345_678n, '2026-12-05T01:23:02.345Z'],
  ])('pgTimeToDate(%s) is %s', (microseconds, iso) => {
    expect(pgTimeToDate(microseconds).toISOString()).toBe(iso)
  })

  test.each([
    [Date.UTC(2000, 0, 1), 0n],
    [Date.UTC(2000, 0, 1) + 1, 1_000n],
    [Date.UTC(2000, 0, 1) + 0.4, 0n],                   // to the nearest millisecond
    [Date.UTC(2000, 0, 1) + 0.6, 1_000n],
    [Date.UTC(1999, 11, 31, 23, 59, 59, 999), -1_000n],
    [0, -946_684_800_000_000n],
    [Date.UTC(2026, 11, 5, 1, 23, 3), 849_748_983_000_000n],
  ])('pgTimeFromMs(%s) is %s', (ms, microseconds) => {
    expect(pgTimeFromMs(ms)).toBe(microseconds)
  })

  property.prop([fc.integer({ min: -8.64e15, max: 8.64e15 })])('pgTimeToDate undoes pgTimeFromMs for every millisecond a Date holds', (ms) => {
    expect(pgTimeToDate(pgTimeFromMs(ms)).getTime()).toBe(ms)
  })
})
