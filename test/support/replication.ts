/**
 * What replication tests share: reading a stream on until its first row change, to see whether
 * the stream hands one out or ends; and, for the CLI's replicate, waiting for a condition with
 * words for its failure, for a slot to be let go, and reading where a slot's consumer confirmed.
 */
import type { ReplicationChange } from '../../src/replication.ts'
import type { Connection } from '../../src/protocol/io/connection.ts'
import { parseLsn, type Lsn } from '../../src/protocol/replication/lsn.ts'

/**
 * Reads `iterator` until it hands out an insert (returned, with what came before it, in `rest`)
 * or ends; rejects as the stream does. A test that expects the stream to fail (a slot moved past
 * what it acknowledged) sees, if it did not, the change that the move skipped to in `rest`.
 */
export async function untilFirstInsert(iterator: AsyncIterator<ReplicationChange>, rest: ReplicationChange[]): Promise<void> {
  for (;;) {
    const { value, done } = await iterator.next()
    if (done) return
    rest.push(value)
    if (value.kind === 'insert') return
  }
}

/** Resolves once `done()` holds, asking every 20 ms; fails, saying `what`, after `ms`. */
export async function until(done: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

export async function untilInactive(sql: Connection, slot: string): Promise<void> {
  await until(async () => {
    const [result] = await sql.query(`SELECT active FROM pg_replication_slots WHERE slot_name = '${slot}'`)
    return result!.rows.length === 0 || result!.rows[0]![0] === 'f'
  }, `slot ${slot} to be let go`)
}

export async function confirmedFlush(sql: Connection, slot: string): Promise<Lsn> {
  const [result] = await sql.query(`SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '${slot}'`)
  return parseLsn(result!.rows[0]![0]!)
}
