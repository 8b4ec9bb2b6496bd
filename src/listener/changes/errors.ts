/**
 * The errors of the change feeds: a notification whose payload is not what its feed sends,
 * and the two reasons an installer refuses to start (no primary key, no superuser).
 * Imports only the protocol's error base class and the table-name type.
 */
import { PgListenError } from '../../protocol/errors.ts'
import type { QualifiedTable } from './table-name.ts'

/** What a decoder was given: a NotificationResponse satisfies it. */
export interface NotificationLike {
  readonly processId: number
  readonly channel: string
  readonly payload: string
}

/**
 * One notification's payload could not be decoded. Decoders return it instead of throwing, so
 * a bad message is one bad item in the stream, never an exception inside a read loop, and
 * never silently dropped. `cause` holds the parser's error (a SyntaxError) when there is one.
 */
export class PayloadError extends PgListenError {
  override name = 'PayloadError'
  /** As on every feed item: `item.type === 'PayloadError'` narrows to this class. */
  readonly type = 'PayloadError' as const
  readonly channel: string
  readonly processId: number
  /** The payload as it arrived, whole (the message shows only its start). */
  readonly payload: string

  constructor(notification: NotificationLike, problem: string, options?: ErrorOptions) {
    const shown = notification.payload.length > 80 ? `${notification.payload.slice(0, 80)}...` : notification.payload
    super(`the payload on channel ${JSON.stringify(notification.channel)} from process ${notification.processId} ${problem}: ${JSON.stringify(shown)}`, options)
    this.channel = notification.channel
    this.processId = notification.processId
    this.payload = notification.payload
  }
}

/**
 * The table has no primary key, which both tcn and the JSON row trigger send to identify a
 * row. tcn itself would only fail at the first write, inside the writer's transaction
 * (SQLSTATE 39P01, "must be called on a table with a primary key"); the installers check first.
 */
export class NoPrimaryKeyError extends PgListenError {
  override name = 'NoPrimaryKeyError'
  readonly table: QualifiedTable

  constructor(table: QualifiedTable, options?: ErrorOptions) {
    super(`${table.quoted} has no primary key; change feeds identify rows by it (ALTER TABLE ${table.quoted} ADD PRIMARY KEY (...))`, options)
    this.table = table
  }
}

/**
 * Event triggers need a superuser ("CREATE EVENT TRIGGER": "Only superusers can create event
 * triggers"), through PostgreSQL 18 at least. The installer checks the current role first, so
 * the caller gets this instead of a bare 42501 from half-way through the install.
 */
export class SuperuserRequiredError extends PgListenError {
  override name = 'SuperuserRequiredError'
}
