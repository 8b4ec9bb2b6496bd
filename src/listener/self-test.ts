/**
 * The pooler self-test. Behind a pooler in transaction mode, LISTEN runs on whichever server
 * connection the transaction got, and notifications never come back to us: LISTEN silently
 * does nothing. So after the first LISTEN, a NOTIFY on a private channel, in a transaction of
 * its own, must come back within a timeout, or the listener fails saying why.
 */
import type { NotificationResponse } from '../protocol/backend/messages.ts'
import type { Connection } from '../protocol/io/connection.ts'
import { ListenerError } from './errors.ts'
import { quoteIdentifier, quoteLiteral } from './sql.ts'

export interface SelfTest {
  readonly channel: string
  heard(notification: NotificationResponse): void
}

export async function poolerSelfTest(
  connection: Connection,
  install: (test: SelfTest | undefined) => void,
  timeout = 2_000,
): Promise<void> {
  const token = Array.from(globalThis.crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, '0')).join('')
  const channel = `pglisten.self-test.${token}`
  let heard!: () => void
  const arrived = new Promise<true>((resolve) => (heard = () => resolve(true)))
  install({ channel, heard: (n) => n.payload === token && heard() })
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    await connection.query(`LISTEN ${quoteIdentifier(channel)}`)
    // A separate query is a separate transaction: a transaction pooler may run it elsewhere.
    await connection.query(`SELECT pg_notify(${quoteLiteral(channel)}, ${quoteLiteral(token)})`)
    const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeout)))
    if (!(await Promise.race([arrived, timedOut]))) {
      throw new ListenerError(
        `LISTEN does not work on this connection: a test notification did not come back within ${timeout} ms. ` +
          'A connection pooler in transaction mode (PgBouncer, Odyssey, RDS Proxy, ...) does this; ' +
          'connect to PostgreSQL directly or through a pooler in session mode.',
      )
    }
    await connection.query(`UNLISTEN ${quoteIdentifier(channel)}`)
  } finally {
    clearTimeout(timer)
    install(undefined)
  }
}
