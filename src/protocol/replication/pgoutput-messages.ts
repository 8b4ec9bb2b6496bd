/**
 * The messages of pgoutput, the logical replication output plugin, protocol versions 1 to 4
 * ("Logical Replication Message Formats" in the protocol docs), as a discriminated union on
 * `type`, each named as its heading in the docs. Types only, and the one marker value
 * `unchangedToast`; the decoders are in ./pgoutput/. Imports nothing but the Lsn type.
 *
 * Units: LSNs are bigints (an Int64 may pass 2^53); timestamps are bigints, microseconds since
 * 2000-01-01 UTC (PostgreSQL's epoch: see pgTimeToDate in stream-messages.ts); xids and OIDs are
 * unsigned 32-bit numbers. Which message can appear from which protocol version and server:
 *   1 (PostgreSQL 10): Begin, Commit, Origin, Relation, Type, Insert, Update, Delete; Truncate
 *     from PostgreSQL 11; Message (option `messages`) and binary column values (option
 *     `binary`) from PostgreSQL 14, with any protocol version.
 *   2 (PostgreSQL 14, option `streaming`): the Stream messages, and the `xid` of Relation, Type,
 *     Insert, Update, Delete, Truncate and Message between Stream Start and Stream Stop.
 *   3 (PostgreSQL 15, option `two_phase`): Begin Prepare, Prepare, Commit Prepared, Rollback
 *     Prepared, Stream Prepare.
 *   4 (PostgreSQL 16, option `streaming` = parallel): Stream Abort's abort LSN and time.
 */
import type { Lsn } from './lsn.ts'

/**
 * The value of a TOASTed column that the change left alone (TupleData's Byte1('u')): the server
 * does not send it, and it is not null. Never undefined, so it cannot be mistaken for a missing
 * column.
 */
export const unchangedToast: unique symbol = Symbol('unchanged TOAST value')

/**
 * One column of a TupleData: text ('t'), binary ('b', the type's send format, with the option
 * `binary`), null ('n') or unchanged TOAST ('u'). Text, like every String of these messages, is
 * in the connection's client_encoding (proto.c sends it with pq_sendcountedtext, which
 * converts), and pglisten always asks for UTF8; binary values and Message content are as stored.
 */
export type ColumnValue = string | Uint8Array | null | typeof unchangedToast

/**
 * TupleData: one value per column the Relation message listed, in its order. Columns left out
 * by a publication's column list (PostgreSQL 15) or generated columns are in neither.
 */
export type TupleData = readonly ColumnValue[]

/** pg_class.relreplident: 'd' default (the primary key), 'n' nothing, 'f' full, 'i' an index. */
export type ReplicaIdentity = 'd' | 'n' | 'f' | 'i'

/**
 * Begin
 *   Byte1('B') Int64 finalLsn Int64 commitTime Int32 xid
 */
export interface Begin {
  readonly type: 'Begin'
  /** The LSN of the transaction's commit record, never 0. */
  readonly finalLsn: Lsn
  /** When the transaction committed, in microseconds since 2000-01-01 UTC. */
  readonly commitTime: bigint
  /** The transaction's id. */
  readonly xid: number
}

/**
 * Message: one pg_logical_emit_message() call (with the option `messages`, PostgreSQL 14)
 *   Byte1('M') [Int32 xid] Int8 flags Int64 lsn String prefix Int32 length Byte[length] content
 */
export interface Message {
  readonly type: 'Message'
  /** The (sub)transaction's id: present only between Stream Start and Stream Stop. */
  readonly xid?: number
  /** Flag 1: sent with its transaction, at commit; else sent at once, whatever becomes of it. */
  readonly transactional: boolean
  /** The LSN of the message's own WAL record. */
  readonly lsn: Lsn
  /** The prefix given to pg_logical_emit_message, which says whose message it is. */
  readonly prefix: string
  /** The content, bytes as given (pg_logical_emit_message takes text or bytea). */
  readonly content: Uint8Array
}

/**
 * Commit
 *   Byte1('C') Int8(0) flags Int64 commitLsn Int64 endLsn Int64 commitTime
 */
export interface Commit {
  readonly type: 'Commit'
  /** The LSN of the commit record: the Begin's finalLsn. */
  readonly commitLsn: Lsn
  /** The end of the commit record: where a client that has applied it confirms it has flushed to. */
  readonly endLsn: Lsn
  /** When the transaction committed, in microseconds since 2000-01-01 UTC. */
  readonly commitTime: bigint
}

/**
 * Origin: the transaction was replicated here from elsewhere (a replication origin was set).
 *   Byte1('O') Int64 commitLsn String name
 */
export interface Origin {
  readonly type: 'Origin'
  /** The LSN of the commit on the origin server; 0 when it follows a Stream Start. */
  readonly commitLsn: Lsn
  /** The name of the origin. */
  readonly name: string
}

/** One column of a Relation message. */
export interface RelationColumn {
  /** Flags as sent; bit 1 marks a column of the replica identity (every column with FULL). */
  readonly flags: number
  /** Flag bit 1: the column is part of the replica identity, so it is in a 'K' tuple. */
  readonly isKey: boolean
  /** The column's name. */
  readonly name: string
  /** The OID of the column's type (pg_attribute.atttypid). */
  readonly typeOid: number
  /** The type modifier (pg_attribute.atttypmod), -1 when the type has none. */
  readonly typeModifier: number
}

/**
 * Relation: sent before the first change to a table, and again after its definition changed.
 *   Byte1('R') [Int32 xid] Int32 relationOid String namespace String relationName
 *   Int8 replicaIdentity Int16 columnCount, then per column:
 *     Int8 flags String name Int32 typeOid Int32 typeModifier
 */
export interface Relation {
  readonly type: 'Relation'
  /** The (sub)transaction's id: present only between Stream Start and Stream Stop. */
  readonly xid?: number
  /** The table's OID, by which the changes that follow name it. */
  readonly relationOid: number
  /** The schema, as sent: the empty string stands for pg_catalog. */
  readonly namespace: string
  /** The table's name. */
  readonly relationName: string
  /** The table's REPLICA IDENTITY, as pg_class.relreplident. */
  readonly replicaIdentity: ReplicaIdentity
  /** The published columns, in the order of every TupleData for this table. */
  readonly columns: readonly RelationColumn[]
}

/**
 * Type: sent before a Relation for each column whose type OID was not hand-assigned in the
 * catalogs (user-defined types, and information_schema's).
 *   Byte1('Y') [Int32 xid] Int32 typeOid String namespace String typeName
 */
export interface Type {
  readonly type: 'Type'
  /** The (sub)transaction's id: present only between Stream Start and Stream Stop. */
  readonly xid?: number
  /** The column's type OID: for a domain, the domain's own. */
  readonly typeOid: number
  /** The type's schema, as sent: the empty string stands for pg_catalog. For a domain, its base type's. */
  readonly namespace: string
  /** The type's name. For a domain, its base type's name (logicalrep_write_typ looks up getBaseType). */
  readonly typeName: string
}

/**
 * Insert
 *   Byte1('I') [Int32 xid] Int32 relationOid Byte1('N') TupleData newTuple
 */
export interface Insert {
  readonly type: 'Insert'
  /** The (sub)transaction's id: present only between Stream Start and Stream Stop. */
  readonly xid?: number
  /** The table, as its Relation message described it. */
  readonly relationOid: number
  /** The inserted row. */
  readonly newTuple: TupleData
}

/**
 * Update
 *   Byte1('U') [Int32 xid] Int32 relationOid [Byte1('K' or 'O') TupleData oldTuple]
 *   Byte1('N') TupleData newTuple
 */
export interface Update {
  readonly type: 'Update'
  /** The (sub)transaction's id: present only between Stream Start and Stream Stop. */
  readonly xid?: number
  /** The table, as its Relation message described it. */
  readonly relationOid: number
  /**
   * With `oldTuple`, or both absent: 'K' when the update changed the replica identity's key
   * (only its columns are values, the rest null), 'O' with REPLICA IDENTITY FULL (the old row).
   */
  readonly oldKind?: 'K' | 'O'
  /** The old key or row, as `oldKind` says; absent when the key did not change. */
  readonly oldTuple?: TupleData
  /** The new row; a TOASTed column it left alone is `unchangedToast`. */
  readonly newTuple: TupleData
}

/**
 * Delete
 *   Byte1('D') [Int32 xid] Int32 relationOid Byte1('K' or 'O') TupleData oldTuple
 */
export interface Delete {
  readonly type: 'Delete'
  /** The (sub)transaction's id: present only between Stream Start and Stream Stop. */
  readonly xid?: number
  /** The table, as its Relation message described it. */
  readonly relationOid: number
  /** 'K': only the replica identity's columns are values (the rest null); 'O': the whole row (FULL). */
  readonly oldKind: 'K' | 'O'
  /** The deleted row's key or the whole row, as `oldKind` says. */
  readonly oldTuple: TupleData
}

/**
 * Truncate (PostgreSQL 11)
 *   Byte1('T') [Int32 xid] Int32 relationCount Int8 options Int32 relationOid × relationCount
 */
export interface Truncate {
  readonly type: 'Truncate'
  /** The (sub)transaction's id: present only between Stream Start and Stream Stop. */
  readonly xid?: number
  /** Option bit 1: TRUNCATE ... CASCADE. */
  readonly cascade: boolean
  /** Option bit 2: TRUNCATE ... RESTART IDENTITY. */
  readonly restartIdentity: boolean
  /** The tables truncated together, each described by an earlier Relation message. */
  readonly relationOids: readonly number[]
}

/**
 * Stream Start (protocol 2): the changes that follow, up to Stream Stop, belong to a transaction
 * still in progress, streamed because it outgrew logical_decoding_work_mem.
 *   Byte1('S') Int32 xid Int8 firstSegment
 */
export interface StreamStart {
  readonly type: 'StreamStart'
  /** The top-level transaction's id. */
  readonly xid: number
  /** 1: this is the transaction's first segment (another value counts as 0, as in proto.c). */
  readonly firstSegment: boolean
}

/**
 * Stream Stop (protocol 2): the end of one segment of a streamed transaction.
 *   Byte1('E')
 */
export interface StreamStop {
  readonly type: 'StreamStop'
}

/**
 * Stream Commit (protocol 2): a streamed transaction committed; apply its segments.
 *   Byte1('c') Int32 xid Int8(0) flags Int64 commitLsn Int64 endLsn Int64 commitTime
 */
export interface StreamCommit {
  readonly type: 'StreamCommit'
  /** The top-level transaction's id. */
  readonly xid: number
  /** The LSN of the commit record. */
  readonly commitLsn: Lsn
  /** The end of the commit record: what to confirm once applied. */
  readonly endLsn: Lsn
  /** When the transaction committed, in microseconds since 2000-01-01 UTC. */
  readonly commitTime: bigint
}

/**
 * Stream Abort (protocol 2; the last two fields with protocol 4 and streaming = parallel)
 *   Byte1('A') Int32 xid Int32 subxid [Int64 abortLsn Int64 abortTime]
 */
export interface StreamAbort {
  readonly type: 'StreamAbort'
  /** The top-level transaction's id. */
  readonly xid: number
  /** The aborted subtransaction's id; equal to `xid` when the whole transaction aborted. */
  readonly subxid: number
  /** The LSN of the abort record: present only when streaming is parallel. */
  readonly abortLsn?: Lsn
  /** When it aborted, in microseconds since 2000-01-01 UTC: present only when streaming is parallel. */
  readonly abortTime?: bigint
}

/**
 * Begin Prepare (protocol 3, option `two_phase`): a transaction that PREPARE TRANSACTION ended.
 *   Byte1('b') Int64 prepareLsn Int64 endLsn Int64 prepareTime Int32 xid String gid
 */
export interface BeginPrepare {
  readonly type: 'BeginPrepare'
  /** The LSN of the prepare record, never 0. */
  readonly prepareLsn: Lsn
  /** The end of the prepare record, never 0. */
  readonly endLsn: Lsn
  /** When it was prepared, in microseconds since 2000-01-01 UTC. */
  readonly prepareTime: bigint
  /** The transaction's id. */
  readonly xid: number
  /** The transaction's global identifier, as given to PREPARE TRANSACTION. */
  readonly gid: string
}

/**
 * Prepare (protocol 3): the end of a prepared transaction's changes.
 *   Byte1('P') Int8(0) flags Int64 prepareLsn Int64 endLsn Int64 prepareTime Int32 xid String gid
 */
export interface Prepare {
  readonly type: 'Prepare'
  /** The LSN of the prepare record, never 0. */
  readonly prepareLsn: Lsn
  /** The end of the prepare record, never 0. */
  readonly endLsn: Lsn
  /** When it was prepared, in microseconds since 2000-01-01 UTC. */
  readonly prepareTime: bigint
  /** The transaction's id, never 0. */
  readonly xid: number
  /** The transaction's global identifier. */
  readonly gid: string
}

/**
 * Commit Prepared (protocol 3): COMMIT PREPARED of a transaction sent earlier.
 *   Byte1('K') Int8(0) flags Int64 commitLsn Int64 endLsn Int64 commitTime Int32 xid String gid
 */
export interface CommitPrepared {
  readonly type: 'CommitPrepared'
  /** The LSN of the COMMIT PREPARED record, never 0. */
  readonly commitLsn: Lsn
  /** The end of that record, never 0. */
  readonly endLsn: Lsn
  /** When it committed, in microseconds since 2000-01-01 UTC. */
  readonly commitTime: bigint
  /** The transaction's id. */
  readonly xid: number
  /** The transaction's global identifier. */
  readonly gid: string
}

/**
 * Rollback Prepared (protocol 3): ROLLBACK PREPARED of a transaction sent earlier.
 *   Byte1('r') Int8(0) flags Int64 prepareEndLsn Int64 rollbackEndLsn Int64 prepareTime
 *   Int64 rollbackTime Int32 xid String gid
 */
export interface RollbackPrepared {
  readonly type: 'RollbackPrepared'
  /** The end of the prepare record, never 0: with prepareTime, which prepared transaction this is. */
  readonly prepareEndLsn: Lsn
  /** The end of the ROLLBACK PREPARED record, never 0. */
  readonly rollbackEndLsn: Lsn
  /** When it was prepared, in microseconds since 2000-01-01 UTC. */
  readonly prepareTime: bigint
  /** When it was rolled back, in microseconds since 2000-01-01 UTC. */
  readonly rollbackTime: bigint
  /** The transaction's id. */
  readonly xid: number
  /** The transaction's global identifier (the gid alone may have been reused). */
  readonly gid: string
}

/**
 * Stream Prepare (protocol 3): a streamed transaction was prepared. Prepare's grammar.
 *   Byte1('p') Int8(0) flags Int64 prepareLsn Int64 endLsn Int64 prepareTime Int32 xid String gid
 */
export interface StreamPrepare {
  readonly type: 'StreamPrepare'
  /** The LSN of the prepare record, never 0. */
  readonly prepareLsn: Lsn
  /** The end of the prepare record, never 0. */
  readonly endLsn: Lsn
  /** When it was prepared, in microseconds since 2000-01-01 UTC. */
  readonly prepareTime: bigint
  /** The top-level transaction's id, never 0. */
  readonly xid: number
  /** The transaction's global identifier. */
  readonly gid: string
}

export type PgoutputMessage =
  | Begin
  | Message
  | Commit
  | Origin
  | Relation
  | Type
  | Insert
  | Update
  | Delete
  | Truncate
  | StreamStart
  | StreamStop
  | StreamCommit
  | StreamAbort
  | BeginPrepare
  | Prepare
  | CommitPrepared
  | RollbackPrepared
  | StreamPrepare
