/**
 * What a replication stream settles on its connection before START_REPLICATION, in one round
 * trip of SQL (a replication=database connection takes SQL too): the settings that fix how the
 * walsender writes column values as text, the server's wal_sender_timeout, and the slot itself.
 * Imports the protocol's Connection type, quoting and LSNs; no decisions about reconnecting.
 */
import type { Connection } from '../protocol/io/connection.ts'
import { quoteLiteral } from '../protocol/quote.ts'
import { parseLsn, type Lsn } from '../protocol/replication/lsn.ts'
import { ReplicationError } from './errors.ts'

export interface SlotCheck {
  /** wal_sender_timeout in ms; 0 when off. */
  walSenderTimeout: number
  /** The slot's confirmed_flush_lsn, or undefined when there is no such slot. */
  confirmed: Lsn | undefined
}

/**
 * pgoutput sends each value as its type's output function writes it in the walsender's
 * session, so a role or database default such as `DateStyle = 'German'` or
 * `bytea_output = 'escape'` would change the text the value parsers read. These settings are
 * the ones node-postgres' parsers expect (and extra_float_digits = 3 is what pgjdbc sets: floats
 * exact, whatever the server's default).
 */
const valueFormat = "SET datestyle = 'ISO, MDY'; SET intervalstyle = 'postgres'; SET bytea_output = 'hex'; SET extra_float_digits = 3"

/**
 * Sets the value format, and reads wal_sender_timeout and the slot. A slot that exists but was
 * made for another output plugin, or is a physical slot, cannot be streamed with pgoutput: a
 * ReplicationError, which no reconnect would cure.
 */
export async function checkSlot(connection: Connection, slot: string): Promise<SlotCheck> {
  const results = await connection.query(
    `${valueFormat}; ` +
      "SELECT setting FROM pg_settings WHERE name = 'wal_sender_timeout'; " +
      `SELECT slot_type, plugin, confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = ${quoteLiteral(slot)}`,
  )
  const timeout = results.at(-2)?.rows[0]?.[0]
  const row = results.at(-1)?.rows[0]
  if (row === undefined) return { walSenderTimeout: Number(timeout ?? 0), confirmed: undefined }
  const [type, plugin, confirmed] = row
  if (type !== 'logical' || plugin !== 'pgoutput') {
    throw new ReplicationError(`replication slot "${slot}" is a ${type} slot${plugin ? ` for ${plugin}` : ''}; streaming needs a logical slot for pgoutput`)
  }
  // A logical slot has no confirmed position only while it is being made.
  return { walSenderTimeout: Number(timeout ?? 0), confirmed: confirmed == null ? 0n : parseLsn(confirmed) }
}
