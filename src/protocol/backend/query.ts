/**
 * Decoders of the simple-query flow's results: RowDescription, DataRow, CommandComplete,
 * EmptyQueryResponse, and the Copy responses, which are recognized so they can be refused.
 * Pure: reads from a BodyReader.
 */
import { ProtocolViolationError } from '../errors.ts'
import type { BodyReader } from '../bytes/reader.ts'
import type {
  CommandComplete,
  CopyResponse,
  DataRow,
  FieldDescription,
  RowDescription,
} from './messages.ts'

/**
 * RowDescription (B)
 *   Byte1('T') Int32 length Int16 fieldCount, then per field:
 *     String name Int32 tableOid Int16 columnNumber Int32 typeOid Int16 typeSize
 *     Int32 typeModifier Int16 format
 */
export function decodeRowDescription(r: BodyReader): RowDescription {
  const count = r.int16('RowDescription field count')
  // A field takes at least 19 bytes (an empty name is 1 byte, then 18 bytes of numbers).
  if (count < 0 || count * 19 > r.remaining) {
    throw new ProtocolViolationError(`RowDescription: ${count} fields cannot fit in ${r.remaining} bytes`)
  }
  const fields: FieldDescription[] = []
  for (let i = 0; i < count; i++) {
    fields.push({
      name: r.cstring('RowDescription field name'),
      tableOid: r.int32('RowDescription table OID') >>> 0,
      columnNumber: r.int16('RowDescription column number'),
      typeOid: r.int32('RowDescription type OID') >>> 0,
      typeSize: r.int16('RowDescription type size'),
      typeModifier: r.int32('RowDescription type modifier'),
      format: r.int16('RowDescription format'),
    })
  }
  r.end('RowDescription')
  return { type: 'RowDescription', fields }
}

/**
 * DataRow (B)
 *   Byte1('D') Int32 length Int16 columnCount, then per column:
 *     Int32 valueLength (-1 for NULL) Byte[valueLength] value
 */
export function decodeDataRow(r: BodyReader): DataRow {
  const count = r.int16('DataRow column count')
  // A column takes at least its 4-byte length.
  if (count < 0 || count * 4 > r.remaining) {
    throw new ProtocolViolationError(`DataRow: ${count} columns cannot fit in ${r.remaining} bytes`)
  }
  const values: (string | null)[] = []
  for (let i = 0; i < count; i++) {
    const length = r.int32('DataRow value length')
    if (length === -1) values.push(null)
    else values.push(r.text(length, 'DataRow value'))
  }
  r.end('DataRow')
  return { type: 'DataRow', values }
}

/**
 * CommandComplete (B)
 *   Byte1('C') Int32 length String tag
 */
export function decodeCommandComplete(r: BodyReader): CommandComplete {
  return { type: 'CommandComplete', tag: r.finalCString('CommandComplete tag') }
}

/**
 * CopyInResponse (B) Byte1('G'), CopyOutResponse (B) Byte1('H'), CopyBothResponse (B) Byte1('W')
 *   Int32 length Int8 format Int16 columnCount Int16 format × columnCount
 */
export function decodeCopyResponse(type: CopyResponse['type'], r: BodyReader): CopyResponse {
  const format = r.byte(`${type} format`)
  const count = r.int16(`${type} column count`)
  if (count < 0 || count * 2 !== r.remaining) {
    throw new ProtocolViolationError(`${type}: ${count} column formats do not fill ${r.remaining} bytes`)
  }
  const columnFormats: number[] = []
  for (let i = 0; i < count; i++) columnFormats.push(r.int16(`${type} column format`))
  return { type, format, columnFormats }
}
