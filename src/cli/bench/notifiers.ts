/**
 * The bench's notifiers: M connections in the bench's process, each sending one NOTIFY at a
 * time, as pgbench's clients each run one transaction at a time. Imports the protocol's
 * Connection, the listener's identifier quoting, and the payload stamp.
 *
 * Each NOTIFY is its own transaction (the simple query protocol commits it on its own), which
 * is when PostgreSQL queues it for the listeners; it also keeps the server from folding
 * identical payloads together, which it does only within one transaction.
 */
import type { Connection } from '../../protocol/io/connection.ts'
import { quoteIdentifier } from '../../listener/sql.ts'
import { nanosSince, padding, stampedPayload } from './payload.ts'

/** How many NOTIFYs remain to send; shared by the notifiers, so the total is exact. */
export interface Quota {
  take(): boolean
  stop(): void
}

export function countQuota(count: number): Quota {
  let remaining = count
  return {
    take: () => remaining-- > 0,
    stop: () => void (remaining = 0),
  }
}

/** Sending stops at `deadline` on the bench's clock (ns); the NOTIFYs in flight then finish. */
export function timeQuota(epoch: bigint, deadline: number): Quota {
  let stopped = false
  return {
    take: () => !stopped && nanosSince(epoch) < deadline,
    stop: () => void (stopped = true),
  }
}

/**
 * Sends until the quota runs out; `onSent` counts each committed NOTIFY. The stamp is read
 * just before query(), which writes the Query message at once (the connection is idle: each
 * notifier waits for its previous NOTIFY's ReadyForQuery). The first failure stops every
 * notifier and rejects.
 */
export async function sendNotifications(
  connections: readonly Connection[],
  channel: string,
  size: number,
  quota: Quota,
  epoch: bigint,
  onSent: () => void,
): Promise<void> {
  const fill = padding(size)
  const prefix = `NOTIFY ${quoteIdentifier(channel)}, '`
  await Promise.all(
    connections.map(async (connection) => {
      try {
        while (quota.take()) {
          await connection.query(`${prefix}${stampedPayload(nanosSince(epoch), fill)}'`)
          onSent()
        }
      } catch (error) {
        quota.stop()
        throw error
      }
    }),
  )
}
