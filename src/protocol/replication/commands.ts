/**
 * The replication commands pglisten sends on a replication=database connection, as text
 * ("Streaming Replication Protocol" in the docs), every name and value quoted. Pure; imports
 * only quoting and LSNs. Their answers are ordinary result sets, read by the caller.
 */
import { quoteIdentifier, quoteLiteral } from '../quote.ts'
import { formatLsn, type Lsn } from './lsn.ts'

/**
 * Slot names the server accepts (slot.c, ReplicationSlotValidateName): 1 to 63 of lower-case
 * letters, digits and underscores. Checked here so that a bad name fails before any I/O.
 */
export function checkSlotName(name: string): string {
  if (typeof name !== 'string') throw new TypeError(`a slot name must be a string, not ${typeof name}`)
  if (!/^[a-z0-9_]{1,63}$/.test(name)) {
    throw new RangeError(`slot name ${JSON.stringify(name.slice(0, 70))} is not valid: PostgreSQL takes 1 to 63 lower-case letters, digits and underscores`)
  }
  return name
}

/** IDENTIFY_SYSTEM: one row of systemid, timeline, xlogpos (the current WAL end) and dbname. */
export const identifySystem = 'IDENTIFY_SYSTEM'

export interface CreateSlotOptions {
  /** Dropped by the server when this connection ends (or on any error). */
  temporary?: boolean
  /**
   * Export a snapshot, for an initial copy of the tables as of the slot's consistent point
   * (the snapshot lives until the next command on this connection). Default: none.
   */
  exportSnapshot?: boolean
  /** Decode prepared transactions at PREPARE (PostgreSQL 15 and later). */
  twoPhase?: boolean
}

/**
 * CREATE_REPLICATION_SLOT name [TEMPORARY] LOGICAL pgoutput [options]. PostgreSQL 15 brought
 * the parenthesized option list; 14 knows only the older keywords, which 15 and later still
 * accept, but TWO_PHASE exists only in the new form.
 */
export function createReplicationSlot(slot: string, options: CreateSlotOptions, serverVersionNum: number): string {
  const head = `CREATE_REPLICATION_SLOT ${quoteIdentifier(checkSlotName(slot))}${options.temporary ? ' TEMPORARY' : ''} LOGICAL pgoutput`
  if (serverVersionNum < 150000) {
    if (options.twoPhase) throw new RangeError('a two-phase slot needs PostgreSQL 15 or later')
    return `${head} ${options.exportSnapshot ? 'EXPORT_SNAPSHOT' : 'NOEXPORT_SNAPSHOT'}`
  }
  const list = [`SNAPSHOT ${options.exportSnapshot ? "'export'" : "'nothing'"}`]
  if (options.twoPhase) list.push('TWO_PHASE true')
  return `${head} (${list.join(', ')})`
}

/** DROP_REPLICATION_SLOT name [WAIT]: WAIT waits for a connection using it to let go. */
export function dropReplicationSlot(slot: string, wait = false): string {
  return `DROP_REPLICATION_SLOT ${quoteIdentifier(checkSlotName(slot))}${wait ? ' WAIT' : ''}`
}

/** pgoutput's options ("Logical Streaming Replication Parameters" in the docs). */
export interface PgoutputOptions {
  /** proto_version: 1 (PostgreSQL 10), 2 (14: streaming), 3 (15: two-phase), 4 (16: parallel streaming). */
  protocolVersion: 1 | 2 | 3 | 4
  /** publication_names: at least one. */
  publications: readonly string[]
  /** Send pg_logical_emit_message messages (protocol 1 and later; PostgreSQL 14). */
  messages?: boolean
  /** Stream large in-progress transactions: 'on' needs protocol 2, 'parallel' protocol 4. */
  streaming?: 'off' | 'on' | 'parallel'
  /** Send prepared transactions at PREPARE: protocol 3. */
  twoPhase?: boolean
  /** Column values in the types' binary format instead of text. */
  binary?: boolean
  /** origin: 'none' sends only changes made here, not ones replicated in (PostgreSQL 16). */
  origin?: 'any' | 'none'
}

/** START_REPLICATION SLOT name LOGICAL lsn (options): the walsender answers CopyBothResponse. */
export function startReplication(slot: string, start: Lsn, o: PgoutputOptions): string {
  if (o.publications.length === 0) throw new RangeError('pgoutput needs at least one publication')
  if (o.streaming === 'on' && o.protocolVersion < 2) throw new RangeError("streaming 'on' needs protocol version 2 or later")
  if (o.streaming === 'parallel' && o.protocolVersion < 4) throw new RangeError("streaming 'parallel' needs protocol version 4")
  if (o.twoPhase && o.protocolVersion < 3) throw new RangeError('two-phase decoding needs protocol version 3 or later')
  // pgoutput splits publication_names as a list of identifiers (SplitIdentifierString), so
  // each name is quoted as one, and the list then as a literal of the replication grammar.
  const names = o.publications.map((name) => {
    if (name === '') throw new RangeError('a publication name must not be empty')
    return quoteIdentifier(name)
  })
  const options = [`proto_version '${o.protocolVersion}'`, `publication_names ${quoteLiteral(names.join(','))}`]
  if (o.messages) options.push("messages 'true'")
  if (o.streaming !== undefined && o.streaming !== 'off') options.push(`streaming '${o.streaming}'`)
  if (o.twoPhase) options.push("two_phase 'true'")
  if (o.binary) options.push("binary 'true'")
  if (o.origin !== undefined) options.push(`origin ${quoteLiteral(o.origin)}`)
  return `START_REPLICATION SLOT ${quoteIdentifier(checkSlotName(slot))} LOGICAL ${formatLsn(start)} (${options.join(', ')})`
}
