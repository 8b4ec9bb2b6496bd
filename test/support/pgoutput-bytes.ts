/**
 * An independent builder of pgoutput message bytes ("Logical Replication Message Formats" in the
 * protocol docs), for the tests of src/protocol/replication/pgoutput. It shares no code with
 * src: big-endian integers are written here by hand and text by the platform's TextEncoder; from
 * src it takes only types and the `unchangedToast` marker. A bug in a decoder cannot hide behind
 * the same bug in an encoder.
 */
import type { PgoutputContext } from '../../src/protocol/replication/pgoutput/decode.ts'
import { unchangedToast, type PgoutputMessage, type TupleData } from '../../src/protocol/replication/pgoutput-messages.ts'

/** Int8 / Byte1: the low eight bits. */
export function int8(value: number): number[] {
  return [value & 0xff]
}

/** Byte1 of a character: 'N' is 0x4e. */
export function char(c: string): number[] {
  if (c.length !== 1 || c.charCodeAt(0) > 0x7f) throw new Error(`char() takes one ASCII character, not ${JSON.stringify(c)}`)
  return [c.charCodeAt(0)]
}

/** Int16, big-endian; negative values in two's complement. */
export function int16(value: number): number[] {
  return [Math.floor(value / 0x100) & 0xff, value & 0xff]
}

/** Int32, big-endian; takes -2^31 .. 2^32 - 1, so that an unsigned OID or xid is written as is. */
export function int32(value: number): number[] {
  const unsigned = value < 0 ? value + 0x1_0000_0000 : value
  return [
    Math.floor(unsigned / 0x100_0000) & 0xff,
    Math.floor(unsigned / 0x1_0000) & 0xff,
    Math.floor(unsigned / 0x100) & 0xff,
    unsigned & 0xff,
  ]
}

/** Int64, big-endian; takes -2^63 .. 2^64 - 1 (a timestamp or an LSN). */
export function int64(value: bigint): number[] {
  const unsigned = value < 0n ? value + (1n << 64n) : value
  const out: number[] = []
  for (let shift = 56n; shift >= 0n; shift -= 8n) out.push(Number((unsigned >> shift) % 256n))
  return out
}

/** UTF-8 bytes, by the platform's encoder. */
export function utf8(text: string): number[] {
  return [...new TextEncoder().encode(text)]
}

/** String: UTF-8, then NUL. */
export function cstring(text: string): number[] {
  if (text.includes('\0')) throw new Error('a String cannot hold a NUL')
  return [...utf8(text), 0]
}

/** TupleData: Int16 count, then per column 'n', 'u', or 't'/'b' with an Int32 length. */
export function tupleData(tuple: TupleData): number[] {
  const out = int16(tuple.length)
  for (const value of tuple) {
    if (value === null) out.push(...char('n'))
    else if (value === unchangedToast) out.push(...char('u'))
    else if (typeof value === 'string') out.push(...char('t'), ...int32(utf8(value).length), ...utf8(value))
    else out.push(...char('b'), ...int32(value.length), ...value)
  }
  return out
}

/** The messages that carry an xid after their type byte between Stream Start and Stream Stop. */
const streamedTypes: ReadonlySet<PgoutputMessage['type']> = new Set(['Relation', 'Type', 'Insert', 'Update', 'Delete', 'Truncate', 'Message'])

/** The xid in front, when the message has one: it was sent inside a stream. */
function streamed(message: PgoutputMessage): number[] {
  return 'xid' in message && message.xid !== undefined && streamedTypes.has(message.type) ? int32(message.xid) : []
}

/**
 * The bytes pgoutput sends for `message`: with the xid in front for a message that has one and
 * is of a streamed type, with Stream Abort's abort LSN and time when it has them. Flags that the
 * docs fix at 0 are written as 0; Message flags, Truncate options and column flags as given.
 */
export function pgoutputBytes(m: PgoutputMessage): Uint8Array {
  return Uint8Array.from(body(m))
}

function body(m: PgoutputMessage): number[] {
  switch (m.type) {
    case 'Begin':
      return [...char('B'), ...int64(m.finalLsn), ...int64(m.commitTime), ...int32(m.xid)]
    case 'Message':
      return [...char('M'), ...streamed(m), ...int8(m.transactional ? 1 : 0), ...int64(m.lsn), ...cstring(m.prefix), ...int32(m.content.length), ...m.content]
    case 'Commit':
      return [...char('C'), ...int8(0), ...int64(m.commitLsn), ...int64(m.endLsn), ...int64(m.commitTime)]
    case 'Origin':
      return [...char('O'), ...int64(m.commitLsn), ...cstring(m.name)]
    case 'Relation':
      return [
        ...char('R'), ...streamed(m), ...int32(m.relationOid), ...cstring(m.namespace), ...cstring(m.relationName),
        ...char(m.replicaIdentity), ...int16(m.columns.length),
        ...m.columns.flatMap((c) => [...int8(c.flags), ...cstring(c.name), ...int32(c.typeOid), ...int32(c.typeModifier)]),
      ]
    case 'Type':
      return [...char('Y'), ...streamed(m), ...int32(m.typeOid), ...cstring(m.namespace), ...cstring(m.typeName)]
    case 'Insert':
      return [...char('I'), ...streamed(m), ...int32(m.relationOid), ...char('N'), ...tupleData(m.newTuple)]
    case 'Update': {
      const old = m.oldKind === undefined || m.oldTuple === undefined ? [] : [...char(m.oldKind), ...tupleData(m.oldTuple)]
      return [...char('U'), ...streamed(m), ...int32(m.relationOid), ...old, ...char('N'), ...tupleData(m.newTuple)]
    }
    case 'Delete':
      return [...char('D'), ...streamed(m), ...int32(m.relationOid), ...char(m.oldKind), ...tupleData(m.oldTuple)]
    case 'Truncate':
      return [
        ...char('T'), ...streamed(m), ...int32(m.relationOids.length),
        ...int8((m.cascade ? 1 : 0) | (m.restartIdentity ? 2 : 0)), ...m.relationOids.flatMap(int32),
      ]
    case 'StreamStart':
      return [...char('S'), ...int32(m.xid), ...int8(m.firstSegment ? 1 : 0)]
    case 'StreamStop':
      return char('E')
    case 'StreamCommit':
      return [...char('c'), ...int32(m.xid), ...int8(0), ...int64(m.commitLsn), ...int64(m.endLsn), ...int64(m.commitTime)]
    case 'StreamAbort': {
      const parallel = m.abortLsn === undefined || m.abortTime === undefined ? [] : [...int64(m.abortLsn), ...int64(m.abortTime)]
      return [...char('A'), ...int32(m.xid), ...int32(m.subxid), ...parallel]
    }
    case 'BeginPrepare':
      return [...char('b'), ...int64(m.prepareLsn), ...int64(m.endLsn), ...int64(m.prepareTime), ...int32(m.xid), ...cstring(m.gid)]
    case 'Prepare':
    case 'StreamPrepare':
      return [
        ...char(m.type === 'Prepare' ? 'P' : 'p'), ...int8(0), ...int64(m.prepareLsn), ...int64(m.endLsn), ...int64(m.prepareTime),
        ...int32(m.xid), ...cstring(m.gid),
      ]
    case 'CommitPrepared':
      return [...char('K'), ...int8(0), ...int64(m.commitLsn), ...int64(m.endLsn), ...int64(m.commitTime), ...int32(m.xid), ...cstring(m.gid)]
    case 'RollbackPrepared':
      return [
        ...char('r'), ...int8(0), ...int64(m.prepareEndLsn), ...int64(m.rollbackEndLsn), ...int64(m.prepareTime), ...int64(m.rollbackTime),
        ...int32(m.xid), ...cstring(m.gid),
      ]
  }
}

/** The context a decoder needs for `message`'s bytes: in a stream if it has an xid of a streamed type, parallel if it has an abort LSN. */
export function contextOf(m: PgoutputMessage): PgoutputContext {
  return {
    inStream: streamed(m).length > 0,
    parallelAbort: m.type === 'StreamAbort' && m.abortLsn !== undefined,
  }
}
