/**
 * From one pgoutput message (the data of one XLogData) to a PgoutputMessage: the dispatch over
 * the decoders of this folder. Pure. What the bytes cannot say, the caller says in a
 * PgoutputContext: whether a stream is open, and what START_REPLICATION asked for.
 */
import type { BodyReader } from '../../bytes/reader.ts'
import { ProtocolViolationError } from '../../errors.ts'
import type { PgoutputMessage } from '../pgoutput-messages.ts'
import { decodeDelete, decodeInsert, decodeTruncate, decodeUpdate } from './changes.ts'
import { describeByte, readXid } from './fields.ts'
import { decodeRelation, decodeType } from './relations.ts'
import { decodeStreamAbort, decodeStreamCommit, decodeStreamStart, decodeStreamStop } from './streaming.ts'
import { decodeBegin, decodeCommit, decodeMessage, decodeOrigin } from './transactions.ts'
import { decodeBeginPrepare, decodeCommitPrepared, decodePrepare, decodeRollbackPrepared } from './two-phase.ts'

export interface PgoutputContext {
  /** Between Stream Start and Stream Stop: Relation, Type, Insert, Update, Delete, Truncate and Message carry the xid of the streamed transaction first. */
  readonly inStream: boolean
  /** START_REPLICATION asked streaming 'parallel' (protocol 4): Stream Abort carries the abort LSN and time. */
  readonly parallelAbort: boolean
}

/**
 * Decodes the pgoutput message that `r` is bounded to, its type byte first, and checks that it
 * fills the body exactly. Throws ProtocolViolationError for malformed bytes or an unknown type.
 */
export function decodePgoutput(r: BodyReader, context: PgoutputContext): PgoutputMessage {
  const type = r.byte('pgoutput message type')
  switch (type) {
    case 0x49: // 'I', first: changes are most of a stream
      return decodeInsert(r, streamedXid(r, context, 'Insert xid'))
    case 0x55: // 'U'
      return decodeUpdate(r, streamedXid(r, context, 'Update xid'))
    case 0x44: // 'D'
      return decodeDelete(r, streamedXid(r, context, 'Delete xid'))
    case 0x42: // 'B'
      return decodeBegin(r)
    case 0x43: // 'C'
      return decodeCommit(r)
    case 0x52: // 'R'
      return decodeRelation(r, streamedXid(r, context, 'Relation xid'))
    case 0x59: // 'Y'
      return decodeType(r, streamedXid(r, context, 'Type xid'))
    case 0x54: // 'T'
      return decodeTruncate(r, streamedXid(r, context, 'Truncate xid'))
    case 0x4d: // 'M'
      return decodeMessage(r, streamedXid(r, context, 'Message xid'))
    case 0x4f: // 'O'
      return decodeOrigin(r)
    case 0x53: // 'S'
      return decodeStreamStart(r)
    case 0x45: // 'E'
      return decodeStreamStop(r)
    case 0x63: // 'c'
      return decodeStreamCommit(r)
    case 0x41: // 'A'
      return decodeStreamAbort(r, context.parallelAbort)
    case 0x62: // 'b'
      return decodeBeginPrepare(r)
    case 0x50: // 'P'
      return decodePrepare(r, 'Prepare')
    case 0x4b: // 'K'
      return decodeCommitPrepared(r)
    case 0x72: // 'r'
      return decodeRollbackPrepared(r)
    case 0x70: // 'p'
      return decodePrepare(r, 'StreamPrepare')
    default:
      throw new ProtocolViolationError(`unexpected pgoutput message type ${describeByte(type)}`)
  }
}

/**
 * The Int32 xid that follows the type byte of a change, Relation, Type or Message inside a
 * stream: the id of the (sub)transaction that made it, which may be a subtransaction of the one
 * Stream Start named (pgoutput_change sends change->txn->xid), so that a Stream Abort of that
 * subtransaction can discard its changes alone.
 */
function streamedXid(r: BodyReader, context: PgoutputContext, what: string): number | undefined {
  return context.inStream ? readXid(r, what) : undefined
}
