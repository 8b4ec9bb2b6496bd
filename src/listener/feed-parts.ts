/**
 * What a change feed uses once it starts: each trigger's install and removal, and the decoder
 * that turns its notifications into typed events; feeds.ts holds what happens at the call.
 * Imports changes/ only.
 */
import {
  decodeDdlChange,
  decodeRowChange,
  decodeTcnChange,
  installDdlTrigger,
  installRowTrigger,
  installTcnTrigger,
  parseTableName,
  PayloadError,
  planRowTrigger,
  removeDdlTrigger,
  removeTcnTrigger,
  type DdlChange,
  type DdlTriggerOptions,
  type QualifiedTable,
  type SqlRunner,
  type TableName,
  type TcnChange,
} from './changes/index.ts'
import { requireRowTriggerTarget } from './changes/checks.ts'
import { literal } from './changes/sql-text.ts'
import { runInTransaction } from './changes/transaction.ts'
import type { Change, Decoder, Parts } from './feeds.ts'
import type { Notification } from './subscription.ts'

/**
 * A table's feed: the row trigger (or tcn's) on `channel`, and its decoder. The table's OID,
 * found at the setup, says where it is after ALTER TABLE ... RENAME or SET SCHEMA, which keep
 * the OID and the trigger: for its removal, and for a tcn feed, whose payloads name the table as
 * it is then. `catalog` (the listener's notifier) runs the look-ups of a feed that installs
 * nothing, and a tcn feed's when a payload names another table.
 */
export function tableParts(table: TableName, kind: 'rows' | 'tcn', channel: string, catalog?: SqlRunner): Parts<Change> {
  const target = parseTableName(table)
  let oid: string | undefined
  const locate = async (c: SqlRunner, required = false) => void (oid = firstRow(await c.query(tableOid(target, required)))?.[0] ?? undefined)
  /** The table as it is named now: as given while its OID is unknown, undefined once it is dropped. */
  const now = async (c: SqlRunner): Promise<QualifiedTable | undefined> => {
    if (oid === undefined) return target
    const row = firstRow(await c.query(tableByOid(oid)))
    return row && parseTableName({ schema: row[0]!, table: row[1]! })
  }
  return {
    install: async (c) => {
      // What cannot have a row trigger is refused as CREATE TRIGGER refuses it (42809), where a view
      // would pass LOCK TABLE and be refused as a table with no primary key; for tcn, a
      // partitioned table too, whose changes would all be dropped (checks.ts). The row trigger
      // names the table it was installed on.
      await c.query(requireRowTriggerTarget(target, kind === 'tcn' ? { partitioned: partitionedHint } : {}))
      if (kind === 'rows') await installRowTrigger(c, table, { channel })
      else await installTcnTrigger(c, table, { channel })
      await locate(c)
    },
    // With install: false a tcn feed's table is checked as an install checks it: without its OID
    // the feed would keep the table's name and lose it at a rename, and on a partitioned table
    // (a trigger made on it by hand is cloned to each partition) it would pass every change by,
    // each naming a partition; either saying nothing. Neither kind takes a view, a materialized
    // view, a sequence, an index or a composite type, on which no row trigger can be made, and
    // the feed would wait for nothing, as the install refuses them (CREATE TRIGGER's 42809). A
    // rows feed's missing table passes, as before: it is only looked up for the removal.
    ...(catalog && {
      locate: async () => {
        await catalog.query(requireRowTriggerTarget(target, kind === 'tcn' ? { partitioned: partitionedHint } : { missing: 'passes' }))
        await locate(catalog, kind === 'tcn')
      },
    }),
    remove: async (c) => {
      const on = await now(c) // a dropped table's trigger went with it
      if (kind === 'tcn') return on && removeTcnTrigger(c, on)
      // The trigger where the table is now; its function where it was made, named after the table as given.
      await runInTransaction(c, [...(on ? planRowTrigger(on).remove.slice(0, 1) : []), ...planRowTrigger(target).remove.slice(1)])
    },
    ...tableFeed(table, kind, catalog && (() => now(catalog))),
  }
}

const partitionedHint = "tcn names each change's partition, not this table: use the rows feed"

/**
 * The table's OID (no row when there is no such table, found by its names: to_regclass would
 * refuse a schema the role has no USAGE on, 42501, and a feed with install: false only listens;
 * `required`, the server's error instead, 42P01 undefined_table, the same one an install gives:
 * regclass's input function raises it), and where the table of an OID is now (no row once it
 * is dropped). Operators named pg_catalog's: these run on the listener's connection, under
 * the user's search_path ("Operator Type Resolution").
 */
const tableOid = (table: QualifiedTable, required: boolean) =>
  required
    ? `SELECT ${literal(table.quoted)}::pg_catalog.regclass::pg_catalog.oid`
    : `SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
WHERE n.nspname OPERATOR(pg_catalog.=) ${literal(table.schema)} AND c.relname OPERATOR(pg_catalog.=) ${literal(table.table)}`
const tableByOid = (oid: string) => `SELECT n.nspname, c.relname FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace WHERE c.oid OPERATOR(pg_catalog.=) ${literal(oid)}::pg_catalog.oid`

/** The first row of a pglisten Connection's (or the listener's) answer, QueryResult[]; undefined from a runner that answers nothing. */
function firstRow(answer: unknown): readonly (string | null)[] | undefined {
  return (answer as { rows: (string | null)[][] }[] | undefined)?.[0]?.rows[0]
}

/** The DDL feed: the event triggers, and their decoder. */
export function ddlParts(trigger: DdlTriggerOptions): Parts<DdlChange> {
  return {
    install: (c) => installDdlTrigger(c, trigger),
    remove: (c) => removeDdlTrigger(c, trigger),
    decode: decodeDdlChange,
  }
}

/**
 * The decoder for a table's feed; tcn events are kept only for this table (its payload names no
 * schema). `whereNow` finds the table by its OID: without it, a tcn feed keeps the name it was given.
 */
export function tableFeed(table: TableName, kind: 'rows' | 'tcn', whereNow?: () => Promise<QualifiedTable | undefined>): Required<Decoder<Change>> & { decode: (n: Notification) => Change | PayloadError } {
  const target = parseTableName(table)
  // A row change is this table's if its trigger was installed on it: the change may be to a
  // partition, or come after a rename, when its own schema and table differ (row-trigger.ts).
  if (kind === 'rows') {
    return { decode: decodeRowChange, accept: (c) => c.kind === 'row' && (c.installedOn ?? c).schema === target.schema && (c.installedOn ?? c).table === target.table }
  }
  // tcn names the table as it is when the row changes (RelationGetRelationName): a payload that
  // names another table is looked up, and if that is this table's name now, it was renamed, and
  // the feed follows it. NOTIFY delivers in commit order, and RENAME waits for the writers, so
  // every change under the old name comes before the first under the new one.
  let name = target.table
  // Names a look-up placed once this table is dropped (told once each): not looked up again.
  const placed = new Set<string>()
  // Another table's names, and when a look-up found them so: trusted for a second, so that a
  // busy table on a shared channel costs a look-up a second, not one a change. This table may
  // take such a name (a swap of names): what it sent under it within that second is passed by,
  // and the look-up after it says so. A channel of the feed's own (the channel option) has none.
  const others = new Map<string, number>()
  const follow = async (change: TcnChange, n: Notification): Promise<boolean | PayloadError> => {
    const seen = others.get(change.table)
    if (placed.has(change.table) || (seen !== undefined && Date.now() - seen < 1000)) return false
    let now: QualifiedTable | undefined
    try {
      now = await whereNow!()
    } catch (error) {
      return new PayloadError(n, `names table ${JSON.stringify(change.table)}, not ${JSON.stringify(name)}, and finding what that table is called now failed`, { cause: error })
    }
    // Found under a name trusted as another table's: what it sent under it since may have been passed by.
    const passed = now !== undefined && others.delete(now.table)
    const said = passed ? `; this feed's table is now called ${JSON.stringify(now!.table)}, another table's name a moment before, and its changes under it until now may have been passed by` : ''
    if (now?.table === change.table) return (name = now.table), passed ? new PayloadError(n, `names table ${JSON.stringify(name)}${said}`) : true
    if (placed.size + others.size >= 1024) (placed.clear(), others.clear()) // bounded: a name forgotten is only looked up again
    if (now?.table === name) return others.set(change.table, Date.now()), false // another table's, for now
    if (now === undefined) placed.add(change.table)
    // Renamed again since, or dropped: the change may be this table's, under a name it had between.
    return new PayloadError(n, `names table ${JSON.stringify(change.table)}, which this feed's table (now ${now ? JSON.stringify(now.table) : 'dropped'}) may have been called then${said}`)
  }
  return { decode: decodeTcnChange, accept: (c, n) => c.kind === 'tcn' && (c.table === name || (whereNow !== undefined && n !== undefined && follow(c, n))) }
}
