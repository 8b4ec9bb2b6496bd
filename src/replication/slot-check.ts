/**
 * What a replication stream settles on its connection before START_REPLICATION: in one round
 * trip of SQL (a replication=database connection takes SQL too): the settings that fix how the
 * walsender writes column values as text, the server's wal_sender_timeout, the slot itself, and
 * that the publications exist; and making the slot when there is none. Imports the protocol's
 * Connection type, errors, commands, quoting and LSNs; the stream says whether it may make one.
 */
import type { Connection } from '../protocol/io/connection.ts'
import { DatabaseError } from '../protocol/errors.ts'
import { quoteLiteral } from '../protocol/quote.ts'
import { createReplicationSlot } from '../protocol/replication/commands.ts'
import { parseLsn, type Lsn } from '../protocol/replication/lsn.ts'
import { eq } from './admin.ts'
import { ReplicationError } from './errors.ts'
import type { Settings } from './options.ts'

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
 * exact, whatever the server's default). TimeZone UTC changes no instant the parsers read;
 * it makes a timestamptz kept as text (an override, the CLI) the same wherever it is read. Set with set_config() in the one SELECT, since a
 * walsender's parser has taken several statements in one query only since some PostgreSQL 14
 * minor releases (repl_scanner.l's replication_scanner_is_replication_command).
 */
const valueFormat: [string, string][] = [['datestyle', 'ISO, MDY'], ['intervalstyle', 'postgres'], ['bytea_output', 'hex'], ['extra_float_digits', '3'], ['timezone', 'UTC']]

/**
 * Sets the value format, and reads wal_sender_timeout, the slot, and which of `publications`
 * this database does not have. A slot that exists but was made for another output plugin, or
 * is a physical slot, cannot be streamed with pgoutput, and a missing publication is skipped
 * with a WARNING by PostgreSQL 18's pgoutput (its changes never arrive, and nothing says so)
 * where older servers fail at the first change: each a ReplicationError at the start, which
 * no reconnect would cure. Its operators and types are pg_catalog's (admin.ts, eq).
 */
export async function checkSlot(connection: Connection, slot: string, publications: readonly string[]): Promise<SlotCheck> {
  // Literals for the ordinary SQL parser, which reads backslashes as the session's
  // standard_conforming_strings says (unlike the replication commands' own grammar).
  const standard = connection.parameters.get('standard_conforming_strings') !== 'off'
  const literal = (text: string) => quoteLiteral(text, standard)
  const settings = valueFormat.map(([name, value]) => `pg_catalog.set_config(${literal(name)}, ${literal(value)}, false)`)
  const wanted = publications.map(literal).join(', ')
  const missing = `(SELECT pg_catalog.string_agg(pg_catalog.quote_ident(p.name), ', ' ORDER BY p.n) FROM pg_catalog.unnest(ARRAY[${wanted}]::pg_catalog.text[]) WITH ORDINALITY AS p(name, n) ` +
    `WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_publication WHERE pubname ${eq} p.name))`
  const [result] = await connection.query(
    `SELECT ${settings.join(', ')}, (SELECT setting FROM pg_catalog.pg_settings WHERE name ${eq} 'wal_sender_timeout'), ${missing}, ` +
      `s.slot_type, s.plugin, s.confirmed_flush_lsn FROM (SELECT 1) AS one LEFT JOIN pg_catalog.pg_replication_slots AS s ON s.slot_name ${eq} ${literal(slot)}`,
  )
  const [timeout, absent, type, plugin, confirmed] = result!.rows[0]!.slice(settings.length)
  if (absent != null) {
    const several = absent.includes(', ')
    throw new ReplicationError(`publication${several ? 's' : ''} ${absent} ${several ? 'do' : 'does'} not exist in this database; create ${several ? 'them' : 'it'} (CREATE PUBLICATION) or leave ${several ? 'them' : 'it'} out of publications`)
  }
  if (type == null) return { walSenderTimeout: Number(timeout ?? 0), confirmed: undefined }
  if (type !== 'logical' || plugin !== 'pgoutput') {
    throw new ReplicationError(`replication slot "${slot}" is a ${type} slot${plugin ? ` for ${plugin}` : ''}; streaming needs a logical slot for pgoutput`)
  }
  // A logical slot has no confirmed position only while it is being made.
  return { walSenderTimeout: Number(timeout ?? 0), confirmed: confirmed == null ? 0n : parseLsn(confirmed) }
}

/** The slot a started stream comes back to is no more: whatever it held is lost with it. */
export function slotGone(slot: string, options?: ErrorOptions): ReplicationError {
  return new ReplicationError(`replication slot "${slot}" is gone: it was dropped while the stream was reconnecting, and the changes it held with it`, options)
}

/**
 * Makes the slot, on the stream's first start only (or, temporary, on its only connection):
 * a slot gone later was dropped while the stream was away, and a new one would start from
 * now, silently losing what happened in between. Returns its consistent point.
 */
export async function makeSlot(
  connection: Connection,
  s: Pick<Settings, 'slot' | 'publications' | 'create' | 'temporary' | 'twoPhase'>,
  { firstStart, serverVersionNum }: { firstStart: boolean; serverVersionNum: number },
): Promise<Lsn> {
  if (!firstStart) throw slotGone(s.slot)
  if (!s.create && !s.temporary) throw new ReplicationError(`replication slot "${s.slot}" does not exist, and the stream was not asked to create it (create)`)
  try {
    const [result] = await connection.query(createReplicationSlot(s.slot, { temporary: s.temporary, twoPhase: s.twoPhase }, serverVersionNum))
    return parseLsn(result!.rows[0]![1]!)
  } catch (error) {
    // 42710 duplicate_object: made by someone else just now, which is what create asks for.
    if (!(error instanceof DatabaseError && error.code === '42710' && !s.temporary)) throw error
    return (await checkSlot(connection, s.slot, s.publications)).confirmed ?? 0n
  }
}
