/**
 * Decoder of the field list shared by ErrorResponse and NoticeResponse.
 * Pure: reads from a BodyReader.
 */
import type { NoticeFields } from '../errors.ts'
import type { BodyReader } from '../bytes/reader.ts'

/** Field codes from "Error and Notice Message Fields", mapped to NoticeFields' names. */
const textFields: Record<string, Exclude<keyof NoticeFields, 'position' | 'internalPosition' | 'line'>> = {
  S: 'severityLocalized',
  V: 'severity',
  C: 'code',
  M: 'message',
  D: 'detail',
  H: 'hint',
  q: 'internalQuery',
  W: 'where',
  s: 'schema',
  t: 'table',
  c: 'column',
  d: 'dataType',
  n: 'constraint',
  F: 'file',
  R: 'routine',
}
const numberFields: Record<string, 'position' | 'internalPosition' | 'line'> = {
  P: 'position',
  p: 'internalPosition',
  L: 'line',
}

/**
 * ErrorResponse (B) Byte1('E') / NoticeResponse (B) Byte1('N')
 *   Int32 length, then repeated { Byte1 fieldCode String value }, ended by Byte1(0)
 * Unknown field codes are skipped, as the docs ask ("frontends should silently ignore fields
 * of unrecognized type").
 */
export function decodeNoticeFields(r: BodyReader, what: string): NoticeFields {
  const fields: NoticeFields = {}
  for (;;) {
    const code = r.byte(`${what} field code`)
    if (code === 0) break
    const key = String.fromCharCode(code)
    const value = r.cstring(`${what} field ${key}`)
    const textName = textFields[key]
    const numberName = numberFields[key]
    if (textName !== undefined) fields[textName] = value
    else if (numberName !== undefined && /^[0-9]+$/.test(value)) fields[numberName] = Number(value)
  }
  r.end(what)
  return fields
}
