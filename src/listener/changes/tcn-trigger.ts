/**
 * The tcn trigger: SQL that makes a table announce each changed row's primary key through
 * PostgreSQL's tcn extension (payload format in tcn-payload.ts), its removal, and the two run
 * in one transaction each. Imports the SQL helpers, the checks and the transaction runner.
 */
import { checkChannel, quoteIdentifier } from '../sql.ts'
import { lockTable, primaryKeyError, requirePrimaryKey } from './checks.ts'
import { tcnDefaultChannel } from './names.ts'
import { dollarQuote, literal, pinnedDo } from './sql-text.ts'
import { parseTableName, type QualifiedTable, type TableName } from './table-name.ts'
import { runInTransaction, type SqlRunner } from './transaction.ts'

export interface TcnTriggerOptions {
  /**
   * Where tcn sends the changes. Default 'tcn', tcn's own default. tcn's payload names the
   * table without its schema: give tables of the same name in different schemas different
   * channels.
   */
  readonly channel?: string
}

/** The names an install uses and the SQL it runs. */
export interface TcnTrigger {
  readonly table: QualifiedTable
  readonly channel: string
  /** The trigger, on the table: one per table, so installing again replaces it. */
  readonly trigger: string
  /** Run in one transaction; installTcnTrigger does that. */
  readonly install: readonly string[]
  readonly remove: readonly string[]
}

const triggerName = 'pglisten_tcn'

/**
 * CREATE EXTENSION IF NOT EXISTS, safe against a concurrent install on another table: IF NOT
 * EXISTS looks before it inserts, so of two sessions that both looked first, the second waits
 * for the first and then fails on pg_extension's unique name (23505). Then the extension is
 * there, and the next statement sees it (READ COMMITTED). tcn is a trusted extension
 * (tcn.control, since PostgreSQL 13): a role with CREATE on the database may add it. It goes
 * into the current schema (so not under pinnedDo's search_path, whose first schema is
 * pg_catalog); createTrigger finds it wherever it is.
 */
const createExtension = `DO ${dollarQuote(`
BEGIN
  CREATE EXTENSION IF NOT EXISTS tcn;
EXCEPTION WHEN unique_violation OR duplicate_object THEN
  NULL;
END
`)}`

/** The SQL for a table's tcn trigger, and the names it uses. Checks the arguments only. */
export function planTcnTrigger(table: TableName, options: TcnTriggerOptions = {}): TcnTrigger {
  const target = parseTableName(table)
  const channel = checkChannel(options.channel ?? tcnDefaultChannel)
  const trigger = `${quoteIdentifier(triggerName)} ON ${target.quoted}`
  return {
    table: target,
    channel,
    trigger: triggerName,
    install: [
      lockTable(target),
      createExtension,
      // tcn would otherwise fail at the first write, in the writer's transaction.
      requirePrimaryKey(target),
      // DROP, then CREATE: CREATE OR REPLACE TRIGGER needs PostgreSQL 14.
      `DROP TRIGGER IF EXISTS ${trigger}`,
      createTrigger(target, channel),
    ],
    remove: [`DROP TRIGGER IF EXISTS ${trigger}`],
  }
}

/**
 * Installs (or reinstalls) the tcn trigger on `table`, in one transaction, adding the tcn
 * extension if the database lacks it. Rejects with NoPrimaryKeyError when the table has none.
 */
export async function installTcnTrigger(db: SqlRunner, table: TableName, options: TcnTriggerOptions = {}): Promise<TcnTrigger> {
  const plan = planTcnTrigger(table, options)
  await runInTransaction(db, plan.install, primaryKeyError(plan.table))
  return plan
}

/**
 * Removes the trigger. The tcn extension stays: it is one function, other triggers (not
 * pglisten's) may use it, and DROP EXTENSION would fail for them or, with CASCADE, drop them.
 */
export async function removeTcnTrigger(db: SqlRunner, table: TableName): Promise<void> {
  await runInTransaction(db, planTcnTrigger(table).remove)
}

/**
 * CREATE TRIGGER, naming tcn's function by the schema the extension is in: it is relocatable
 * and may sit in a schema off the current search_path, so the name is looked up, in a DO
 * block, and the statement run with EXECUTE. Every name reaches it as a literal.
 */
function createTrigger(table: QualifiedTable, channel: string): string {
  const head = `CREATE TRIGGER ${quoteIdentifier(triggerName)} AFTER INSERT OR UPDATE OR DELETE ON ${table.quoted} FOR EACH ROW EXECUTE FUNCTION `
  return pinnedDo(`
  EXECUTE ${literal(head)}
    || (SELECT pg_catalog.quote_ident(n.nspname)
        FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname = 'tcn')
    || ${literal(`.triggered_change_notification(${literal(channel)})`)};`)
}
