/**
 * What a CopyData carries in streaming replication ("Streaming Replication Protocol" and
 * "Logical Replication Message Formats" in the protocol docs), as trace fields: the client's
 * standby status update and hot standby feedback; the WAL sender's XLogData, with the pgoutput
 * message inside it, and primary keepalive. A reader for createTracer's `copyBoth` option, kept
 * out of ./index.ts so that only a caller that asks for it bundles it (pglisten's CLI does).
 * Pure: imports the replication decoders, the body reader, the errors and the line vocabulary.
 *
 * libpq's PQtrace shows a CopyData as its bytes. Here each message inside is named, its fields
 * `name=value` (LSNs as X/Y, times in UTC to the microsecond), and rows shown in full, as
 * DataRow's values are: the trace redacts what lets someone in (passwords, proofs, keys), not
 * the data the session was opened to read. An XLogData's payload is read as pgoutput's, the one
 * output plugin pglisten streams. Bytes that do not decode are shown as bytes with a note saying
 * why: the reader never throws on what the wire holds.
 */
import { BodyReader } from '../bytes/reader.ts'
import { ProtocolViolationError } from '../errors.ts'
import { readInt64, readUint64 } from '../replication/int64.ts'
import { formatLsn, type Lsn } from '../replication/lsn.ts'
import { decodePgoutput } from '../replication/pgoutput/decode.ts'
import { unchangedToast, type PgoutputMessage, type TupleData } from '../replication/pgoutput-messages.ts'
import { decodeReplicationMessage, pgTimeToDate, xLogDataHeaderLength, type ReplicationMessage } from '../replication/stream-messages.ts'
import type { CopyBothReader } from './index.ts'
import { bytes, int, list, named, note, string, word, type Field } from './line.ts'
import { plural } from './reader.ts'

/**
 * The reader of one START_REPLICATION's COPY BOTH: `createTracer(write, { copyBoth:
 * replicationCopyBoth })`. Its one piece of state is whether a pgoutput stream segment is open
 * (from Stream Start to Stream Stop): the changes inside carry their transaction's xid first,
 * which the bytes alone do not say. A new copy starts outside any segment.
 */
export function replicationCopyBoth(): CopyBothReader {
  const reader = new BodyReader()
  let inStream = false
  return {
    sent: standbyFields,
    received(data) {
      const read = walSenderFields(data, reader, inStream)
      inStream = read.inStream
      return read.fields
    },
  }
}

/**
 * The fields of a CopyData the client sent: a standby's message, by its first byte, or else
 * the bytes themselves.
 */
function standbyFields(data: Uint8Array): Field[] {
  const type = data[0]
  if (type !== 0x72 && type !== 0x68) return [bytes(data)]
  const r = new BodyReader().reset(data, 1, data.length)
  try {
    return type === 0x72 ? standbyStatusUpdate(r) : hotStandbyFeedback(r)
  } catch (error) {
    return [bytes(data), malformed(error)]
  }
}

/**
 * Standby status update (F), in CopyData
 *   Byte1('r') Int64 written Int64 flushed Int64 applied Int64 clientTime Byte1 replyRequested
 * The walsender takes any reply byte but 0 as a request (walsender.c, ProcessStandbyReplyMessage).
 */
function standbyStatusUpdate(r: BodyReader): Field[] {
  const fields = [
    word('StandbyStatusUpdate'),
    named('written', lsn(readUint64(r, 'Standby status update written'))),
    named('flushed', lsn(readUint64(r, 'Standby status update flushed'))),
    named('applied', lsn(readUint64(r, 'Standby status update applied'))),
    named('clientTime', pgTime(readInt64(r, 'Standby status update client time'))),
    named('replyRequested', bool(r.byte('Standby status update reply flag') !== 0)),
  ]
  r.end('Standby status update')
  return fields
}

/**
 * Hot standby feedback message (F), in CopyData
 *   Byte1('h') Int64 clientTime Int32 xmin Int32 xminEpoch Int32 catalogXmin Int32 catalogXminEpoch
 */
function hotStandbyFeedback(r: BodyReader): Field[] {
  const uint32 = (what: string) => int(r.int32(`Hot standby feedback ${what}`) >>> 0)
  const fields = [
    word('HotStandbyFeedback'),
    named('clientTime', pgTime(readInt64(r, 'Hot standby feedback client time'))),
    named('xmin', uint32('xmin')),
    named('xminEpoch', uint32('xmin epoch')),
    named('catalogXmin', uint32('catalog xmin')),
    named('catalogXminEpoch', uint32('catalog xmin epoch')),
  ]
  r.end('Hot standby feedback')
  return fields
}

/**
 * The fields of a CopyData the server sent, and whether a stream segment is open after it. A
 * message that does not decode moves nothing, not even one that starts like Stream Stop.
 */
function walSenderFields(data: Uint8Array, reader: BodyReader, inStream: boolean): { fields: Field[]; inStream: boolean } {
  let m: ReplicationMessage
  try {
    m = decodeReplicationMessage(data, reader)
  } catch (error) {
    return { fields: [bytes(data), malformed(error)], inStream }
  }
  if (m.type === 'PrimaryKeepalive') {
    const fields = [word('PrimaryKeepalive'), named('walEnd', lsn(m.walEnd)), named('sendTime', pgTime(m.sendTime)), named('replyRequested', bool(m.replyRequested))]
    return { fields, inStream }
  }
  const header = [word('XLogData'), named('walStart', lsn(m.walStart)), named('walEnd', lsn(m.walEnd)), named('sendTime', pgTime(m.sendTime))]
  let change: PgoutputMessage
  try {
    change = pgoutput(data, m.body, inStream)
  } catch (error) {
    // The XLogData header held: only the pgoutput message is shown as bytes.
    return { fields: [...header, bytes(data.subarray(xLogDataHeaderLength)), malformed(error)], inStream }
  }
  const next = change.type === 'StreamStart' ? true : change.type === 'StreamStop' ? false : inStream
  return { fields: [...header, ...pgoutputFields(change)], inStream: next }
}

/**
 * The pgoutput message of an XLogData, read as protocol 2's. Only Stream Abort's layout depends
 * on START_REPLICATION's options, which the trace does not parse out of the query: one that
 * does not fit protocol 2's is read again as protocol 4's (streaming = parallel, 16 bytes more),
 * so that a well-formed one is not shown as malformed.
 */
function pgoutput(data: Uint8Array, body: BodyReader, inStream: boolean): PgoutputMessage {
  try {
    return decodePgoutput(body, { inStream, parallelAbort: false })
  } catch (error) {
    if (data[xLogDataHeaderLength] !== 0x41) throw error // 'A'
    try {
      return decodePgoutput(body.reset(data, xLogDataHeaderLength, data.length), { inStream, parallelAbort: true })
    } catch {
      throw error // protocol 2's reading is the one to explain
    }
  }
}

/** A pgoutput message: its type, then its fields in wire order. */
function pgoutputFields(m: PgoutputMessage): Field[] {
  const name = word(m.type)
  const xid = (x: number | undefined): Field[] => (x === undefined ? [] : [named('xid', int(x))])
  switch (m.type) {
    case 'Begin':
      return [name, named('finalLsn', lsn(m.finalLsn)), named('commitTime', pgTime(m.commitTime)), named('xid', int(m.xid))]
    case 'Message':
      return [
        name, ...xid(m.xid), named('transactional', bool(m.transactional)), named('lsn', lsn(m.lsn)), named('prefix', string(m.prefix)),
        named('length', int(m.content.length)), named('content', bytes(m.content)),
      ]
    case 'Commit':
      return [name, named('commitLsn', lsn(m.commitLsn)), named('endLsn', lsn(m.endLsn)), named('commitTime', pgTime(m.commitTime))]
    case 'Origin':
      return [name, named('commitLsn', lsn(m.commitLsn)), named('name', string(m.name))]
    case 'Relation': {
      const columns = m.columns.map((c) => [string(c.name), named('type', int(c.typeOid)), named('typmod', int(c.typeModifier)), ...(c.isKey ? [word('key')] : [])])
      return [
        name, ...xid(m.xid), named('relation', int(m.relationOid)), named('namespace', string(m.namespace)), named('name', string(m.relationName)),
        named('replicaIdentity', word(m.replicaIdentity)), list(plural(columns.length, 'column'), columns),
      ]
    }
    case 'Type':
      return [name, ...xid(m.xid), named('type', int(m.typeOid)), named('namespace', string(m.namespace)), named('name', string(m.typeName))]
    case 'Insert':
      return [name, ...xid(m.xid), named('relation', int(m.relationOid)), named('new', tuple(m.newTuple))]
    case 'Update': {
      const old = m.oldTuple === undefined ? [] : [named(m.oldKind === 'K' ? 'key' : 'old', tuple(m.oldTuple))]
      return [name, ...xid(m.xid), named('relation', int(m.relationOid)), ...old, named('new', tuple(m.newTuple))]
    }
    case 'Delete':
      return [name, ...xid(m.xid), named('relation', int(m.relationOid)), named(m.oldKind === 'K' ? 'key' : 'old', tuple(m.oldTuple))]
    case 'Truncate':
      return [
        name, ...xid(m.xid), named('cascade', bool(m.cascade)), named('restartIdentity', bool(m.restartIdentity)),
        list(plural(m.relationOids.length, 'relation'), m.relationOids.map((oid) => [int(oid)])),
      ]
    case 'StreamStart':
      return [name, named('xid', int(m.xid)), named('firstSegment', bool(m.firstSegment))]
    case 'StreamStop':
      return [name]
    case 'StreamCommit':
      return [name, named('xid', int(m.xid)), named('commitLsn', lsn(m.commitLsn)), named('endLsn', lsn(m.endLsn)), named('commitTime', pgTime(m.commitTime))]
    case 'StreamAbort': {
      const parallel = m.abortLsn === undefined || m.abortTime === undefined ? [] : [named('abortLsn', lsn(m.abortLsn)), named('abortTime', pgTime(m.abortTime))]
      return [name, named('xid', int(m.xid)), named('subxid', int(m.subxid)), ...parallel]
    }
    case 'BeginPrepare':
    case 'Prepare':
    case 'StreamPrepare':
      return [
        name, named('prepareLsn', lsn(m.prepareLsn)), named('endLsn', lsn(m.endLsn)), named('prepareTime', pgTime(m.prepareTime)),
        named('xid', int(m.xid)), named('gid', string(m.gid)),
      ]
    case 'CommitPrepared':
      return [
        name, named('commitLsn', lsn(m.commitLsn)), named('endLsn', lsn(m.endLsn)), named('commitTime', pgTime(m.commitTime)),
        named('xid', int(m.xid)), named('gid', string(m.gid)),
      ]
    case 'RollbackPrepared':
      return [
        name, named('prepareEndLsn', lsn(m.prepareEndLsn)), named('rollbackEndLsn', lsn(m.rollbackEndLsn)),
        named('prepareTime', pgTime(m.prepareTime)), named('rollbackTime', pgTime(m.rollbackTime)), named('xid', int(m.xid)), named('gid', string(m.gid)),
      ]
  }
}

/** TupleData: text as a String, binary as Byte[n], and the two values that are not sent, as words. */
function tuple(values: TupleData): Field {
  const items = values.map((value): Field[] => {
    if (value === null) return [word('null')]
    if (value === unchangedToast) return [word('unchanged-toast')]
    return [typeof value === 'string' ? string(value) : bytes(value)]
  })
  return list(plural(values.length, 'column'), items)
}

function lsn(value: Lsn): Field {
  return word(formatLsn(value))
}

function bool(value: boolean): Field {
  return word(String(value))
}

/**
 * A PostgreSQL timestamp on the wire (Int64 µs since 2000-01-01 UTC) in ISO 8601, UTC, to the
 * microsecond: 2026-01-02T03:04:05.006789Z. One past what a Date holds (±275,000 years; an Int64
 * goes to ±292,000, and PostgreSQL's ±infinity are its ends) is shown as the number.
 */
function pgTime(microseconds: bigint): Field {
  const fraction = ((microseconds % 1_000_000n) + 1_000_000n) % 1_000_000n
  const date = pgTimeToDate(microseconds - fraction)
  if (Number.isNaN(date.getTime())) return word(String(microseconds))
  return word(`${date.toISOString().slice(0, -5)}.${String(fraction).padStart(6, '0')}Z`)
}

/**
 * The note for bytes that broke the grammar. Any other error is a bug, and propagates: the
 * tracer then shows the bytes as "[not understood by the tracer]" rather than throw.
 */
function malformed(error: unknown): Field {
  if (!(error instanceof ProtocolViolationError)) throw error
  // The decoders' messages are made of field names and numbers, never of bytes from the wire.
  return note(`[malformed: ${error.message}]`)
}
