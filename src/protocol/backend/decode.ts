/**
 * From a message's type byte and body to a BackendMessage: the dispatch over every decoder.
 * Pure. The framer (../framer.ts) finds the bodies; this file only names them.
 */
import { ProtocolViolationError } from '../errors.ts'
import type { BodyReader } from '../bytes/reader.ts'
import { decodeAuthentication } from './authentication.ts'
import type { BackendMessage } from './messages.ts'
import { decodeNoticeFields } from './notices.ts'
import { decodeNotificationResponse } from './notification.ts'
import { decodeCommandComplete, decodeCopyResponse, decodeDataRow, decodeRowDescription } from './query.ts'
import {
  decodeBackendKeyData,
  decodeNegotiateProtocolVersion,
  decodeParameterStatus,
  decodeReadyForQuery,
} from './session.ts'

/** Decodes one body; `r` is bounded to it. Throws ProtocolViolationError on malformed input. */
export function decodeBackendMessage(type: number, r: BodyReader): BackendMessage {
  switch (type) {
    case 0x41: // 'A', first: a listener hears this far more than anything else
      return decodeNotificationResponse(r)
    case 0x44: // 'D'
      return decodeDataRow(r)
    case 0x43: // 'C'
      return decodeCommandComplete(r)
    case 0x54: // 'T'
      return decodeRowDescription(r)
    case 0x5a: // 'Z'
      return decodeReadyForQuery(r)
    case 0x45: // 'E'
      return { type: 'ErrorResponse', fields: decodeNoticeFields(r, 'ErrorResponse') }
    case 0x4e: // 'N'
      return { type: 'NoticeResponse', fields: decodeNoticeFields(r, 'NoticeResponse') }
    case 0x53: // 'S'
      return decodeParameterStatus(r)
    case 0x52: // 'R'
      return decodeAuthentication(r)
    case 0x4b: // 'K'
      return decodeBackendKeyData(r)
    case 0x76: // 'v'
      return decodeNegotiateProtocolVersion(r)
    case 0x49: // 'I'
      r.end('EmptyQueryResponse')
      return { type: 'EmptyQueryResponse' }
    case 0x47: // 'G'
      return decodeCopyResponse('CopyInResponse', r)
    case 0x48: // 'H'
      return decodeCopyResponse('CopyOutResponse', r)
    case 0x57: // 'W'
      return decodeCopyResponse('CopyBothResponse', r)
    case 0x64: // 'd'
      return { type: 'CopyData', data: r.rest() }
    case 0x63: // 'c'
      r.end('CopyDone')
      return { type: 'CopyDone' }
    default:
      // Extended-query replies (ParseComplete and the like) are unexpected too: we never ask.
      throw new ProtocolViolationError(`unexpected message type ${describeType(type)}`)
  }
}

function describeType(type: number): string {
  const printable = type >= 0x20 && type < 0x7f
  return printable ? `'${String.fromCharCode(type)}'` : `0x${type.toString(16).padStart(2, '0')}`
}
