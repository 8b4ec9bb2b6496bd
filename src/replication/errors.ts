/**
 * The replication stream's own errors. Everything else reaching its caller is a protocol-layer
 * error (a DatabaseError from the server, a ConnectionLostError, a ProtocolViolationError).
 */
import { PgListenError } from '../protocol/errors.ts'

/** The stream is closed, gave up reconnecting, or cannot go on without losing changes. */
export class ReplicationError extends PgListenError {
  override name = 'ReplicationError'
}

/** A column's text could not be read as its type says (a malformed array literal, bytea, date). */
export class ValueParseError extends ReplicationError {
  override name = 'ValueParseError'
}
