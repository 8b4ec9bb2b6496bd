/**
 * pglisten/changes: typed change feeds over a listener, `changes(listener, table)` and
 * `ddlChanges(listener)`, and their triggers and decoders on their own, for code that installs
 * a trigger (a migration) or decodes payloads itself, with any connection. An entry of its own,
 * so that a listener that uses no feed does not carry them. Runtime-neutral: SQL text, pure
 * decoders, and the listener it is given.
 */
import { ddlChanges as ddlFeed, tableChanges, type Change, type ChangesOptions, type DdlChangesOptions, type Feed, type FeedItem } from './listener/feeds.ts'
import { supportOf } from './listener/feed-support.ts'
import type { DdlChange, TableName } from './listener/changes/index.ts'
import type { Listener } from './listener/listener.ts'

export * from './listener/changes/index.ts'
export type { Change, ChangesOptions, DdlChangesOptions, Feed, FeedItem }

/**
 * A table's changes, decoded: installs the JSON row trigger (or, with `feed: 'tcn'`, the tcn
 * extension's) unless `install: false`, LISTENs on its channel, and yields RowChange (or
 * TcnChange) events, PayloadError for what cannot be decoded, and Gap markers. The feed
 * subscribes at the call, so nothing heard after it is missed; a bad table name throws here.
 * Setup errors (no primary key, no privilege) come from `ready` and the first next().
 */
export function changes(listener: Listener, table: TableName, options: ChangesOptions = {}): Feed<Change> {
  const source = supportOf(listener, 'changes()').feedSource()
  return tableChanges({ ...source, catalog: { query: (sql) => listener.query(sql) } }, table, options)
}

/**
 * Schema changes in the database, decoded: installs the DDL event trigger (needs a superuser;
 * SuperuserRequiredError otherwise) unless `install: false`, and yields DdlChange events,
 * PayloadError, and Gap markers.
 */
export function ddlChanges(listener: Listener, options: DdlChangesOptions = {}): Feed<DdlChange> {
  return ddlFeed(supportOf(listener, 'ddlChanges()').feedSource(), options)
}
