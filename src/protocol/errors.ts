/**
 * The error vocabulary of pglisten: one base class and one class per kind of failure.
 * Imports nothing; everything else imports it.
 *
 * Following h11, errors split by who is at fault: the caller misusing the API gets a plain
 * TypeError or RangeError; everything below is about the connection, the server or the
 * security checks the client makes. Causes are chained through the standard `cause` option.
 */

/** The base of every error pglisten raises on purpose. */
export class PgListenError extends Error {
  override name = 'PgListenError'
}

/** The connection closed, failed or timed out; nothing the server said explains it. */
export class ConnectionLostError extends PgListenError {
  override name = 'ConnectionLostError'
}

/**
 * The server broke the protocol: a malformed or unexpected message, a length out of bounds,
 * text that is not UTF-8. The connection cannot be trusted after this and is closed.
 */
export class ProtocolViolationError extends PgListenError {
  override name = 'ProtocolViolationError'
}

/**
 * The client refused to go on with authentication: the server asked for a method the options
 * forbid, or a check the client makes failed (SCRAM nonce, salt, iteration count, server
 * signature, channel binding, TLS verification). Nothing secret is in the message.
 */
export class AuthenticationRefusedError extends PgListenError {
  override name = 'AuthenticationRefusedError'
}

/**
 * The fields of an ErrorResponse or a NoticeResponse, named after the field codes in the
 * protocol docs, section "Error and Notice Message Fields". Unknown codes are ignored, as the
 * docs ask of frontends.
 */
export interface NoticeFields {
  /** S: severity, possibly localized (ERROR, FATAL, PANIC, WARNING, NOTICE, DEBUG, INFO, LOG). */
  severityLocalized?: string
  /** V: severity, never localized (PostgreSQL 9.6 and later). */
  severity?: string
  /** C: the SQLSTATE code. */
  code?: string
  /** M: the primary message. */
  message?: string
  /** D: detail. */
  detail?: string
  /** H: hint. */
  hint?: string
  /** P: cursor position in the query string, 1-based, in characters. */
  position?: number
  /** p: position in an internally generated command. */
  internalPosition?: number
  /** q: the internally generated command. */
  internalQuery?: string
  /** W: context (call stack traceback). */
  where?: string
  /** s: schema name. */
  schema?: string
  /** t: table name. */
  table?: string
  /** c: column name. */
  column?: string
  /** d: data type name. */
  dataType?: string
  /** n: constraint name. */
  constraint?: string
  /** F: source file where the error was reported. */
  file?: string
  /** L: source line. */
  line?: number
  /** R: source routine. */
  routine?: string
}

/**
 * The server wants a password and none was given (libpq's PQconnectionNeedsPassword): a
 * caller that can ask someone for one (a command line) knows to do so.
 */
export class PasswordRequiredError extends AuthenticationRefusedError {
  override name = 'PasswordRequiredError'
}

/** The server answered with an ErrorResponse. `code` is its SQLSTATE, e.g. '28P01'. */
export class DatabaseError extends PgListenError implements NoticeFields {
  override name = 'DatabaseError'
  readonly code: string
  readonly severity: string
  readonly severityLocalized?: string
  readonly detail?: string
  readonly hint?: string
  readonly position?: number
  readonly internalPosition?: number
  readonly internalQuery?: string
  readonly where?: string
  readonly schema?: string
  readonly table?: string
  readonly column?: string
  readonly dataType?: string
  readonly constraint?: string
  readonly file?: string
  readonly line?: number
  readonly routine?: string

  constructor(fields: NoticeFields, options?: ErrorOptions) {
    super(fields.message ?? 'the server reported an error without a message', options)
    // Every field of the ErrorResponse, as its own property; `message` is Error's.
    const { message: _message, ...rest } = fields
    Object.assign(this, rest)
    this.code = fields.code ?? 'XX000'
    this.severity = fields.severity ?? fields.severityLocalized ?? 'ERROR'
  }
}
