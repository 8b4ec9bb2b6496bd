/**
 * Decoders of the messages that change rows: Insert, Update, Delete and Truncate. Pure: reads
 * from a BodyReader bounded to one pgoutput message, past its type byte and the streamed xid.
 * The markers before each tuple are checked as proto.c's readers check them.
 */
import type { BodyReader } from '../../bytes/reader.ts'
import { ProtocolViolationError } from '../../errors.ts'
import type { Delete, Insert, Truncate, Update } from '../pgoutput-messages.ts'
import { describeByte, readOid, withXid } from './fields.ts'
import { decodeTupleData } from './tuples.ts'

const newTupleMarker = 0x4e // 'N'
const keyMarker = 0x4b // 'K'
const oldTupleMarker = 0x4f // 'O'

/**
 * Insert
 *   Byte1('I') [Int32 xid] Int32 relationOid Byte1('N') TupleData newTuple
 */
export function decodeInsert(r: BodyReader, xid: number | undefined): Insert {
  const relationOid = readOid(r, 'Insert relation OID')
  const marker = r.byte('Insert tuple marker')
  if (marker !== newTupleMarker) throw new ProtocolViolationError(`Insert: expected 'N' before the tuple, got ${describeByte(marker)}`)
  const newTuple = decodeTupleData(r, 'Insert new tuple')
  r.end('Insert')
  return withXid<Insert>({ type: 'Insert', relationOid, newTuple }, xid)
}

/**
 * Update
 *   Byte1('U') [Int32 xid] Int32 relationOid [Byte1('K' or 'O') TupleData oldTuple]
 *   Byte1('N') TupleData newTuple
 */
export function decodeUpdate(r: BodyReader, xid: number | undefined): Update {
  const relationOid = readOid(r, 'Update relation OID')
  const marker = r.byte('Update tuple marker')
  if (marker === newTupleMarker) {
    const newTuple = decodeTupleData(r, 'Update new tuple')
    r.end('Update')
    return withXid<Update>({ type: 'Update', relationOid, newTuple }, xid)
  }
  if (marker !== keyMarker && marker !== oldTupleMarker) {
    throw new ProtocolViolationError(`Update: expected 'K', 'O' or 'N' before the first tuple, got ${describeByte(marker)}`)
  }
  const oldKind = marker === keyMarker ? 'K' : 'O'
  const oldTuple = decodeTupleData(r, 'Update old tuple')
  const second = r.byte('Update new tuple marker')
  if (second !== newTupleMarker) throw new ProtocolViolationError(`Update: expected 'N' after the old tuple, got ${describeByte(second)}`)
  const newTuple = decodeTupleData(r, 'Update new tuple')
  r.end('Update')
  return withXid<Update>({ type: 'Update', relationOid, oldKind, oldTuple, newTuple }, xid)
}

/**
 * Delete
 *   Byte1('D') [Int32 xid] Int32 relationOid Byte1('K' or 'O') TupleData oldTuple
 */
export function decodeDelete(r: BodyReader, xid: number | undefined): Delete {
  const relationOid = readOid(r, 'Delete relation OID')
  const marker = r.byte('Delete tuple marker')
  if (marker !== keyMarker && marker !== oldTupleMarker) {
    throw new ProtocolViolationError(`Delete: expected 'K' or 'O' before the tuple, got ${describeByte(marker)}`)
  }
  const oldTuple = decodeTupleData(r, 'Delete old tuple')
  r.end('Delete')
  return withXid<Delete>({ type: 'Delete', relationOid, oldKind: marker === keyMarker ? 'K' : 'O', oldTuple }, xid)
}

/** Truncate option bits (TRUNCATE_CASCADE, TRUNCATE_RESTART_SEQS in proto.c); others are ignored, as there. */
const cascadeOption = 1
const restartIdentityOption = 2

/**
 * Truncate
 *   Byte1('T') [Int32 xid] Int32 relationCount Int8 options Int32 relationOid × relationCount
 */
export function decodeTruncate(r: BodyReader, xid: number | undefined): Truncate {
  const count = r.int32('Truncate relation count')
  // proto.c reads the count into an int and would loop over no OIDs; here it is an error.
  if (count < 0) throw new ProtocolViolationError(`Truncate: a negative relation count, ${count}`)
  const options = r.byte('Truncate options')
  const relationOids: number[] = []
  // No array sized by the count: a count too large for the body fails at its end.
  for (let i = 0; i < count; i++) relationOids.push(readOid(r, 'Truncate relation OID'))
  r.end('Truncate')
  return withXid<Truncate>({
    type: 'Truncate',
    cascade: (options & cascadeOption) !== 0,
    restartIdentity: (options & restartIdentityOption) !== 0,
    relationOids,
  }, xid)
}
