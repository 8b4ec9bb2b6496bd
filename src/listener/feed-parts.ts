/**
 * What a change feed uses once it starts: each trigger's install and removal, and the decoder
 * that turns its notifications into typed events; feeds.ts holds what happens at the call.
 * Imports changes/ only.
 */
import {
  decodeDdlChange,
  decodeRowChange,
  decodeTcnChange,
  installDdlTrigger,
  installRowTrigger,
  installTcnTrigger,
  parseTableName,
  PayloadError,
  removeDdlTrigger,
  removeRowTrigger,
  removeTcnTrigger,
  type DdlChange,
  type DdlTriggerOptions,
  type TableName,
} from './changes/index.ts'
import { refusePartitioned } from './changes/checks.ts'
import type { Change, Decoder, Parts } from './feeds.ts'
import type { Notification } from './subscription.ts'

/** A table's feed: the row trigger (or tcn's) on `channel`, and its decoder. */
export function tableParts(table: TableName, kind: 'rows' | 'tcn', channel: string): Parts<Change> {
  return {
    install: async (c) => {
      if (kind === 'rows') return installRowTrigger(c, table, { channel })
      // Its changes would all be dropped (checks.ts); the row trigger names the table it was installed on.
      await c.query(refusePartitioned(parseTableName(table), "tcn names each change's partition, not this table: use the rows feed"))
      return installTcnTrigger(c, table, { channel })
    },
    remove: (c) => (kind === 'rows' ? removeRowTrigger(c, table) : removeTcnTrigger(c, table)),
    ...tableFeed(table, kind),
  }
}

/** The DDL feed: the event triggers, and their decoder. */
export function ddlParts(trigger: DdlTriggerOptions): Parts<DdlChange> {
  return {
    install: (c) => installDdlTrigger(c, trigger),
    remove: (c) => removeDdlTrigger(c, trigger),
    decode: decodeDdlChange,
  }
}

/** The decoder for a table's feed; tcn events are kept only for this table (its payload names no schema). */
export function tableFeed(table: TableName, kind: 'rows' | 'tcn'): Required<Decoder<Change>> & { decode: (n: Notification) => Change | PayloadError } {
  const target = parseTableName(table)
  // A row change is this table's if its trigger was installed on it: the change may be to a
  // partition, or come after a rename, when its own schema and table differ (row-trigger.ts).
  if (kind === 'rows') {
    return { decode: decodeRowChange, accept: (c) => c.kind === 'row' && (c.installedOn ?? c).schema === target.schema && (c.installedOn ?? c).table === target.table }
  }
  return { decode: decodeTcnChange, accept: (c) => c.kind === 'tcn' && c.table === target.table }
}
