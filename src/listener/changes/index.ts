/**
 * Change feeds: triggers that turn a table's row changes (tcn, or JSON rows) and a database's
 * schema changes (event triggers) into notifications, and decoders from those notifications
 * to typed events. Each installer names the channel it uses; each decoder returns an event or
 * a PayloadError, never throws. Re-exports only.
 */
export { PayloadError, NoPrimaryKeyError, SuperuserRequiredError, type NotificationLike } from './errors.ts'
export { decodeJson, type JsonValue, type JsonObject } from './json.ts'
export { parseTableName, type TableName, type QualifiedTable } from './table-name.ts'
export type { SqlRunner } from './transaction.ts'

export { parseTcnPayload, decodeTcnChange, type TcnPayload, type TcnChange, type ChangeOperation } from './tcn-payload.ts'
export { planTcnTrigger, installTcnTrigger, removeTcnTrigger, type TcnTrigger, type TcnTriggerOptions } from './tcn-trigger.ts'

export { decodeRowChange, type RowChange, type RowInsert, type RowUpdate, type RowDelete, type RowKey } from './row-change.ts'
export { planRowTrigger, installRowTrigger, removeRowTrigger, type RowTrigger, type RowTriggerOptions } from './row-trigger.ts'

export { decodeDdlChange, type DdlChange, type DdlCommand, type DdlDrop } from './ddl-change.ts'
export { rowChangeChannel, tcnDefaultChannel } from './names.ts'
export { planDdlTrigger, installDdlTrigger, removeDdlTrigger, type DdlTrigger, type DdlTriggerOptions } from './ddl-trigger.ts'
