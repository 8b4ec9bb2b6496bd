/**
 * pglisten's listener: LISTEN/NOTIFY that keeps working across reconnects, with gap
 * signalling, liveness checks and backpressure. Built on pglisten/protocol only.
 */
export { createListener, Listener, type ListenerOptions, type ListenerEvents, type ListenerStats, type NotificationsOptions } from './listener.ts'
export { ListenerError, ConsumerStalledError } from './errors.ts'
export type { Gap, ListenerItem, Notification } from './subscription.ts'
export type { ListenerState } from './lifecycle.ts'
export type { BackoffOptions } from './backoff.ts'
export type { OutboxOptions } from './outbox-options.ts'
export type { HeartbeatOptions } from './liveness.ts'
export { quoteIdentifier, quoteLiteral, foldIdentifier, checkChannel, checkPayload, maxIdentifierBytes, payloadLimitBytes } from './sql.ts'
export type { ChangesOptions, Change, DdlChangesOptions, Feed, FeedItem } from './feeds.ts'
// The feeds' types only: their triggers and decoders, as values, are pglisten/changes (src/changes.ts).
export type {
  PayloadError, NoPrimaryKeyError, SuperuserRequiredError, NotificationLike, JsonValue, JsonObject, TableName, QualifiedTable, SqlRunner,
  TcnPayload, TcnChange, ChangeOperation, TcnTrigger, TcnTriggerOptions, RowChange, RowInsert, RowUpdate, RowDelete, RowKey,
  RowTrigger, RowTriggerOptions, DdlChange, DdlCommand, DdlDrop, DdlTrigger, DdlTriggerOptions,
} from './changes/index.ts'
