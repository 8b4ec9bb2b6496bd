/**
 * The DDL event triggers: SQL that makes the database announce every schema change as JSON on
 * a channel (ddl_command_end for what was created or altered, sql_drop for what was dropped),
 * their removal, and the two run in one transaction each. Needs a superuser.
 * Imports the SQL helpers, the checks and the transaction runner; never the protocol's I/O.
 */
import { payloadLimitBytes, quoteIdentifier } from '../sql.ts'
import { requireSuperuser, superuserError } from './checks.ts'
import { ddlNames } from './names.ts'
import { advisoryLock, dollarQuote, literal, transactionSeq } from './sql-text.ts'
import { runInTransaction, type SqlRunner } from './transaction.ts'

export interface DdlTriggerOptions {
  /**
   * Names the function and, with `_end` and `_drop`, the two event triggers. Event triggers
   * belong to the whole database, so two installs with one name are one feed. At most 58 bytes.
   * Default 'pglisten_ddl'.
   */
  readonly name?: string
  /** The function's schema. Default 'public'. */
  readonly schema?: string
  /** Where the changes are sent. Default: the name. */
  readonly channel?: string
}

/** The names an install uses and the SQL it runs. */
export interface DdlTrigger {
  readonly channel: string
  /** The event triggers on ddl_command_end and sql_drop. */
  readonly eventTriggers: readonly [end: string, drop: string]
  readonly schema: string
  readonly function: string
  /** Run in one transaction; installDdlTrigger does that. */
  readonly install: readonly string[]
  readonly remove: readonly string[]
}

/** The SQL for the DDL event triggers, and the names they use. Checks the arguments only. */
export function planDdlTrigger(options: DdlTriggerOptions = {}): DdlTrigger {
  const { name, schema, channel } = ddlNames(options)
  const end = `${name}_end`
  const drop = `${name}_drop`
  const qualifiedFunction = `${quoteIdentifier(schema)}.${quoteIdentifier(name)}`
  // Two installs of one name at once would collide on the function and the triggers.
  const lock = advisoryLock(`pglisten ddl ${name}`)
  const dropTriggers = [`DROP EVENT TRIGGER IF EXISTS ${quoteIdentifier(end)}`, `DROP EVENT TRIGGER IF EXISTS ${quoteIdentifier(drop)}`]
  return {
    channel,
    eventTriggers: [end, drop],
    schema,
    function: name,
    install: [
      requireSuperuser(),
      lock,
      // First, so that the old triggers do not report their own function's replacement.
      ...dropTriggers,
      // It runs in every session that changes the schema, a superuser's too: with its own
      // search_path, no schema listed before pg_catalog there can stand in for = or text. Its
      // return type is named as pg_catalog's: the install's own search_path looks it up.
      `CREATE OR REPLACE FUNCTION ${qualifiedFunction}() RETURNS pg_catalog.event_trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS ${dollarQuote(functionBody(channel))}`,
      `CREATE EVENT TRIGGER ${quoteIdentifier(end)} ON ddl_command_end EXECUTE FUNCTION ${qualifiedFunction}()`,
      `CREATE EVENT TRIGGER ${quoteIdentifier(drop)} ON sql_drop EXECUTE FUNCTION ${qualifiedFunction}()`,
    ],
    remove: [requireSuperuser(), lock, ...dropTriggers, `DROP FUNCTION IF EXISTS ${qualifiedFunction}()`],
  }
}

/**
 * Installs (or reinstalls) the DDL event triggers, in one transaction. Rejects with
 * SuperuserRequiredError, before changing anything, when the current role is not a superuser.
 */
export async function installDdlTrigger(db: SqlRunner, options: DdlTriggerOptions = {}): Promise<DdlTrigger> {
  const plan = planDdlTrigger(options)
  await runInTransaction(db, plan.install, superuserError('installing DDL event triggers'))
  return plan
}

/** Removes both event triggers and the function. Harmless when absent; needs a superuser too. */
export async function removeDdlTrigger(db: SqlRunner, options: Pick<DdlTriggerOptions, 'name' | 'schema'> = {}): Promise<void> {
  await runInTransaction(db, planDdlTrigger(options).remove, superuserError('removing DDL event triggers'))
}

/**
 * One notification per object ("Event Trigger Functions" in the docs):
 *   ddl_command_end: pg_event_trigger_ddl_commands(), one row per object created or altered,
 *     with its own command tag (CREATE TABLE with a primary key is CREATE TABLE and CREATE
 *     INDEX). DROP commands have no rows here.
 *   sql_drop: pg_event_trigger_dropped_objects(), one row per object dropped, including those
 *     dropped with it (its type, indexes, constraints); `original` marks the ones named.
 *
 * Shapes sent (JSON, keys in this order):
 *   {event: 'ddl_command_end', seq, truncated, tag, objectType, schema, identity}
 *   {event: 'sql_drop',        seq, truncated, tag, objectType, schema, identity, original}
 * An identity so long that the payload reaches the limit is sent as null, with truncated: true.
 * An error here would abort the DDL that fired it, so nothing here can fail on the data.
 */
function functionBody(channel: string): string {
  const send = (fields: (identity: string) => string) => `
      _seq := ${transactionSeq};
      _payload := pg_catalog.json_build_object('event', TG_EVENT, 'seq', _seq, 'truncated', false, ${fields('_object.object_identity')})::text;
      IF pg_catalog.octet_length(_payload) >= ${payloadLimitBytes} THEN
        _payload := pg_catalog.json_build_object('event', TG_EVENT, 'seq', _seq, 'truncated', true, ${fields('NULL')})::text;
      END IF;
      PERFORM pg_catalog.pg_notify(${literal(channel)}, _payload);`
  return `
DECLARE
  _object record;
  _seq bigint;
  _payload text;
BEGIN
  IF TG_EVENT = 'sql_drop' THEN
    FOR _object IN SELECT * FROM pg_catalog.pg_event_trigger_dropped_objects() LOOP${send(
      (identity) => `'tag', TG_TAG, 'objectType', _object.object_type, 'schema', _object.schema_name, 'identity', ${identity}, 'original', _object.original`,
    )}
    END LOOP;
  ELSE
    FOR _object IN SELECT * FROM pg_catalog.pg_event_trigger_ddl_commands() LOOP${send(
      (identity) => `'tag', _object.command_tag, 'objectType', _object.object_type, 'schema', _object.schema_name, 'identity', ${identity}`,
    )}
    END LOOP;
  END IF;
END
`
}
