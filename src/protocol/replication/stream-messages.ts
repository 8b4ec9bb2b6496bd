/**
 * The messages inside CopyData once START_REPLICATION has begun ("Streaming Replication
 * Protocol" in the docs): the server's XLogData and primary keepalive, and the client's standby
 * status update. Pure: decoders read a CopyData's bytes, the encoder appends a whole CopyData.
 */
import type { BodyReader } from '../bytes/reader.ts'
import type { ByteWriter } from '../bytes/writer.ts'
import { ProtocolViolationError } from '../errors.ts'
import { readInt64, readUint64, writeInt64 } from './int64.ts'
import type { Lsn } from './lsn.ts'

/**
 * XLogData (B), in CopyData
 *   Byte1('w') Int64 walStart Int64 walEnd Int64 sendTime Byte[n] data
 * For logical replication `data` is one message of the output plugin (pgoutput), left in the
 * reader: `body` is bounded to it, so that its decoder reads it in place.
 */
export interface XLogData {
  readonly type: 'XLogData'
  /** Where this data starts in the WAL; for pgoutput, the LSN of the change it carries. */
  readonly walStart: Lsn
  /** The server's current end of WAL. */
  readonly walEnd: Lsn
  /** The server's clock when it sent this, in microseconds since 2000-01-01 UTC. */
  readonly sendTime: bigint
  /** Bounded to the payload; valid until the next decode with the same reader. */
  readonly body: BodyReader
}

/**
 * Primary keepalive message (B), in CopyData
 *   Byte1('k') Int64 walEnd Int64 sendTime Byte1 replyRequested
 */
export interface PrimaryKeepalive {
  readonly type: 'PrimaryKeepalive'
  /** The server's current end of WAL. */
  readonly walEnd: Lsn
  readonly sendTime: bigint
  /** 1: reply now, or the walsender will count this client as timed out (wal_sender_timeout). */
  readonly replyRequested: boolean
}

export type ReplicationMessage = XLogData | PrimaryKeepalive

/** The header of XLogData before its payload: type byte and three Int64s. */
export const xLogDataHeaderLength = 1 + 8 + 8 + 8

/**
 * Decodes one CopyData's bytes with `reader`, which is reused: an XLogData's `body` stays valid
 * only until the next call. Anything but 'w' or 'k' is a protocol violation.
 */
export function decodeReplicationMessage(data: Uint8Array, reader: BodyReader): ReplicationMessage {
  const r = reader.reset(data, 0, data.length)
  const type = r.byte('replication message type')
  switch (type) {
    case 0x77: // 'w'
      return {
        type: 'XLogData',
        walStart: readUint64(r, 'XLogData WAL start'),
        walEnd: readUint64(r, 'XLogData WAL end'),
        sendTime: readInt64(r, 'XLogData send time'),
        body: r,
      }
    case 0x6b: { // 'k'
      const walEnd = readUint64(r, 'primary keepalive WAL end')
      const sendTime = readInt64(r, 'primary keepalive send time')
      const reply = r.byte('primary keepalive reply flag')
      r.end('primary keepalive')
      return { type: 'PrimaryKeepalive', walEnd, sendTime, replyRequested: reply === 1 }
    }
    default:
      throw new ProtocolViolationError(`unexpected replication message type 0x${type.toString(16).padStart(2, '0')} in CopyData`)
  }
}

export interface StandbyStatus {
  /** The WAL received and written, plus one byte. */
  readonly written: Lsn
  /** The WAL flushed to durable storage, plus one: for logical replication, what the slot may release. */
  readonly flushed: Lsn
  /** The WAL applied, plus one. */
  readonly applied: Lsn
  /** The client's clock, microseconds since 2000-01-01 UTC. */
  readonly clientTime: bigint
  /** Ask the server to answer at once with a keepalive. */
  readonly replyRequested?: boolean
}

/**
 * Standby status update (F), in CopyData
 *   Byte1('d') Int32 length, then Byte1('r') Int64 written Int64 flushed Int64 applied
 *   Int64 clientTime Byte1 replyRequested
 */
export function writeStandbyStatusUpdate(w: ByteWriter, status: StandbyStatus): ByteWriter {
  const at = w.beginMessage(0x64)
  w.byte(0x72)
  writeInt64(w, status.written)
  writeInt64(w, status.flushed)
  writeInt64(w, status.applied)
  writeInt64(w, status.clientTime)
  return w.byte(status.replyRequested ? 1 : 0).endMessage(at)
}

/** Milliseconds from 1970-01-01 (Unix, Date) to 2000-01-01 (PostgreSQL's epoch). */
const pgEpochMs = 946_684_800_000

/** A PostgreSQL timestamp on the wire (µs since 2000-01-01 UTC) as a Date; microseconds are lost. */
export function pgTimeToDate(microseconds: bigint): Date {
  return new Date(Number(microseconds / 1000n) + pgEpochMs)
}

/** Milliseconds since 1970 (Date.now()) as a PostgreSQL timestamp on the wire. */
export function pgTimeFromMs(ms: number): bigint {
  return BigInt(Math.round(ms - pgEpochMs)) * 1000n
}
