/**
 * The listener's own error: closed, gave up reconnecting, or LISTEN does not work through this
 * connection. Everything else reaching a listener's caller is a protocol-layer error.
 */
import { PgListenError } from '../protocol/errors.ts'

export class ListenerError extends PgListenError {
  override name = 'ListenerError'
}
