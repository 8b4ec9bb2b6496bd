/**
 * DdlChange: what the DDL event triggers (ddl-trigger.ts) send, as a type, and the decoder
 * from a notification to it, checking every field it reads. Pure; imports the JSON shape
 * checks and the feed error type.
 */
import type { NotificationLike, PayloadError } from './errors.ts'
import { decodeShaped, describe, field, isJsonObject, Shape, type JsonObject, type JsonValue } from './json.ts'

interface DdlChangeBase {
  /** Every feed item has a `type`, so one check tells events, PayloadError and Gap apart. */
  readonly type: 'DdlChange'
  readonly kind: 'ddl'
  readonly channel: string
  /** The backend that ran the DDL. */
  readonly processId: number
  /** 1, 2, ... for the changes of one transaction, in the order they were made. */
  readonly seq: number
  /** The identity did not fit under the 8000-byte payload limit and was left out. */
  readonly truncated: boolean
  /** A command tag, e.g. 'CREATE TABLE', 'ALTER TABLE', 'DROP TABLE'. */
  readonly tag: string
  /** e.g. 'table', 'index', 'sequence', 'function', 'table column', 'type'. */
  readonly objectType: string
  /** The object's schema, or null for objects not in one (schemas, extensions, ...). */
  readonly schema: string | null
  /** As pg_identify_object gives it: qualified and quoted where needed, e.g. public."Orders". */
  readonly identity: string | null
}

/** An object created or altered (ddl_command_end); `tag` is that object's own command tag. */
export interface DdlCommand extends DdlChangeBase {
  readonly event: 'ddl_command_end'
}

/** An object dropped (sql_drop); `tag` is the DROP command's. */
export interface DdlDrop extends DdlChangeBase {
  readonly event: 'sql_drop'
  /** True for the objects the command named; false for those dropped along with them. */
  readonly original: boolean
}

export type DdlChange = DdlCommand | DdlDrop

/** A DDL-trigger notification as a DdlChange, or a PayloadError saying what is wrong with it. */
export function decodeDdlChange(notification: NotificationLike): DdlChange | PayloadError {
  return decodeShaped(notification, 'a DDL change', ddlChange)
}

function ddlChange({ channel, processId }: NotificationLike, json: JsonValue): DdlChange {
  if (!isJsonObject(json)) throw new Shape('not a JSON object')
  const seq = field(json, 'seq', 'number')
  if (!Number.isSafeInteger(seq) || seq < 1) throw new Shape(`"seq" is ${seq}, not a counting number`)
  const base = {
    type: 'DdlChange',
    kind: 'ddl',
    channel,
    processId,
    seq,
    truncated: field(json, 'truncated', 'boolean'),
    tag: field(json, 'tag', 'string'),
    objectType: field(json, 'objectType', 'string'),
    schema: nullableText(json, 'schema'),
    identity: nullableText(json, 'identity'),
  } as const
  const event = json['event']
  switch (event) {
    case 'ddl_command_end':
      return { ...base, event }
    case 'sql_drop':
      return { ...base, event, original: field(json, 'original', 'boolean') }
    default:
      throw new Shape(`"event" is ${describe(event)}, not ddl_command_end or sql_drop`)
  }
}

function nullableText(json: JsonObject, name: string): string | null {
  const value = json[name]
  if (value === null || typeof value === 'string') return value
  throw new Shape(`"${name}" is ${describe(value)}, not a string or null`)
}
