/**
 * The pooler self-test. Behind a pooler in transaction mode, LISTEN runs on whichever server
 * connection the transaction got, and notifications never come back to us: LISTEN silently
 * does nothing. So after the first LISTEN, a NOTIFY on a private channel, in a transaction of
 * its own, must come back within a timeout, or the listener fails saying why. Each test has
 * its own channel, and its notifications never reach consumers, even one that comes late.
 */
import type { NotificationResponse } from '../protocol/backend/messages.ts'
import type { Connection } from '../protocol/io/connection.ts'
import { ListenerError } from './errors.ts'
import { quoteIdentifier, quoteLiteral } from './sql.ts'
import { checkTimerDelay } from '../protocol/timer.ts'

export const selfTestPrefix = 'pglisten.self-test.'

/** How long a test waits for its notification, in ms: 2 s unless given; a RangeError unless positive and a timer can keep it. */
export function selfTestTimeout(timeout = 2_000): number {
  if (!(timeout > 0)) throw new RangeError(`poolerCheck.timeout must be positive, not ${timeout}`)
  checkTimerDelay('poolerCheck.timeout', timeout)
  return timeout
}

type Queryable = Pick<Connection, 'query'>

export class SelfTests {
  /** Channels LISTENed by a test and not yet UNLISTENed, with what to do when one is heard. */
  readonly #channels = new Map<string, (notification: NotificationResponse) => void>()

  /** Tests whose channel may still deliver: when 0, take() need not be asked. */
  get size(): number {
    return this.#channels.size
  }

  /** True if `notification` is a self-test's: it was consumed here and must not be delivered. */
  take(notification: NotificationResponse): boolean {
    const heard = this.#channels.get(notification.channel)
    if (!heard) return false
    heard(notification)
    return true
  }

  /** Runs one test on `connection`; rejects with a ListenerError explaining poolers if it fails. */
  async run(connection: Queryable, timeout = 2_000): Promise<void> {
    const token = Array.from(globalThis.crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, '0')).join('')
    const channel = `${selfTestPrefix}${token}`
    let heard!: () => void
    const arrived = new Promise<true>((resolve) => (heard = () => resolve(true)))
    this.#channels.set(channel, (n) => n.payload === token && heard())
    let timer: ReturnType<typeof setTimeout> | undefined
    try {
      await connection.query(`LISTEN ${quoteIdentifier(channel)}`)
      // A separate query is a separate transaction: a transaction pooler may run it elsewhere.
      await connection.query(`SELECT pg_catalog.pg_notify(${quoteLiteral(channel)}, ${quoteLiteral(token)})`)
      const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeout)))
      if (!(await Promise.race([arrived, timedOut]))) {
        throw new ListenerError(
          `LISTEN does not work on this connection: a test notification did not come back within ${timeout} ms. ` +
            'A connection pooler in transaction mode (PgBouncer, Odyssey, RDS Proxy, ...) does this; ' +
            'connect to PostgreSQL directly or through a pooler in session mode.',
        )
      }
    } finally {
      clearTimeout(timer)
      // Whatever happened, the test channel must not stay LISTENed; once UNLISTEN is answered
      // nothing more can come on it (and if the connection is gone, neither can anything).
      await connection.query(`UNLISTEN ${quoteIdentifier(channel)}`).catch(() => undefined)
      this.#channels.delete(channel)
    }
  }
}
