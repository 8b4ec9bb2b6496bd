/**
 * Int64 on the wire, which only replication carries: LSNs (unsigned) and timestamps (signed),
 * as bigints. Functions beside BodyReader and ByteWriter rather than their methods, so that a
 * bundle without replication does not carry them (a class's methods are never tree-shaken).
 * Pure; imports the reader's and the writer's types only.
 */
import type { BodyReader } from '../bytes/reader.ts'
import type { ByteWriter } from '../bytes/writer.ts'

/**
 * Int64, unsigned: an LSN (a WAL position, which only grows). A bigint, since a Number holds
 * only 53 bits exactly and LSNs pass that on a server that has written 8 PiB of WAL.
 */
export function readUint64(r: BodyReader, what: string): bigint {
  const high = r.int32(what) >>> 0
  const low = r.int32(what) >>> 0
  return (BigInt(high) << 32n) | BigInt(low)
}

/** Int64, signed: a timestamp in microseconds since 2000-01-01 UTC (PostgreSQL's epoch). */
export function readInt64(r: BodyReader, what: string): bigint {
  return BigInt.asIntN(64, readUint64(r, what))
}

/** Int64 from a bigint: an LSN or a timestamp in microseconds (two's complement if negative). */
export function writeInt64(w: ByteWriter, value: bigint): ByteWriter {
  return w.int32(Number(BigInt.asIntN(32, value >> 32n))).int32(Number(BigInt.asIntN(32, value)))
}
