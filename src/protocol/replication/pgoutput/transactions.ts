/**
 * Decoders of the messages that frame a transaction and stand outside any table: Begin, Commit,
 * Origin, and Message (pg_logical_emit_message). Pure: reads from a BodyReader bounded to one
 * pgoutput message, past its type byte and (for Message) the streamed xid.
 */
import type { BodyReader } from '../../bytes/reader.ts'
import { readInt64, readUint64 } from '../int64.ts'
import type { Begin, Commit, Message, Origin } from '../pgoutput-messages.ts'
import { readSetLsn, readUnusedFlags, readXid, withXid } from './fields.ts'

/**
 * Begin
 *   Byte1('B') Int64 finalLsn Int64 commitTime Int32 xid
 */
export function decodeBegin(r: BodyReader): Begin {
  const finalLsn = readSetLsn(r, 'Begin final LSN')
  const commitTime = readInt64(r, 'Begin commit time')
  const xid = readXid(r, 'Begin xid')
  r.end('Begin')
  return { type: 'Begin', finalLsn, commitTime, xid }
}

/**
 * Commit
 *   Byte1('C') Int8(0) flags Int64 commitLsn Int64 endLsn Int64 commitTime
 */
export function decodeCommit(r: BodyReader): Commit {
  readUnusedFlags(r, 'Commit flags')
  const commitLsn = readUint64(r, 'Commit LSN')
  const endLsn = readUint64(r, 'Commit end LSN')
  const commitTime = readInt64(r, 'Commit commit time')
  r.end('Commit')
  return { type: 'Commit', commitLsn, endLsn, commitTime }
}

/**
 * Origin
 *   Byte1('O') Int64 commitLsn String name
 * The LSN is not checked: after a Stream Start pgoutput sends it as 0 (pgoutput_stream_start).
 */
export function decodeOrigin(r: BodyReader): Origin {
  const commitLsn = readUint64(r, 'Origin commit LSN')
  const name = r.cstring('Origin name')
  r.end('Origin')
  return { type: 'Origin', commitLsn, name }
}

/** Message flags, bit 1 (MESSAGE_TRANSACTIONAL in proto.c). */
const transactionalFlag = 1

/**
 * Message
 *   Byte1('M') [Int32 xid] Int8 flags Int64 lsn String prefix Int32 length Byte[length] content
 * Only bit 1 of the flags has a meaning; PostgreSQL has no reader of this message to say what
 * another bit would be, so the others are ignored, as proto.c ignores Truncate's spare bits.
 */
export function decodeMessage(r: BodyReader, xid: number | undefined): Message {
  const flags = r.byte('Message flags')
  const lsn = readUint64(r, 'Message LSN')
  const prefix = r.cstring('Message prefix')
  const content = r.bytes(r.int32('Message content length'), 'Message content')
  r.end('Message')
  return withXid<Message>({ type: 'Message', transactional: (flags & transactionalFlag) !== 0, lsn, prefix, content }, xid)
}
