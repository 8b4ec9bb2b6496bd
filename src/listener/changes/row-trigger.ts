/**
 * The JSON row-change trigger: SQL that makes a table announce every inserted, updated and
 * deleted row as JSON on a channel, its removal, and the two run in one transaction each.
 * Imports the SQL helpers, the checks and the transaction runner; never the protocol's I/O.
 */
import { checkChannel, payloadLimitBytes, quoteIdentifier } from '../sql.ts'
import { lockTable, primaryKeyError, requirePrimaryKey } from './checks.ts'
import { generatedName, rowTriggerName as triggerName } from './names.ts'
import { dollarQuote, literal, pinnedDo, transactionSeq } from './sql-text.ts'
import { parseTableName, type QualifiedTable, type TableName } from './table-name.ts'
import { runInTransaction, type SqlRunner } from './transaction.ts'

export interface RowTriggerOptions {
  /** Where the changes are sent. Default: rowChangeChannel(table), one channel per table. */
  readonly channel?: string
}

/** The names an install uses and the SQL it runs, e.g. for a migration of your own. */
export interface RowTrigger {
  readonly table: QualifiedTable
  readonly channel: string
  /** The trigger, on the table: one per table, so installing again replaces it. */
  readonly trigger: string
  /** The trigger function, in the table's schema; generatedName('pglisten_rows', table). */
  readonly function: string
  /** Run in one transaction; installRowTrigger does that. */
  readonly install: readonly string[]
  readonly remove: readonly string[]
}

/**
 * The SQL for a table's row-change trigger, and the names it uses. Checks the arguments
 * (RangeError, TypeError) and nothing in the database.
 */
export function planRowTrigger(table: TableName, options: RowTriggerOptions = {}): RowTrigger {
  const target = parseTableName(table)
  const functionName = generatedName(triggerName, target)
  const channel = checkChannel(options.channel ?? functionName)
  const qualifiedFunction = `${quoteIdentifier(target.schema)}.${quoteIdentifier(functionName)}`
  const trigger = quoteIdentifier(triggerName)
  return {
    table: target,
    channel,
    trigger: triggerName,
    function: functionName,
    install: [
      lockTable(target),
      requirePrimaryKey(target),
      createFunction(target, qualifiedFunction),
      // DROP, then CREATE: CREATE OR REPLACE TRIGGER needs PostgreSQL 14.
      `DROP TRIGGER IF EXISTS ${trigger} ON ${target.quoted}`,
      `CREATE TRIGGER ${trigger} AFTER INSERT OR UPDATE OR DELETE ON ${target.quoted} FOR EACH ROW EXECUTE FUNCTION ${qualifiedFunction}(${literal(channel)})`,
    ],
    remove: [`DROP TRIGGER IF EXISTS ${trigger} ON ${target.quoted}`, `DROP FUNCTION IF EXISTS ${qualifiedFunction}()`],
  }
}

/**
 * Installs (or reinstalls) the row-change trigger on `table`, in one transaction. Rejects with
 * NoPrimaryKeyError when the table has none, and with the server's DatabaseError otherwise
 * (42P01 when the table does not exist). Reinstall after changing the table's primary key:
 * the key columns are resolved now, not at every row (see the function body below).
 */
export async function installRowTrigger(db: SqlRunner, table: TableName, options: RowTriggerOptions = {}): Promise<RowTrigger> {
  const plan = planRowTrigger(table, options)
  await runInTransaction(db, plan.install, primaryKeyError(plan.table))
  return plan
}

/** Removes the trigger and its function; nothing else was created. Harmless when absent. */
export async function removeRowTrigger(db: SqlRunner, table: TableName): Promise<void> {
  await runInTransaction(db, planRowTrigger(table).remove)
}

/**
 * CREATE OR REPLACE FUNCTION, run by the server (DO) because the key columns are read from
 * pg_index there: the primary key's key columns in index order, as tcn reads them. Resolving
 * them once makes the function about five times faster than a catalog query at every row
 * (measured on PostgreSQL 13: 50,000 inserts, 1.0 s against 4 to 6 s). The column names reach
 * the body through format('%L'), and the body reaches CREATE FUNCTION through format('%L'):
 * no name can end a quote early, whatever it contains. Its operators (=, <>, <=) are pg_catalog's
 * (pinnedDo).
 */
function createFunction(table: QualifiedTable, qualifiedFunction: string): string {
  const keyArgs = (row: string) => `pg_catalog.string_agg(pg_catalog.format('%L, ${row} -> %L', a.attname, a.attname), ', ' ORDER BY k.ord)`
  const variables = `
  _new_key pg_catalog.text;
  _old_key pg_catalog.text;
  _other pg_catalog.text;`
  return pinnedDo(`
  -- The function is named after the table, and a table renamed keeps its trigger, which still
  -- calls it. A new table under the old name would share it (this table's key columns and
  -- installedOn for both), and each feed would take the other's changes: refused. A partition's
  -- clone of the trigger (tgparentid set) is this table's own.
  SELECT t.tgrelid::pg_catalog.regclass::pg_catalog.text INTO _other FROM pg_catalog.pg_trigger t
  WHERE t.tgfoid = pg_catalog.to_regprocedure(${literal(`${qualifiedFunction}()`)}) AND t.tgparentid = 0
    AND t.tgrelid <> ${literal(table.quoted)}::pg_catalog.regclass LIMIT 1;
  IF _other IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'object_in_use',
      MESSAGE = pg_catalog.format('table %s, renamed from this name, has this table''s feed trigger: a feed of its own here would take its changes too', _other),
      HINT = 'remove that table''s trigger first (removeRowTrigger on it), or give it its old name back';
  END IF;
  SELECT ${keyArgs('_new')}, ${keyArgs('_old')}
  INTO _new_key, _old_key
  FROM pg_catalog.pg_index i
  CROSS JOIN LATERAL pg_catalog.unnest(i.indkey::pg_catalog.int2[]) WITH ORDINALITY AS k(attnum, ord)
  JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
  WHERE i.indrelid = ${literal(table.quoted)}::pg_catalog.regclass AND i.indisprimary AND i.indisvalid
    AND k.ord <= i.indnkeyatts;
  EXECUTE pg_catalog.format('CREATE OR REPLACE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS %L',
    ${literal(qualifiedFunction)}, pg_catalog.format(${dollarQuote(functionBody(table))}, _new_key, _old_key));`, variables)
}

/**
 * The trigger function, a format() template: %1$s and %2$s become the key's arguments to
 * json_build_object over the new and the old row; any other % is doubled (the names of the
 * table it is installed for may hold one). The channel is the trigger's argument
 * (TG_ARGV[0]), as with tcn. Every function is schema-qualified, and the function runs with
 * search_path = pg_catalog, pg_temp, so that nothing on the writer's search_path (a schema
 * listed before pg_catalog) can stand in for an operator (=, ->) or a type (text, json) either:
 * the advice of CREATE FUNCTION's "Writing SECURITY DEFINER Functions Safely", for a function
 * that runs in every writer's session.
 *
 * `schema` and `table` are where the row is (TG_TABLE_SCHEMA, TG_TABLE_NAME): a partition's
 * own name for a row of a partitioned table ("CREATE TRIGGER": a row trigger on a partitioned
 * table is cloned onto its partitions), the new name after ALTER TABLE ... RENAME.
 * `installedOn` is {schema, table} as given at the install (one function per table, and its
 * clones and a rename keep it), so that a feed can still tell its own changes from another
 * table's on a shared channel.
 *
 * Shapes sent (JSON, keys in this order; key values as in the row, as `->` takes them from row_to_json):
 *   INSERT, DELETE: {schema, table, installedOn, operation, seq, truncated: false, key, row}
 *   UPDATE:         {schema, table, installedOn, operation, seq, truncated: false, key, oldKey, old, new}
 * When that reaches the payload limit: the same without row, old and new, and truncated: true;
 * if even that does not fit (a key of thousands of bytes), key and oldKey are null. So the
 * NOTIFY never fails, and neither does the writer's transaction.
 */
const functionBody = (table: QualifiedTable): string => `
DECLARE
  _channel text := TG_ARGV[0];
  _seq bigint;
  _new json;
  _old json;
  _key json;
  _old_key json;
  _payload text;
  _installed_on json := pg_catalog.json_build_object('schema', ${forFormat(literal(table.schema))}, 'table', ${forFormat(literal(table.table))});
BEGIN
  -- Numbers the transaction's changes, so that NOTIFY never drops one as a duplicate.
  _seq := ${transactionSeq};
  IF TG_OP <> 'DELETE' THEN
    _new := pg_catalog.row_to_json(NEW);
    _key := pg_catalog.json_build_object(%1$s);
  END IF;
  IF TG_OP <> 'INSERT' THEN
    _old := pg_catalog.row_to_json(OLD);
    _old_key := pg_catalog.json_build_object(%2$s);
  END IF;
  IF TG_OP = 'UPDATE' THEN
    _payload := pg_catalog.json_build_object('schema', TG_TABLE_SCHEMA, 'table', TG_TABLE_NAME, 'installedOn', _installed_on, 'operation', TG_OP,
      'seq', _seq, 'truncated', false, 'key', _key, 'oldKey', _old_key, 'old', _old, 'new', _new)::text;
    IF pg_catalog.octet_length(_payload) >= ${payloadLimitBytes} THEN
      _payload := pg_catalog.json_build_object('schema', TG_TABLE_SCHEMA, 'table', TG_TABLE_NAME, 'installedOn', _installed_on, 'operation', TG_OP,
        'seq', _seq, 'truncated', true, 'key', _key, 'oldKey', _old_key)::text;
    END IF;
    IF pg_catalog.octet_length(_payload) >= ${payloadLimitBytes} THEN
      _payload := pg_catalog.json_build_object('schema', TG_TABLE_SCHEMA, 'table', TG_TABLE_NAME, 'installedOn', _installed_on, 'operation', TG_OP,
        'seq', _seq, 'truncated', true, 'key', NULL, 'oldKey', NULL)::text;
    END IF;
  ELSE
    _payload := pg_catalog.json_build_object('schema', TG_TABLE_SCHEMA, 'table', TG_TABLE_NAME, 'installedOn', _installed_on, 'operation', TG_OP,
      'seq', _seq, 'truncated', false, 'key', COALESCE(_key, _old_key), 'row', COALESCE(_new, _old))::text;
    IF pg_catalog.octet_length(_payload) >= ${payloadLimitBytes} THEN
      _payload := pg_catalog.json_build_object('schema', TG_TABLE_SCHEMA, 'table', TG_TABLE_NAME, 'installedOn', _installed_on, 'operation', TG_OP,
        'seq', _seq, 'truncated', true, 'key', COALESCE(_key, _old_key))::text;
    END IF;
    IF pg_catalog.octet_length(_payload) >= ${payloadLimitBytes} THEN
      _payload := pg_catalog.json_build_object('schema', TG_TABLE_SCHEMA, 'table', TG_TABLE_NAME, 'installedOn', _installed_on, 'operation', TG_OP,
        'seq', _seq, 'truncated', true, 'key', NULL)::text;
    END IF;
  END IF;
  PERFORM pg_catalog.pg_notify(_channel, _payload);
  RETURN NULL;
END
`

/** `text` as format() will give it back: % stands for itself as %% ("format": "%% outputs a literal %"). */
function forFormat(text: string): string {
  return text.replaceAll('%', '%%')
}
