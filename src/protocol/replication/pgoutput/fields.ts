/**
 * The fields that pgoutput messages share, read with the checks PostgreSQL's own reader makes
 * (src/backend/replication/logical/proto.c): flags that must be 0, LSNs that must be set.
 * Pure: reads from a BodyReader; imports only the reader, int64.ts, the errors and the message types.
 */
import type { BodyReader } from '../../bytes/reader.ts'
import { ProtocolViolationError } from '../../errors.ts'
import { readUint64 } from '../int64.ts'
import type { Lsn } from '../lsn.ts'

/** Int32 (TransactionId): unsigned, so an xid past 2^31 stays positive. */
export function readXid(r: BodyReader, what: string): number {
  return r.int32(what) >>> 0
}

/** Int32 (Oid): unsigned, so an OID past 2^31 stays positive. */
export function readOid(r: BodyReader, what: string): number {
  return r.int32(what) >>> 0
}

/**
 * Int8(0) flags, "currently unused" in the docs. proto.c refuses any other value ("unrecognized
 * flags %u in commit message"): a flag we do not know could change what the message means.
 */
export function readUnusedFlags(r: BodyReader, what: string): void {
  const flags = r.byte(what)
  if (flags !== 0) throw new ProtocolViolationError(`${what}: ${flags}, where only 0 is defined`)
}

/**
 * Int64 (XLogRecPtr) that must be set: proto.c refuses 0, InvalidXLogRecPtr, in the fields that
 * place a transaction in the WAL (e.g. "final_lsn not set in begin message").
 */
export function readSetLsn(r: BodyReader, what: string): Lsn {
  const lsn = readUint64(r, what)
  if (lsn === 0n) throw new ProtocolViolationError(`${what}: 0 (InvalidXLogRecPtr), where a WAL position is required`)
  return lsn
}

/**
 * `message` with the xid of the streamed transaction in front, when there is one. Outside a
 * stream the key is absent, not undefined: `'xid' in message` says whether it was streamed.
 */
export function withXid<M extends { readonly xid?: number }>(message: M, xid: number | undefined): M {
  return xid === undefined ? message : { xid, ...message }
}

/** A byte for an error message: 'K' when printable ASCII, else 0x05. */
export function describeByte(byte: number): string {
  const printable = byte >= 0x20 && byte < 0x7f
  return printable ? `'${String.fromCharCode(byte)}'` : `0x${byte.toString(16).padStart(2, '0')}`
}
