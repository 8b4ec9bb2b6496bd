/**
 * Decoders of the two-phase commit messages (protocol 3, PostgreSQL 15, option `two_phase`):
 * Begin Prepare, Prepare and Stream Prepare (one grammar), Commit Prepared, Rollback Prepared.
 * Pure: reads from a BodyReader bounded to one pgoutput message, past its type byte. Refuses what
 * proto.c's readers refuse: flags other than 0, and unset LSNs and xids.
 */
import type { BodyReader } from '../../bytes/reader.ts'
import { ProtocolViolationError } from '../../errors.ts'
import { readInt64 } from '../int64.ts'
import type { BeginPrepare, CommitPrepared, Prepare, RollbackPrepared, StreamPrepare } from '../pgoutput-messages.ts'
import { readSetLsn, readUnusedFlags, readXid } from './fields.ts'

/**
 * Begin Prepare
 *   Byte1('b') Int64 prepareLsn Int64 endLsn Int64 prepareTime Int32 xid String gid
 */
export function decodeBeginPrepare(r: BodyReader): BeginPrepare {
  const prepareLsn = readSetLsn(r, 'BeginPrepare prepare LSN')
  const endLsn = readSetLsn(r, 'BeginPrepare end LSN')
  const prepareTime = readInt64(r, 'BeginPrepare prepare time')
  const xid = readXid(r, 'BeginPrepare xid')
  const gid = r.cstring('BeginPrepare gid')
  r.end('BeginPrepare')
  return { type: 'BeginPrepare', prepareLsn, endLsn, prepareTime, xid, gid }
}

/**
 * Prepare, and Stream Prepare, which has the same grammar (logicalrep_read_prepare_common):
 *   Byte1('P' or 'p') Int8(0) flags Int64 prepareLsn Int64 endLsn Int64 prepareTime Int32 xid
 *   String gid
 */
export function decodePrepare(r: BodyReader, type: 'Prepare' | 'StreamPrepare'): Prepare | StreamPrepare {
  readUnusedFlags(r, `${type} flags`)
  const prepareLsn = readSetLsn(r, `${type} prepare LSN`)
  const endLsn = readSetLsn(r, `${type} end LSN`)
  const prepareTime = readInt64(r, `${type} prepare time`)
  const xid = readXid(r, `${type} xid`)
  // Only here does proto.c check the xid ("invalid two-phase transaction ID").
  if (xid === 0) throw new ProtocolViolationError(`${type} xid: 0 (InvalidTransactionId), where a transaction is required`)
  const gid = r.cstring(`${type} gid`)
  r.end(type)
  return { type, prepareLsn, endLsn, prepareTime, xid, gid }
}

/**
 * Commit Prepared
 *   Byte1('K') Int8(0) flags Int64 commitLsn Int64 endLsn Int64 commitTime Int32 xid String gid
 */
export function decodeCommitPrepared(r: BodyReader): CommitPrepared {
  readUnusedFlags(r, 'CommitPrepared flags')
  const commitLsn = readSetLsn(r, 'CommitPrepared commit LSN')
  const endLsn = readSetLsn(r, 'CommitPrepared end LSN')
  const commitTime = readInt64(r, 'CommitPrepared commit time')
  const xid = readXid(r, 'CommitPrepared xid')
  const gid = r.cstring('CommitPrepared gid')
  r.end('CommitPrepared')
  return { type: 'CommitPrepared', commitLsn, endLsn, commitTime, xid, gid }
}

/**
 * Rollback Prepared
 *   Byte1('r') Int8(0) flags Int64 prepareEndLsn Int64 rollbackEndLsn Int64 prepareTime
 *   Int64 rollbackTime Int32 xid String gid
 */
export function decodeRollbackPrepared(r: BodyReader): RollbackPrepared {
  readUnusedFlags(r, 'RollbackPrepared flags')
  const prepareEndLsn = readSetLsn(r, 'RollbackPrepared prepare end LSN')
  const rollbackEndLsn = readSetLsn(r, 'RollbackPrepared rollback end LSN')
  const prepareTime = readInt64(r, 'RollbackPrepared prepare time')
  const rollbackTime = readInt64(r, 'RollbackPrepared rollback time')
  const xid = readXid(r, 'RollbackPrepared xid')
  const gid = r.cstring('RollbackPrepared gid')
  r.end('RollbackPrepared')
  return { type: 'RollbackPrepared', prepareEndLsn, rollbackEndLsn, prepareTime, rollbackTime, xid, gid }
}
