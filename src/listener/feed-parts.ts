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
import type { Change, Decoder, Parts } from './feeds.ts'
import type { Notification } from './subscription.ts'

/** A table's feed: the row trigger (or tcn's) on `channel`, and its decoder. */
export function tableParts(table: TableName, kind: 'rows' | 'tcn', channel: string): Parts<Change> {
  return {
    install: (c) => (kind === 'rows' ? installRowTrigger(c, table, { channel }) : installTcnTrigger(c, table, { channel })),
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
  if (kind === 'rows') return { decode: decodeRowChange, accept: (c) => c.kind === 'row' && c.schema === target.schema && c.table === target.table }
  return { decode: decodeTcnChange, accept: (c) => c.kind === 'tcn' && c.table === target.table }
}
