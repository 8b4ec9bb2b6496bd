/**
 * The listener's own errors: closed, gave up reconnecting, LISTEN does not work through this
 * connection, or a consumer stopped reading. Everything else reaching a listener's caller is a
 * protocol-layer error.
 */
import { PgListenError } from '../protocol/errors.ts'

export class ListenerError extends PgListenError {
  override name = 'ListenerError'
}

/** What a call fails with once the listener is closed (close() came, or it gave up). */
export function closedError(options?: ErrorOptions): ListenerError {
  return new ListenerError('the listener is closed', options)
}

/**
 * A consumer held the socket paused and read nothing for `stallTimeout` ms: an iterator that
 * was abandoned (neither read nor returned), async handlers whose promises never settle, or
 * notifications that nobody has consumed since listen(). The listener stops waiting for it, so
 * the others go on; an iterator cut off this way gets a Gap when it reads again.
 */
export class ConsumerStalledError extends ListenerError {
  override name = 'ConsumerStalledError'
  constructor(
    message: string,
    /** Which consumer: "iterator #3 on \"orders\"", "'notification' handlers", or "no consumer". */
    readonly consumer: string,
    /** How many notifications it had not taken when it was cut off. */
    readonly behind: number,
  ) {
    super(message)
  }
}
