/**
 * The checks an installer makes before it changes anything, written as DO blocks so that the
 * server decides inside the install's transaction (their operators pg_catalog's: pinnedDo), and
 * the SQLSTATEs that turn their failures into typed errors. Pure: SQL text only; imports the
 * quoting helpers and the error classes.
 */
import { NoPrimaryKeyError, SuperuserRequiredError } from './errors.ts'
import { literal, pinnedDo } from './sql-text.ts'
import type { QualifiedTable } from './table-name.ts'
import { sqlState } from './transaction.ts'

/**
 * 39P01 (trigger_protocol_violated): what tcn raises at the first write to a table without a
 * primary key; here raised at install time instead, so it can only come from this check.
 */
const noPrimaryKey = '39P01'

/** 42501 (insufficient_privilege): what CREATE EVENT TRIGGER would raise for a non-superuser. */
const insufficientPrivilege = '42501'

/**
 * The lock CREATE TRIGGER takes (SHARE ROW EXCLUSIVE), taken first: installs and removals on
 * one table then run one after the other, where two at once could collide on the trigger
 * function ("tuple concurrently updated"), e.g. several copies of an application installing
 * the same feed as they start. Writers wait for the install; readers do not. Removals need no
 * LOCK: their first statement, DROP TRIGGER, takes the same lock, and unlike LOCK it does not
 * fail when the table is gone (when a function left behind may still need dropping).
 */
export function lockTable(table: QualifiedTable): string {
  return `LOCK TABLE ${table.quoted} IN SHARE ROW EXCLUSIVE MODE`
}

/**
 * Fails unless `table` has a valid primary key, the index tcn looks for (indisprimary and
 * indisvalid). A missing table fails in the cast, with 42P01 undefined_table (or before, at
 * LOCK TABLE). RAISE
 * takes the message through USING, never as a format string: a name may contain `%`.
 */
export function requirePrimaryKey(table: QualifiedTable): string {
  return pinnedDo(`
  IF NOT EXISTS (
    SELECT FROM pg_catalog.pg_index
    WHERE indrelid = ${literal(table.quoted)}::pg_catalog.regclass AND indisprimary AND indisvalid
  ) THEN
    RAISE EXCEPTION USING ERRCODE = '${noPrimaryKey}', MESSAGE = ${literal(`${table.quoted} has no primary key`)};
  END IF;`)
}

/**
 * Fails unless `table` can have the row trigger a feed reads: one made FOR EACH ROW, AFTER
 * the change. PostgreSQL allows those on tables, partitioned tables and foreign tables only
 * ("CREATE TRIGGER": views take row-level INSTEAD OF triggers only, and a materialized view, a
 * sequence, an index or a composite type none). A feed that installs nothing (install: false)
 * and took such a name would wait for changes no trigger can send; it is refused as CREATE
 * TRIGGER refuses it, with 42809 wrong_object_type. One look at pg_class.relkind, which
 * also answers `partitioned`: for a tcn feed (its hint), refused with 0A000
 * feature_not_supported, since tcn names the table whose trigger fired, and a row trigger on a
 * partitioned table fires as its clone on the partition ("CREATE TRIGGER"), so each change
 * would name a partition, which the feed could not tell from another table's on tcn's shared
 * channel, and would drop. A missing table fails in the cast, with 42P01 undefined_table, or
 * with `missing: 'passes'` passes (no row, so NULL, which is in no list).
 */
export function requireRowTriggerTarget(table: QualifiedTable, options: { partitioned?: string; missing?: 'fails' | 'passes' } = {}): string {
  // Found by its names when a missing table passes: to_regclass, like the cast, refuses a schema
  // the role may not use (42501), and a feed that only listens needs no USAGE on it.
  const relkind =
    options.missing === 'passes'
      ? `SELECT c.relkind FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ${literal(table.schema)} AND c.relname = ${literal(table.table)}`
      : `SELECT relkind FROM pg_catalog.pg_class WHERE oid = ${literal(table.quoted)}::pg_catalog.regclass`
  const partitioned =
    options.partitioned === undefined
      ? ''
      : `
  IF _relkind = 'p' THEN
    RAISE EXCEPTION USING ERRCODE = 'feature_not_supported', MESSAGE = ${literal(`${table.quoted} is a partitioned table`)}, HINT = ${literal(options.partitioned)};
  END IF;`
  // The detail in PostgreSQL's words (CreateTrigger, errdetail_relkind_not_supported).
  return pinnedDo(
    `
  _relkind := (${relkind});
  IF _relkind NOT IN ('r', 'p', 'f') THEN
    RAISE EXCEPTION USING ERRCODE = 'wrong_object_type', MESSAGE = ${literal(`${table.quoted} cannot have row triggers, so no change to it can reach a feed`)},
      DETAIL = CASE _relkind WHEN 'v' THEN 'Views cannot have row-level BEFORE or AFTER triggers.'
        ELSE 'This operation is not supported for ' || CASE _relkind WHEN 'm' THEN 'materialized views' WHEN 'S' THEN 'sequences'
          WHEN 'i' THEN 'indexes' WHEN 'I' THEN 'partitioned indexes' WHEN 'c' THEN 'composite types' WHEN 't' THEN 'TOAST tables'
          ELSE 'relations of relkind ' || _relkind::pg_catalog.text END || '.' END,
      HINT = 'Give the feed the table whose rows change.';
  END IF;${partitioned}`,
    `
  _relkind pg_catalog."char";`,
  )
}

/**
 * Fails unless the current role (the one CREATE EVENT TRIGGER checks, after any SET ROLE) is a
 * superuser.
 */
export function requireSuperuser(): string {
  return pinnedDo(`
  IF NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = CURRENT_USER) THEN
    RAISE EXCEPTION USING ERRCODE = '${insufficientPrivilege}',
      MESSAGE = 'role ' || pg_catalog.quote_ident(CURRENT_USER) || ' is not a superuser',
      HINT = 'Only superusers can create event triggers.';
  END IF;`)
}

/** The typed error for a failed primary-key check, or undefined for any other error. */
export function primaryKeyError(table: QualifiedTable): (error: unknown) => Error | undefined {
  return (error) => (sqlState(error) === noPrimaryKey ? new NoPrimaryKeyError(table, { cause: error }) : undefined)
}

/**
 * The typed error for a failed superuser check, or undefined for any other error. Any 42501 in
 * an event trigger install means the same thing, whether from the check or a later statement.
 */
export function superuserError(doing: string): (error: unknown) => Error | undefined {
  return (error) => {
    if (sqlState(error) !== insufficientPrivilege) return undefined
    const reason = error instanceof Error ? error.message : String(error)
    return new SuperuserRequiredError(`${doing} needs a superuser: ${reason}`, { cause: error })
  }
}
