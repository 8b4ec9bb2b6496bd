/**
 * Decoders of the messages that stream a transaction still in progress (protocol 2, PostgreSQL
 * 14, option `streaming`): Stream Start, Stream Stop, Stream Commit, Stream Abort. Stream Prepare
 * shares Prepare's grammar and lives in two-phase.ts. Pure: reads from a BodyReader bounded to
 * one pgoutput message, past its type byte.
 */
import type { BodyReader } from '../../bytes/reader.ts'
import { readInt64, readUint64 } from '../int64.ts'
import type { StreamAbort, StreamCommit, StreamStart, StreamStop } from '../pgoutput-messages.ts'
import { readUnusedFlags, readXid } from './fields.ts'

/**
 * Stream Start
 *   Byte1('S') Int32 xid Int8 firstSegment
 * Only 1 means a first segment, as in logicalrep_read_stream_start.
 */
export function decodeStreamStart(r: BodyReader): StreamStart {
  const xid = readXid(r, 'StreamStart xid')
  const firstSegment = r.byte('StreamStart first segment') === 1
  r.end('StreamStart')
  return { type: 'StreamStart', xid, firstSegment }
}

/**
 * Stream Stop
 *   Byte1('E')
 */
export function decodeStreamStop(r: BodyReader): StreamStop {
  r.end('StreamStop')
  return { type: 'StreamStop' }
}

/**
 * Stream Commit
 *   Byte1('c') Int32 xid Int8(0) flags Int64 commitLsn Int64 endLsn Int64 commitTime
 */
export function decodeStreamCommit(r: BodyReader): StreamCommit {
  const xid = readXid(r, 'StreamCommit xid')
  readUnusedFlags(r, 'StreamCommit flags')
  const commitLsn = readUint64(r, 'StreamCommit commit LSN')
  const endLsn = readUint64(r, 'StreamCommit end LSN')
  const commitTime = readInt64(r, 'StreamCommit commit time')
  r.end('StreamCommit')
  return { type: 'StreamCommit', xid, commitLsn, endLsn, commitTime }
}

/**
 * Stream Abort
 *   Byte1('A') Int32 xid Int32 subxid [Int64 abortLsn Int64 abortTime]
 * The last two fields come only with protocol 4 and streaming = parallel: nothing in the
 * message says so, only what START_REPLICATION asked for (`parallelAbort`).
 */
export function decodeStreamAbort(r: BodyReader, parallelAbort: boolean): StreamAbort {
  const xid = readXid(r, 'StreamAbort xid')
  const subxid = readXid(r, 'StreamAbort subxid')
  if (!parallelAbort) {
    r.end('StreamAbort')
    return { type: 'StreamAbort', xid, subxid }
  }
  const abortLsn = readUint64(r, 'StreamAbort abort LSN')
  const abortTime = readInt64(r, 'StreamAbort abort time')
  r.end('StreamAbort')
  return { type: 'StreamAbort', xid, subxid, abortLsn, abortTime }
}
