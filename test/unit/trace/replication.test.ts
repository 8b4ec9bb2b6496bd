/**
 * Streaming replication in the trace, read by replicationCopyBoth, which a tracer uses only when
 * asked (TracerOptions.copyBoth; the CLI's --trace asks). Inside a COPY BOTH, the client's
 * CopyData is read by its first byte (a standby status update, hot standby feedback, or else
 * bytes); the server's as XLogData, with the pgoutput message it carries, or as a primary
 * keepalive. Outside one, or without the option, CopyData is shown as bytes, as libpq shows it.
 * Byte vectors are written by hand from the protocol docs ("Streaming Replication Protocol",
 * "Logical Replication Message Formats"); backend messages are handed to the tracer as the
 * objects the framer makes.
 */
import { describe, expect, test } from 'vitest'
import type { BackendMessage } from '../../../src/protocol/backend/messages.ts'
import type { PgoutputMessage } from '../../../src/protocol/replication/pgoutput-messages.ts'
import { createTracer, type CopyBothReader } from '../../../src/protocol/trace/index.ts'
import { decodeFrontendMessages } from '../../../src/protocol/trace/frontend.ts'
import { replicationCopyBoth } from '../../../src/protocol/trace/replication-line.ts'
import { pgoutputBytes } from '../../support/pgoutput-bytes.ts'
import { ascii, bytes, concat, message } from '../../support/wire.ts'

/** 2026-01-02 03:04:05.006789 UTC as PostgreSQL sends it: Int64 µs since 2000-01-01 UTC. */
const time = [0x00, 0x02, 0xea, 0x5d, 0xbb, 0x15, 0x2d, 0xc5] // 820638245006789
const timeShown = '2026-01-02T03:04:05.006789Z'

/** A tracer collecting its lines, without timestamps, that reads a COPY BOTH with `copyBoth` (null: not at all). */
function traced(copyBoth: (() => CopyBothReader) | null = replicationCopyBoth) {
  const lines: string[] = []
  return { lines, tracer: createTracer((line) => lines.push(line), copyBoth ? { copyBoth } : {}) }
}

const copyBothResponse: BackendMessage = { type: 'CopyBothResponse', format: 0, columnFormats: [] }
const copyData = (...data: number[]): BackendMessage => ({ type: 'CopyData', data: Uint8Array.from(data) })

/** A tracer in a COPY BOTH, its CopyBothResponse line left out: what comes next is read as replication. */
function inCopyBoth() {
  const { lines, tracer } = traced()
  tracer.received(copyBothResponse)
  lines.length = 0
  return { lines, tracer }
}

/** The trace line of `data` as the server's CopyData, first in a COPY BOTH. */
function walSender(data: Uint8Array): string {
  const { lines, tracer } = inCopyBoth()
  tracer.received({ type: 'CopyData', data })
  return lines[0]!
}

/** The trace line of `data` as the client's CopyData, in a COPY BOTH. */
function standby(data: Uint8Array): string {
  const { lines, tracer } = inCopyBoth()
  tracer.sent(data)
  return lines[0]!
}

/** XLogData's header: walStart 0/1764378, walEnd 0/1764520, sendTime `time`. */
const xLogDataHeader = [
  0x77,                                           // Byte1('w')  XLogData
  0x00, 0x00, 0x00, 0x00, 0x01, 0x76, 0x43, 0x78, // Int64       walStart 0/1764378
  0x00, 0x00, 0x00, 0x00, 0x01, 0x76, 0x45, 0x20, // Int64       walEnd 0/1764520
  ...time,                                        // Int64       sendTime
]
const xLogDataShown = `XLogData walStart=0/1764378 walEnd=0/1764520 sendTime=${timeShown}`

/** What the trace shows of `m` (bytes from the test-side builder) after the XLogData header. */
function shown(m: PgoutputMessage): string {
  return walSender(concat(Uint8Array.from(xLogDataHeader), pgoutputBytes(m))).split(`${xLogDataShown} `)[1]!
}

describe('the client, in a COPY BOTH: standby status update and hot standby feedback', () => {
  test('a standby status update: LSNs as X/Y, the time in UTC, the reply flag', () => {
    const wire = bytes(
      0x64,                                           // Byte1('d')  CopyData
      0x00, 0x00, 0x00, 0x26,                         // Int32(38)   length
      0x72,                                           // Byte1('r')  Standby status update
      0x00, 0x00, 0x00, 0x00, 0x01, 0x76, 0x45, 0x20, // Int64       written 0/1764520
      0x00, 0x00, 0x00, 0x00, 0x01, 0x76, 0x45, 0x20, // Int64       flushed 0/1764520
      0x00, 0x00, 0x00, 0x16, 0xb3, 0x74, 0xd8, 0x48, // Int64       applied 16/B374D848
      ...time,                                        // Int64       clientTime
      0x01,                                           // Byte1(1)    reply requested
    )
    expect(decodeFrontendMessages(wire)).toEqual([{ type: 'CopyData', length: 38, data: wire.subarray(5) }])
    const { lines, tracer } = inCopyBoth()
    tracer.sent(wire)
    expect(lines).toEqual([
      `F\t38\tCopyData\t StandbyStatusUpdate written=0/1764520 flushed=0/1764520 applied=16/B374D848 clientTime=${timeShown} replyRequested=true`,
    ])
  })

  test('hot standby feedback: the time, then xmin and catalog xmin with their epochs', () => {
    const wire = bytes(
      0x64,                                           // Byte1('d')  CopyData
      0x00, 0x00, 0x00, 0x1d,                         // Int32(29)   length
      0x68,                                           // Byte1('h')  Hot standby feedback
      ...time,                                        // Int64       clientTime
      0x00, 0x00, 0x02, 0xe4,                         // Int32(740)  xmin
      0x00, 0x00, 0x00, 0x01,                         // Int32(1)    xmin epoch
      0xff, 0xff, 0xff, 0xfe,                         // Int32       catalog xmin 4294967294: unsigned
      0x00, 0x00, 0x00, 0x00,                         // Int32(0)    catalog xmin epoch
    )
    const { lines, tracer } = inCopyBoth()
    tracer.sent(wire)
    expect(lines).toEqual([`F\t29\tCopyData\t HotStandbyFeedback clientTime=${timeShown} xmin=740 xminEpoch=1 catalogXmin=4294967294 catalogXminEpoch=0`])
  })

  test('other bytes are shown as bytes, as the server\'s CopyData is', () => {
    const { lines, tracer } = inCopyBoth()
    tracer.sent(message('d', ascii("1\tit's\n")))
    expect(lines).toEqual(["F\t11\tCopyData\t '1\\x09it\\x27s\\x0a'"])
  })

  test('a standby status update cut short: its bytes, and why it was not read', () => {
    const wire = bytes(
      0x64,                                           // Byte1('d')  CopyData
      0x00, 0x00, 0x00, 0x09,                         // Int32(9)    length
      0x72,                                           // Byte1('r')  Standby status update
      0x00, 0x00, 0x00, 0x00,                         //             half of written
    )
    const { lines, tracer } = inCopyBoth()
    tracer.sent(wire)
    expect(lines).toEqual(["F\t9\tCopyData\t 'r\\x00\\x00\\x00\\x00' [malformed: Standby status update written: the message ends too early]"])
  })

  test('a standby status update with a byte too many is malformed too', () => {
    const data = [0x72, ...new Array(32).fill(0), 0x00, 0x00] // 'r', four Int64s, reply flag, one more
    expect(standby(message('d', data))).toMatch(/^F\t39\tCopyData\t '.*' \[malformed: Standby status update: 1 unexpected trailing bytes\]$/)
  })

  test('CopyDone: its name alone; with a body it is malformed', () => {
    const wire = bytes(
      0x63,                                           // Byte1('c')  CopyDone
      0x00, 0x00, 0x00, 0x04,                         // Int32(4)    length
    )
    const { lines, tracer } = inCopyBoth()
    tracer.sent(wire)
    tracer.sent(message('c', [0]))
    expect(lines).toEqual(['F\t4\tCopyDone', 'F\t5\tCopyDone\t [malformed: 1 unexpected byte after CopyDone]'])
  })

  test('a status update and CopyDone in one write: one line each', () => {
    const update = message('d', [0x72, ...new Array(32).fill(0), 0x00]) // 'r', four Int64s of 0, no reply wanted
    const { lines, tracer } = inCopyBoth()
    tracer.sent(concat(update, message('c')))
    expect(lines).toEqual([
      'F\t38\tCopyData\t StandbyStatusUpdate written=0/0 flushed=0/0 applied=0/0 clientTime=2000-01-01T00:00:00.000000Z replyRequested=false',
      'F\t4\tCopyDone',
    ])
  })
})

describe('the server, in a COPY BOTH: XLogData and primary keepalive', () => {
  test('a logical transaction: Begin, Relation, Insert, Commit, each on the XLogData that carries it', () => {
    const { lines, tracer } = traced()
    tracer.received(copyBothResponse)
    tracer.received(copyData(
      ...xLogDataHeader,
      0x42,                                           // Byte1('B')  Begin
      0x00, 0x00, 0x00, 0x00, 0x01, 0x76, 0x44, 0xf0, // Int64       finalLsn 0/17644F0
      ...time,                                        // Int64       commitTime
      0x00, 0x00, 0x02, 0xe4,                         // Int32(740)  xid
    ))
    tracer.received(copyData(
      ...xLogDataHeader,
      0x52,                                           // Byte1('R')  Relation
      0x00, 0x00, 0x40, 0x00,                         // Int32(16384) relation OID
      ...ascii('public'), 0x00,                       // String      namespace
      ...ascii('orders'), 0x00,                       // String      relation name
      0x64,                                           // Int8('d')   replica identity: default
      0x00, 0x03,                                     // Int16(3)    columns
      0x01, ...ascii('id'), 0x00,                     // Int8(1) flags: key; String name
      0x00, 0x00, 0x00, 0x17, 0xff, 0xff, 0xff, 0xff, // Int32(23) int4; Int32(-1) type modifier
      0x00, ...ascii('item'), 0x00,                   // Int8(0) flags; String name
      0x00, 0x00, 0x00, 0x19, 0xff, 0xff, 0xff, 0xff, // Int32(25) text; Int32(-1)
      0x00, ...ascii('price'), 0x00,                  // Int8(0) flags; String name
      0x00, 0x00, 0x06, 0xa4, 0x00, 0x0a, 0x00, 0x06, // Int32(1700) numeric; Int32 numeric(10,2)
    ))
    tracer.received(copyData(
      ...xLogDataHeader,
      0x49,                                           // Byte1('I')  Insert
      0x00, 0x00, 0x40, 0x00,                         // Int32(16384) relation OID
      0x4e,                                           // Byte1('N')  new tuple
      0x00, 0x03,                                     // Int16(3)    columns
      0x74, 0x00, 0x00, 0x00, 0x01, ...ascii('7'),    // 't' Int32(1) text '7'
      0x74, 0x00, 0x00, 0x00, 0x03, 0x74, 0x22, 0x0a, // 't' Int32(3) text 't', a quote, a newline
      0x6e,                                           // 'n'         null
    ))
    tracer.received(copyData(
      ...xLogDataHeader,
      0x43,                                           // Byte1('C')  Commit
      0x00,                                           // Int8(0)     flags
      0x00, 0x00, 0x00, 0x00, 0x01, 0x76, 0x44, 0xf0, // Int64       commit LSN 0/17644F0
      0x00, 0x00, 0x00, 0x00, 0x01, 0x76, 0x45, 0x20, // Int64       end LSN 0/1764520
      ...time,                                        // Int64       commitTime
    ))
    expect(lines).toEqual([
      'B\t7\tCopyBothResponse\t 0 0',
      `B\t50\tCopyData\t ${xLogDataShown} Begin finalLsn=0/17644F0 commitTime=${timeShown} xid=740`,
      `B\t92\tCopyData\t ${xLogDataShown} Relation relation=16384 namespace="public" name="orders" replicaIdentity=d` +
        ' (3 columns: "id" type=23 typmod=-1 key, "item" type=25 typmod=-1, "price" type=1700 typmod=655366)',
      // Row values are shown in full, as DataRow's are; text is escaped so the line stays one line.
      `B\t52\tCopyData\t ${xLogDataShown} Insert relation=16384 new=(3 columns: "7", "t\\"\\n", null)`,
      `B\t55\tCopyData\t ${xLogDataShown} Commit commitLsn=0/17644F0 endLsn=0/1764520 commitTime=${timeShown}`,
    ])
  })

  test('a primary keepalive: walEnd, sendTime, and whether a reply is wanted', () => {
    const { lines, tracer } = traced()
    tracer.received(copyBothResponse)
    tracer.received(copyData(
      0x6b,                                           // Byte1('k')  Primary keepalive
      0x00, 0x00, 0x00, 0x00, 0x01, 0x76, 0x45, 0x20, // Int64       walEnd 0/1764520
      ...time,                                        // Int64       sendTime
      0x01,                                           // Byte1(1)    reply requested
    ))
    expect(lines[1]).toBe(`B\t22\tCopyData\t PrimaryKeepalive walEnd=0/1764520 sendTime=${timeShown} replyRequested=true`)
  })

  test('Update, Delete, Truncate, Message, Origin, Type: every field, tuples by kind', () => {
    expect(shown({ type: 'Update', relationOid: 16384, oldKind: 'K', oldTuple: ['7', null], newTuple: ['8', null] }))
      .toBe('Update relation=16384 key=(2 columns: "7", null) new=(2 columns: "8", null)')
    expect(shown({ type: 'Update', relationOid: 16384, newTuple: [Uint8Array.of(0x00, 0x27)] }))
      .toBe("Update relation=16384 new=(1 column: '\\x00\\x27')")
    expect(shown({ type: 'Delete', relationOid: 16384, oldKind: 'O', oldTuple: [] })).toBe('Delete relation=16384 old=(0 columns)')
    expect(shown({ type: 'Truncate', cascade: true, restartIdentity: false, relationOids: [16384, 16390] }))
      .toBe('Truncate cascade=true restartIdentity=false (2 relations: 16384, 16390)')
    expect(shown({ type: 'Message', transactional: false, lsn: 0x1764378n, prefix: 'jobs', content: Uint8Array.from(ascii('{"id":42}')) }))
      .toBe('Message transactional=false lsn=0/1764378 prefix="jobs" length=9 content=\'{"id":42}\'')
    expect(shown({ type: 'Origin', commitLsn: 0x1764378n, name: 'pg_16395' })).toBe('Origin commitLsn=0/1764378 name="pg_16395"')
    expect(shown({ type: 'Type', typeOid: 16390, namespace: 'public', typeName: 'mood' })).toBe('Type type=16390 namespace="public" name="mood"')
  })

  test('an unchanged TOAST value is named, never mistaken for null', () => {
    const wire = concat(Uint8Array.from(xLogDataHeader), bytes(
      0x55,                                           // Byte1('U')  Update
      0x00, 0x00, 0x40, 0x00,                         // Int32(16384) relation OID
      0x4e,                                           // Byte1('N')  new tuple
      0x00, 0x02,                                     // Int16(2)    columns
      0x75,                                           // 'u'         unchanged TOAST value
      0x6e,                                           // 'n'         null
    ))
    expect(walSender(wire)).toBe(`B\t39\tCopyData\t ${xLogDataShown} Update relation=16384 new=(2 columns: unchanged-toast, null)`)
  })

  test('a malformed pgoutput message: the XLogData header, the payload as bytes, and why; no throw', () => {
    const { lines, tracer } = traced()
    tracer.received(copyBothResponse)
    tracer.received(copyData(
      ...xLogDataHeader,
      0x42,                                           // Byte1('B')  Begin
      0x00, 0x00, 0x00, 0x00, 0x01, 0x76,             //             finalLsn, cut short
    ))
    tracer.received(copyData(...xLogDataHeader, 0x5a)) // 'Z': no pgoutput message
    expect(lines.slice(1)).toEqual([
      `B\t36\tCopyData\t ${xLogDataShown} 'B\\x00\\x00\\x00\\x00\\x01v' [malformed: Begin final LSN: the message ends too early]`,
      `B\t30\tCopyData\t ${xLogDataShown} 'Z' [malformed: unexpected pgoutput message type 'Z']`,
    ])
  })

  test('a malformed XLogData or keepalive, or another type: all its bytes, and why', () => {
    expect(walSender(bytes(0x77, 0x00, 0x01))).toBe("B\t7\tCopyData\t 'w\\x00\\x01' [malformed: XLogData WAL start: the message ends too early]")
    expect(walSender(bytes(0x6b, ...new Array(17).fill(0), 0x00)))
      .toBe("B\t23\tCopyData\t 'k" + '\\x00'.repeat(18) + "' [malformed: primary keepalive: 1 unexpected trailing bytes]")
    expect(walSender(bytes(0x78))).toBe("B\t5\tCopyData\t 'x' [malformed: unexpected replication message type 0x78 in CopyData]")
    expect(walSender(new Uint8Array(0))).toBe("B\t4\tCopyData\t '' [malformed: replication message type: the message ends too early]")
  })

  test('a time before 2000 is negative on the wire and still shown as a time; one past a Date, as its number', () => {
    const keepalive = (sendTime: number[]) => walSender(bytes(0x6b, ...new Array(8).fill(0), ...sendTime, 0x00))
    expect(keepalive([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])).toContain('sendTime=1999-12-31T23:59:59.999999Z ')
    expect(keepalive([0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])).toContain('sendTime=9223372036854775807 ') // PostgreSQL's infinity
  })
})

describe('when a CopyData is read as replication', () => {
  const keepalive = copyData(0x6b, ...new Array(16).fill(0), 0x00)
  const keepaliveLine = 'B\t22\tCopyData\t PrimaryKeepalive walEnd=0/0 sendTime=2000-01-01T00:00:00.000000Z replyRequested=false'
  const rawLine = "B\t22\tCopyData\t 'k" + '\\x00'.repeat(17) + "'"

  test('outside a COPY BOTH, CopyData is COPY OUT data: bytes, as before', () => {
    const { lines, tracer } = traced()
    tracer.received({ type: 'CopyOutResponse', format: 0, columnFormats: [0] })
    tracer.received(keepalive)
    tracer.received(copyData(...ascii('1\tjobs\n')))
    expect(lines.slice(1)).toEqual([rawLine, "B\t11\tCopyData\t '1\\x09jobs\\x0a'"])
  })

  test("after the server's CopyDone, a late keepalive (PostgreSQL 18 sends one) and the client's last status update are still read", () => {
    const { lines, tracer } = traced()
    tracer.received(copyBothResponse)
    tracer.received({ type: 'CopyDone' })
    tracer.received(keepalive)
    tracer.sent(message('d', [0x72, ...new Array(32).fill(0), 0x00])) // 'r', four Int64s of 0, no reply wanted
    expect(lines.slice(1)).toEqual([
      'B\t4\tCopyDone',
      keepaliveLine,
      'F\t38\tCopyData\t StandbyStatusUpdate written=0/0 flushed=0/0 applied=0/0 clientTime=2000-01-01T00:00:00.000000Z replyRequested=false',
    ])
  })

  test('the COPY BOTH ends at ReadyForQuery: after it, CopyData either way is bytes', () => {
    const { lines, tracer } = traced()
    tracer.received(copyBothResponse)
    tracer.received({ type: 'ReadyForQuery', status: 'I' })
    tracer.received(keepalive)
    tracer.sent(message('d', [0x72, ...new Array(33).fill(0)]))
    expect(lines.slice(-2)).toEqual([rawLine, "F\t38\tCopyData\t 'r" + '\\x00'.repeat(33) + "'"])
  })

  test('without TracerOptions.copyBoth, CopyData in a COPY BOTH is bytes both ways, as libpq shows it', () => {
    const { lines, tracer } = traced(null)
    tracer.received(copyBothResponse)
    tracer.received(keepalive)
    tracer.sent(message('d', [0x72, ...new Array(33).fill(0)]))
    expect(lines.slice(1)).toEqual([rawLine, "F\t38\tCopyData\t 'r" + '\\x00'.repeat(33) + "'"])
  })

  test('a reader that throws (a bug, not bad bytes) leaves the bytes and a note; the tracer does not throw', () => {
    const broken = (): CopyBothReader => ({
      sent: () => { throw new Error('bug') },
      received: () => { throw new Error('bug') },
    })
    const { lines, tracer } = traced(broken)
    tracer.received(copyBothResponse)
    expect(() => tracer.received(keepalive)).not.toThrow()
    expect(() => tracer.sent(message('d', [0x72]))).not.toThrow()
    expect(lines.slice(1)).toEqual([`${rawLine} [not understood by the tracer]`, "F\t5\tCopyData\t 'r' [not understood by the tracer]"])
  })

  test('a reader factory that throws leaves the copy as bytes, with a note on CopyBothResponse; the tracer does not throw', () => {
    const { lines, tracer } = traced(() => {
      throw new Error('bug')
    })
    expect(() => tracer.received(copyBothResponse)).not.toThrow()
    tracer.received(keepalive)
    expect(lines[0]).toMatch(/\tCopyBothResponse\t.* \[no reader for this copy: its data is shown as bytes\]$/)
    expect(lines[1]).toBe(rawLine)
  })

  test('a new connection starts outside any COPY BOTH', () => {
    const { lines, tracer } = traced()
    tracer.received(copyBothResponse)
    tracer.sent(Uint8Array.of(0, 0, 0, 9, 0, 3, 0, 2, 0)) // StartupMessage, protocol 3.2, no parameters
    tracer.received(keepalive)
    expect(lines.at(-1)).toBe(rawLine)
  })

  test("the client's CopyData does not move the server's side: a keepalive after the client's CopyDone is still read", () => {
    const { lines, tracer } = traced()
    tracer.received(copyBothResponse)
    tracer.sent(message('c'))
    tracer.received(keepalive)
    expect(lines.at(-1)).toBe(keepaliveLine)
  })
})

describe('stream segments: between StreamStart and StreamStop, changes carry their xid first', () => {
  const xLogData = (m: PgoutputMessage): BackendMessage => copyData(...xLogDataHeader, ...pgoutputBytes(m))
  /** An Insert with the xid 741 in front: inside a stream. Outside one, the xid reads as the relation OID and the rest breaks. */
  const streamedInsert = xLogData({ type: 'Insert', xid: 741, relationOid: 16384, newTuple: ['7'] })

  test('StreamStart switches inStream on, StreamStop off; the same bytes read differently on each side', () => {
    const { lines, tracer } = traced()
    tracer.received(copyBothResponse)
    tracer.received(xLogData({ type: 'StreamStart', xid: 741, firstSegment: true }))
    tracer.received(streamedInsert)
    tracer.received(xLogData({ type: 'StreamStop' }))
    tracer.received(streamedInsert)
    expect(lines.slice(1).map((line) => line.split(`${xLogDataShown} `)[1])).toEqual([
      'StreamStart xid=741 firstSegment=true',
      'Insert xid=741 relation=16384 new=(1 column: "7")',
      'StreamStop',
      "'I\\x00\\x00\\x02\\xe5\\x00\\x00@\\x00N\\x00\\x01t\\x00\\x00\\x00\\x017' [malformed: Insert: expected 'N' before the tuple, got 0x00]",
    ])
  })

  test('only StreamStart and StreamStop move the segment: another message, or a malformed one, moves nothing', () => {
    const data = (m: PgoutputMessage) => concat(Uint8Array.from(xLogDataHeader), pgoutputBytes(m))
    /** Whether `reader` is in a segment now: only then does it read a streamed Insert as an Insert. */
    const inStream = (reader: CopyBothReader) =>
      reader.received(data({ type: 'Insert', xid: 741, relationOid: 16384, newTuple: [] })).some((field) => field.kind === 'word' && field.value === 'Insert')
    const reader = replicationCopyBoth()
    expect(inStream(reader)).toBe(false)
    reader.received(data({ type: 'StreamStart', xid: 741, firstSegment: false }))
    reader.received(data({ type: 'Begin', finalLsn: 1n, commitTime: 0n, xid: 1 }))
    reader.received(concat(data({ type: 'StreamStop' }), bytes(0))) // StreamStop and a byte too many
    reader.received(bytes(0x6b)) // a keepalive cut short
    expect(inStream(reader)).toBe(true)
    reader.received(data({ type: 'StreamStop' }))
    expect(inStream(reader)).toBe(false)
  })

  test('a new CopyBothResponse starts outside any stream segment', () => {
    const { lines, tracer } = traced()
    tracer.received(copyBothResponse)
    tracer.received(xLogData({ type: 'StreamStart', xid: 741, firstSegment: true }))
    tracer.received({ type: 'CopyDone' })
    tracer.received(copyBothResponse)
    tracer.received(xLogData({ type: 'Insert', relationOid: 16384, newTuple: ['7'] }))
    expect(lines.at(-1)).toBe(`B\t43\tCopyData\t ${xLogDataShown} Insert relation=16384 new=(1 column: "7")`)
  })

  test('StreamCommit, and StreamAbort in both layouts: protocol 2, and protocol 4 with streaming = parallel', () => {
    expect(shown({ type: 'StreamCommit', xid: 741, commitLsn: 0x17644f0n, endLsn: 0x1764520n, commitTime: 820638245006789n }))
      .toBe(`StreamCommit xid=741 commitLsn=0/17644F0 endLsn=0/1764520 commitTime=${timeShown}`)
    expect(shown({ type: 'StreamAbort', xid: 741, subxid: 742 })).toBe('StreamAbort xid=741 subxid=742')
    expect(shown({ type: 'StreamAbort', xid: 741, subxid: 742, abortLsn: 0x1764520n, abortTime: 820638245006789n }))
      .toBe(`StreamAbort xid=741 subxid=742 abortLsn=0/1764520 abortTime=${timeShown}`)
    // Neither layout: protocol 2's complaint, the first reading, is the one shown.
    const oneTooMany = concat(Uint8Array.from(xLogDataHeader), pgoutputBytes({ type: 'StreamAbort', xid: 741, subxid: 742 }), bytes(1))
    expect(walSender(oneTooMany)).toMatch(/ \[malformed: StreamAbort: 1 unexpected trailing bytes\]$/)
  })

  test('two-phase messages: LSNs, times, xid and gid', () => {
    const t = 820638245006789n
    expect(shown({ type: 'BeginPrepare', prepareLsn: 0x17644f0n, endLsn: 0x1764520n, prepareTime: t, xid: 740, gid: 'g1' }))
      .toBe(`BeginPrepare prepareLsn=0/17644F0 endLsn=0/1764520 prepareTime=${timeShown} xid=740 gid="g1"`)
    expect(shown({ type: 'StreamPrepare', prepareLsn: 0x17644f0n, endLsn: 0x1764520n, prepareTime: t, xid: 740, gid: 'g1' }))
      .toBe(`StreamPrepare prepareLsn=0/17644F0 endLsn=0/1764520 prepareTime=${timeShown} xid=740 gid="g1"`)
    expect(shown({ type: 'CommitPrepared', commitLsn: 0x17644f0n, endLsn: 0x1764520n, commitTime: t, xid: 740, gid: 'g1' }))
      .toBe(`CommitPrepared commitLsn=0/17644F0 endLsn=0/1764520 commitTime=${timeShown} xid=740 gid="g1"`)
    expect(shown({ type: 'RollbackPrepared', prepareEndLsn: 0x17644f0n, rollbackEndLsn: 0x1764520n, prepareTime: t, rollbackTime: t, xid: 740, gid: 'g1' }))
      .toBe(`RollbackPrepared prepareEndLsn=0/17644F0 rollbackEndLsn=0/1764520 prepareTime=${timeShown} rollbackTime=${timeShown} xid=740 gid="g1"`)
  })
})
