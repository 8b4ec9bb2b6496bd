/**
 * pglisten/replication: durable change streams over logical replication (pgoutput), for Node,
 * Bun and Deno. replicate() opens a stream from a slot; each change is acknowledged explicitly
 * or by asking for the next, and only what was acknowledged is reported flushed, so a restart
 * repeats nothing acknowledged and loses nothing. Imports the protocol's Node entry and
 * src/replication; never the listener's front door.
 */
import { connect } from './protocol/index.ts'
import { ReplicationStream, type ReplicationOptions } from './replication/stream.ts'

export { ReplicationStream, type ReplicationOptions }
export type * from './replication/changes.ts'
export { unchangedToast } from './replication/changes.ts'
export { ReplicationError } from './replication/errors.ts'
export { heartbeatPrefix, type WatchOptions } from './replication/watch.ts'
export { createValueParser, type ValueParser } from './replication/values.ts'
export { parseLsn, formatLsn, type Lsn } from './protocol/replication/lsn.ts'

/**
 * Streams the changes of `options.publications` from the logical replication slot
 * `options.slot`. Returns at once; the connection is made in the background, and its failures
 * reach the caller through the iterator (and `stream.ready`).
 */
export function replicate(options: ReplicationOptions): ReplicationStream {
  return new ReplicationStream(options, connect)
}
export { createPublication, dropPublication, createSlot, dropSlot, slotHealth, emitMessage, type SlotHealth, type TableName } from './replication/admin.ts'
