/**
 * Decoders of the messages that set up and pace a session: ParameterStatus, BackendKeyData,
 * NegotiateProtocolVersion, ReadyForQuery. Pure: reads from a BodyReader.
 */
import { ProtocolViolationError } from '../errors.ts'
import type { BodyReader } from '../bytes/reader.ts'
import type {
  BackendKeyData,
  NegotiateProtocolVersion,
  ParameterStatus,
  ReadyForQuery,
} from './messages.ts'

/**
 * ParameterStatus (B)
 *   Byte1('S') Int32 length String name String value
 */
export function decodeParameterStatus(r: BodyReader): ParameterStatus {
  const name = r.cstring('ParameterStatus name')
  const value = r.finalCString('ParameterStatus value')
  return { type: 'ParameterStatus', name, value }
}

/** The longest cancel key protocol 3.2 allows ("Message Formats", BackendKeyData). */
export const maxSecretKeyLength = 256

/**
 * BackendKeyData (B)
 *   Byte1('K') Int32 length Int32 processId Byte[n] secretKey
 * n is 4 under protocol 3.0 and at most 256 under 3.2; the startup exchange, which knows the
 * negotiated version, checks which applies.
 */
export function decodeBackendKeyData(r: BodyReader): BackendKeyData {
  const processId = r.int32('BackendKeyData process ID')
  const length = r.remaining
  if (length < 4 || length > maxSecretKeyLength) {
    throw new ProtocolViolationError(`BackendKeyData: a secret key of ${length} bytes is outside 4..${maxSecretKeyLength}`)
  }
  return { type: 'BackendKeyData', processId, secretKey: r.rest() }
}

/**
 * NegotiateProtocolVersion (B)
 *   Byte1('v') Int32 length Int32 newestVersion Int32 count String option × count
 * newestVersion is major << 16 | minor (the server sends PG_PROTOCOL_LATEST).
 */
export function decodeNegotiateProtocolVersion(r: BodyReader): NegotiateProtocolVersion {
  const newestVersion = r.int32('NegotiateProtocolVersion version')
  const count = r.int32('NegotiateProtocolVersion option count')
  // Each option takes at least its NUL: a count beyond the bytes left is a lie.
  if (count < 0 || count > r.remaining) {
    throw new ProtocolViolationError(`NegotiateProtocolVersion: ${count} options cannot fit in ${r.remaining} bytes`)
  }
  const unrecognizedOptions: string[] = []
  for (let i = 0; i < count; i++) unrecognizedOptions.push(r.cstring('NegotiateProtocolVersion option'))
  r.end('NegotiateProtocolVersion')
  return { type: 'NegotiateProtocolVersion', newestVersion, unrecognizedOptions }
}

/**
 * ReadyForQuery (B)
 *   Byte1('Z') Int32(5) length Byte1 status: 'I' idle, 'T' in a transaction, 'E' failed transaction
 */
export function decodeReadyForQuery(r: BodyReader): ReadyForQuery {
  const status = String.fromCharCode(r.byte('ReadyForQuery status'))
  r.end('ReadyForQuery')
  if (status !== 'I' && status !== 'T' && status !== 'E') {
    throw new ProtocolViolationError(`ReadyForQuery: unknown transaction status ${JSON.stringify(status)}`)
  }
  return { type: 'ReadyForQuery', status }
}
