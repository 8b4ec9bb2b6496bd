/**
 * The decoder of TupleData, the row inside Insert, Update and Delete. Pure: reads from a
 * BodyReader, which may hold more after the tuple (Update's new tuple follows its old one).
 */
import type { BodyReader } from '../../bytes/reader.ts'
import { ProtocolViolationError } from '../../errors.ts'
import { unchangedToast, type ColumnValue, type TupleData } from '../pgoutput-messages.ts'
import { describeByte } from './fields.ts'

/**
 * TupleData
 *   Int16 columnCount, then per column one of:
 *     Byte1('n')                          null
 *     Byte1('u')                          unchanged TOASTed value, not sent
 *     Byte1('t') Int32 length Byte[length] text, in client_encoding: UTF-8
 *     Byte1('b') Int32 length Byte[length] binary, the type's send format (option `binary`)
 * `what` names the tuple in errors: 'Update old tuple'. One string for every field of it, so
 * that reading a column builds no string; the errors that can say more do.
 */
export function decodeTupleData(r: BodyReader, what: string): TupleData {
  const count = r.int16(what)
  // A column takes at least its kind byte.
  if (count < 0 || count > r.remaining) {
    throw new ProtocolViolationError(`${what}: ${count} columns cannot fit in ${r.remaining} bytes`)
  }
  const values: ColumnValue[] = []
  for (let i = 0; i < count; i++) {
    const kind = r.byte(what)
    switch (kind) {
      case 0x74: // 't', first: the usual kind
        values.push(r.text(r.int32(what), what))
        break
      case 0x6e: // 'n'
        values.push(null)
        break
      case 0x75: // 'u'
        values.push(unchangedToast)
        break
      case 0x62: // 'b'
        values.push(r.bytes(r.int32(what), what))
        break
      default:
        throw new ProtocolViolationError(`${what}: column ${i + 1} has the kind ${describeByte(kind)}, none of 'n', 'u', 't', 'b'`)
    }
  }
  return values
}
