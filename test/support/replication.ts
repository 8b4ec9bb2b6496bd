/**
 * What replication tests share: reading a stream on until its first row change, to see whether
 * the stream hands one out or ends. Imports the replication types only.
 */
import type { ReplicationChange } from '../../src/replication.ts'

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
