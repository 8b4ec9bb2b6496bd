/**
 * From pgoutput messages to the changes a replication stream hands on: rows as objects keyed
 * by column name with JS values, each change with its transaction's id, commit LSN and time,
 * and what acknowledging it would let the slot forget. Pure: imports the protocol's pgoutput
 * decoder and types, and the value parsers.
 */
import type { BodyReader } from '../protocol/bytes/reader.ts'
import { ProtocolViolationError } from '../protocol/errors.ts'
import type { Lsn } from '../protocol/replication/lsn.ts'
import { decodePgoutput } from '../protocol/replication/pgoutput/decode.ts'
import { unchangedToast, type ColumnValue, type PgoutputMessage, type Relation } from '../protocol/replication/pgoutput-messages.ts'
import { pgTimeToDate } from '../protocol/replication/stream-messages.ts'
import type { ValueParser } from './values.ts'

export { unchangedToast }

/** A table as its last Relation message described it. */
export interface RelationInfo {
  readonly oid: number
  readonly schema: string
  readonly table: string
  /** 'default' (the primary key), 'nothing', 'full' (every column) or 'index' (a unique index). */
  readonly replicaIdentity: 'default' | 'nothing' | 'full' | 'index'
  readonly columns: readonly { readonly name: string; readonly typeOid: number; readonly isKey: boolean }[]
}

/** A row: column name to value. A TOASTed value the change left alone is `unchangedToast`, never undefined. */
export type Row = Record<string, unknown>

interface InTransaction {
  /** The transaction's id. */
  readonly xid: number
  /**
   * The LSN of the record that ends the transaction: its commit, or for a prepared transaction
   * (`gid` set) its PREPARE. With `lsn`, what to deduplicate by after a redelivery.
   */
  readonly commitLsn: Lsn
  readonly commitTime: Date
  /** Set for a prepared transaction (twoPhase): its global id; COMMIT or ROLLBACK PREPARED comes later. */
  readonly gid?: string
  /** Where this change is in the WAL. */
  readonly lsn: Lsn
}

export interface BeginChange extends InTransaction {
  readonly kind: 'begin'
}
export interface InsertChange extends InTransaction {
  readonly kind: 'insert'
  readonly relation: RelationInfo
  readonly row: Row
  /** The replica identity's columns of the new row. */
  readonly key: Row
}
export interface UpdateChange extends InTransaction {
  readonly kind: 'update'
  readonly relation: RelationInfo
  readonly row: Row
  /** The replica identity's columns: of the old row if the key changed or the identity is full, else of the new. */
  readonly key: Row
  /** The whole old row, with REPLICA IDENTITY FULL; else null. */
  readonly old: Row | null
}
export interface DeleteChange extends InTransaction {
  readonly kind: 'delete'
  readonly relation: RelationInfo
  readonly key: Row
  /** The whole old row, with REPLICA IDENTITY FULL; else null. */
  readonly old: Row | null
}
export interface TruncateChange extends InTransaction {
  readonly kind: 'truncate'
  readonly relations: readonly RelationInfo[]
  readonly cascade: boolean
  readonly restartIdentity: boolean
}
export interface MessageChange {
  readonly kind: 'message'
  /** Emitted with pg_logical_emit_message(true, ...): delivered with its transaction, at commit. */
  readonly transactional: boolean
  readonly prefix: string
  readonly content: Uint8Array
  readonly lsn: Lsn
  /** For a transactional message: its transaction. */
  readonly xid?: number
  readonly commitLsn?: Lsn
  readonly commitTime?: Date
}
export interface CommitChange extends InTransaction {
  readonly kind: 'commit'
  /** The end of the commit record: acknowledged, this is where the slot moves to. */
  readonly endLsn: Lsn
}

/** PREPARE TRANSACTION ended the transaction begun before (twoPhase): acknowledged, the slot moves past it. */
export interface PrepareChange extends InTransaction {
  readonly kind: 'prepare'
  readonly gid: string
  /** The end of the prepare record. */
  readonly endLsn: Lsn
}
/** COMMIT PREPARED or ROLLBACK PREPARED of a transaction handed on earlier, perhaps long before. */
export interface PreparedOutcomeChange {
  readonly kind: 'commit-prepared' | 'rollback-prepared'
  readonly xid: number
  readonly gid: string
  /** Where this record ends in the WAL: what acknowledging it confirms. */
  readonly lsn: Lsn
  readonly time: Date
}

export type ReplicationChange =
  | BeginChange
  | InsertChange
  | UpdateChange
  | DeleteChange
  | TruncateChange
  | MessageChange
  | CommitChange
  | PrepareChange
  | PreparedOutcomeChange

/** A change to hand on, and what it means for acknowledgement (ledger.ts's Delivery). */
export interface Taken {
  readonly change: ReplicationChange
  readonly completes?: Lsn
  readonly open: boolean
}

const identities = { d: 'default', n: 'nothing', f: 'full', i: 'index' } as const

/** The transaction whose changes are being handed on. */
interface Current {
  readonly xid: number
  readonly commitLsn: Lsn
  readonly commitTime: Date
  readonly gid?: string
}

/** A change of a streamed transaction, kept until its Stream Commit (or dropped at its Stream Abort). */
interface Streamed {
  /** The (sub)transaction it belongs to: a Stream Abort may drop one subtransaction's changes. */
  readonly xid: number
  readonly message: PgoutputMessage
  readonly walStart: Lsn
  /** The relations as they were when the change was streamed. */
  readonly relations: ReadonlyMap<number, RelationInfo>
}

/**
 * Turns pgoutput messages into changes, calling `emit` for each in order. Streamed transactions
 * (streaming 'on', protocol 2) are kept until their Stream Commit and handed on then, as one
 * transaction, so the application sees only what committed; a Stream Abort drops them.
 * Memory for them grows with the transaction: for bounded memory leave streaming off, and the
 * server spills large transactions to its own disk instead.
 */
export class ChangeDecoder {
  readonly #parse: ValueParser
  readonly #emit: (taken: Taken) => void
  readonly #context: { inStream: boolean; parallelAbort: boolean }
  /** Relations by OID: pgoutput describes each once per connection, before its first change. */
  #relations = new Map<number, RelationInfo>()
  #transaction: Current | undefined
  /** Streamed transactions not yet committed, by top-level xid; and the one streaming now. */
  readonly #streams = new Map<number, Streamed[]>()
  #streaming: Streamed[] | undefined

  constructor(parse: ValueParser, emit: (taken: Taken) => void, options: { parallelAbort?: boolean } = {}) {
    this.#parse = parse
    this.#emit = emit
    this.#context = { inStream: false, parallelAbort: options.parallelAbort ?? false }
  }

  /** One pgoutput message, the payload of an XLogData that started at `walStart`. */
  take(body: BodyReader, walStart: Lsn): void {
    const message = decodePgoutput(body, this.#context)
    if (this.#streaming !== undefined) this.#inStream(message, walStart)
    else this.#take(message, walStart)
  }

  /** Between Stream Start and Stream Stop: kept for later, but for the relations they describe. */
  #inStream(m: PgoutputMessage, walStart: Lsn): void {
    switch (m.type) {
      case 'StreamStop':
        this.#streaming = undefined
        this.#context.inStream = false
        return
      case 'Relation':
        this.#describe(m)
        return
      case 'Type':
      case 'Origin':
        return
      case 'Insert':
      case 'Update':
      case 'Delete':
      case 'Truncate':
      case 'Message':
        // A message outside any transaction is never part of a stream: it goes out as decoded.
        if (m.type === 'Message' && !m.transactional) return this.#take(m, walStart)
        this.#streaming!.push({ xid: m.xid ?? 0, message: m, walStart, relations: this.#relations })
        return
      default:
        throw new ProtocolViolationError(`${m.type} between Stream Start and Stream Stop`)
    }
  }

  #take(m: PgoutputMessage, walStart: Lsn): void {
    switch (m.type) {
      case 'Begin':
        this.#begin({ xid: m.xid, commitLsn: m.finalLsn, commitTime: pgTimeToDate(m.commitTime) }, walStart)
        return
      case 'Commit': {
        const t = this.#inTransaction('Commit')
        if (m.commitLsn !== t.commitLsn) throw new ProtocolViolationError(`Commit at ${m.commitLsn} for a transaction begun as committing at ${t.commitLsn}`)
        this.#end({ kind: 'commit', ...t, lsn: m.endLsn, endLsn: m.endLsn }, m.endLsn)
        return
      }
      case 'BeginPrepare':
        this.#begin({ xid: m.xid, commitLsn: m.prepareLsn, commitTime: pgTimeToDate(m.prepareTime), gid: m.gid }, walStart)
        return
      case 'Prepare': {
        const t = this.#inTransaction('Prepare')
        if (m.gid !== t.gid || m.xid !== t.xid) throw new ProtocolViolationError(`Prepare of ${JSON.stringify(m.gid)} inside the prepared transaction ${JSON.stringify(t.gid)}`)
        this.#end({ kind: 'prepare', ...t, gid: m.gid, lsn: m.endLsn, endLsn: m.endLsn }, m.endLsn)
        return
      }
      case 'CommitPrepared':
      case 'RollbackPrepared': {
        if (this.#transaction) throw new ProtocolViolationError(`${m.type} inside a transaction`)
        const [kind, lsn, time] = m.type === 'CommitPrepared' ? (['commit-prepared', m.endLsn, m.commitTime] as const) : (['rollback-prepared', m.rollbackEndLsn, m.rollbackTime] as const)
        this.#emit({ change: { kind, xid: m.xid, gid: m.gid, lsn, time: pgTimeToDate(time) }, completes: lsn, open: false })
        return
      }
      case 'StreamStart': {
        if (this.#transaction) throw new ProtocolViolationError('Stream Start inside a transaction')
        let stream = this.#streams.get(m.xid)
        if (stream === undefined) this.#streams.set(m.xid, (stream = []))
        this.#streaming = stream
        this.#context.inStream = true
        return
      }
      case 'StreamCommit':
        this.#replay(m.xid, { xid: m.xid, commitLsn: m.commitLsn, commitTime: pgTimeToDate(m.commitTime) }, { kind: 'commit', lsn: m.endLsn, endLsn: m.endLsn })
        return
      case 'StreamPrepare':
        this.#replay(m.xid, { xid: m.xid, commitLsn: m.prepareLsn, commitTime: pgTimeToDate(m.prepareTime), gid: m.gid }, { kind: 'prepare', lsn: m.endLsn, endLsn: m.endLsn })
        return
      case 'StreamAbort': {
        const stream = this.#streams.get(m.xid)
        if (m.subxid === m.xid || stream === undefined) this.#streams.delete(m.xid)
        else this.#streams.set(m.xid, stream.filter((change) => change.xid !== m.subxid))
        return
      }
      case 'StreamStop':
        throw new ProtocolViolationError('Stream Stop without Stream Start')
      case 'Relation':
        this.#describe(m)
        return
      case 'Type':
      case 'Origin':
        return
      case 'Message':
        if (!m.transactional) {
          // Outside any transaction: acknowledged, the slot may move to its LSN, which is where
          // its record ends and the next begins. Not one byte further: the next record may be a
          // commit, and a position past a commit's start makes the server skip that transaction.
          const change: MessageChange = { kind: 'message', transactional: false, prefix: m.prefix, content: m.content, lsn: m.lsn }
          this.#emit({ change, completes: m.lsn, open: this.#transaction !== undefined })
          return
        }
        this.#change(m, walStart, this.#inTransaction('a transactional Message'), this.#relations)
        return
      default:
        this.#change(m, walStart, this.#inTransaction(m.type), this.#relations)
    }
  }

  #begin(t: Current, walStart: Lsn): void {
    if (this.#transaction) throw new ProtocolViolationError('a transaction begun inside another')
    this.#transaction = t
    this.#emit({ change: { kind: 'begin', ...t, lsn: walStart }, open: true })
  }

  #end(change: CommitChange | PrepareChange, endLsn: Lsn): void {
    this.#transaction = undefined
    this.#emit({ change, completes: endLsn, open: false })
  }

  /** A streamed transaction committed (or was prepared): its changes, as one transaction. */
  #replay(xid: number, t: Current, end: { kind: 'commit' | 'prepare'; lsn: Lsn; endLsn: Lsn }): void {
    if (this.#transaction) throw new ProtocolViolationError(`a streamed transaction ended inside another transaction`)
    const stream = this.#streams.get(xid) ?? []
    this.#streams.delete(xid)
    this.#begin(t, stream[0]?.walStart ?? t.commitLsn)
    for (const streamed of stream) this.#change(streamed.message, streamed.walStart, t, streamed.relations)
    this.#end({ ...t, ...end } as CommitChange | PrepareChange, end.endLsn)
  }

  #describe(m: Relation): void {
    // A new map, so that changes kept from a streamed transaction keep the descriptions they had.
    const relations = new Map(this.#relations)
    relations.set(m.relationOid, {
      oid: m.relationOid,
      // The docs: an empty namespace means pg_catalog.
      schema: m.namespace === '' ? 'pg_catalog' : m.namespace,
      table: m.relationName,
      replicaIdentity: identities[m.replicaIdentity] ?? 'default',
      columns: m.columns.map((c) => ({ name: c.name, typeOid: c.typeOid, isKey: c.isKey })),
    })
    this.#relations = relations
  }

  /** A change inside transaction `t`, its tuples read with `relations`. */
  #change(m: PgoutputMessage, walStart: Lsn, t: Current, relations: ReadonlyMap<number, RelationInfo>): void {
    const relation = (oid: number) => {
      const info = relations.get(oid)
      if (info === undefined) throw new ProtocolViolationError(`a change to relation ${oid}, which no Relation message described`)
      return info
    }
    let change: ReplicationChange
    switch (m.type) {
      case 'Insert': {
        const info = relation(m.relationOid)
        const row = this.#row(info, m.newTuple)
        change = { kind: 'insert', ...t, lsn: walStart, relation: info, row, key: keyOf(info, row) }
        break
      }
      case 'Update': {
        const info = relation(m.relationOid)
        const row = this.#row(info, m.newTuple)
        const before = m.oldTuple === undefined ? undefined : this.#row(info, m.oldTuple)
        change = { kind: 'update', ...t, lsn: walStart, relation: info, row, key: keyOf(info, before ?? row), old: m.oldKind === 'O' && before ? before : null }
        break
      }
      case 'Delete': {
        const info = relation(m.relationOid)
        const before = this.#row(info, m.oldTuple)
        change = { kind: 'delete', ...t, lsn: walStart, relation: info, key: keyOf(info, before), old: m.oldKind === 'O' ? before : null }
        break
      }
      case 'Truncate':
        change = { kind: 'truncate', ...t, lsn: walStart, relations: m.relationOids.map(relation), cascade: m.cascade, restartIdentity: m.restartIdentity }
        break
      case 'Message':
        change = { kind: 'message', transactional: true, prefix: m.prefix, content: m.content, lsn: m.lsn, xid: t.xid, commitLsn: t.commitLsn, commitTime: t.commitTime }
        break
      default:
        throw new ProtocolViolationError(`${m.type} inside a transaction`)
    }
    this.#emit({ change, open: true })
  }

  #inTransaction(what: string): Current {
    const t = this.#transaction
    if (t === undefined) throw new ProtocolViolationError(`${what} outside a transaction`)
    return t
  }

  #row(relation: RelationInfo, tuple: readonly ColumnValue[]): Row {
    const columns = relation.columns
    if (tuple.length !== columns.length) {
      throw new ProtocolViolationError(`a tuple of ${tuple.length} columns for ${relation.schema}.${relation.table}, described with ${columns.length}`)
    }
    const row: Row = {}
    for (let i = 0; i < columns.length; i++) {
      const value = tuple[i]
      const column = columns[i]!
      setOwn(row, column.name, typeof value === 'string' ? this.#parse(value, column.typeOid) : value)
    }
    return row
  }
}

/** The replica identity's columns of `row` (every column with REPLICA IDENTITY FULL). */
function keyOf(relation: RelationInfo, row: Row): Row {
  const key: Row = {}
  for (const column of relation.columns) if (column.isKey) setOwn(key, column.name, row[column.name])
  return key
}

/**
 * row[name] = value, as an own property even for a column named __proto__, which assignment
 * would drop (or take as the row's prototype). Assignment otherwise: this runs for every column.
 */
function setOwn(row: Row, name: string, value: unknown): void {
  if (name === '__proto__') Object.defineProperty(row, name, { value, enumerable: true, writable: true, configurable: true })
  else row[name] = value
}
