/**
 * The messages a server sends, as one discriminated union on `type`, named as in the
 * PostgreSQL protocol docs ("Message Formats"). Types only; decoders live beside this file.
 */
import type { NoticeFields } from '../errors.ts'

export interface AuthenticationOk {
  readonly type: 'AuthenticationOk'
}
export interface AuthenticationCleartextPassword {
  readonly type: 'AuthenticationCleartextPassword'
}
export interface AuthenticationMD5Password {
  readonly type: 'AuthenticationMD5Password'
  /** Byte4: the salt to use when encrypting the password. */
  readonly salt: Uint8Array
}
/** Kerberos V5, GSSAPI and SSPI: recognized so that the refusal can name them; never supported. */
export interface AuthenticationUnsupported {
  readonly type: 'AuthenticationKerberosV5' | 'AuthenticationGSS' | 'AuthenticationGSSContinue' | 'AuthenticationSSPI'
}
export interface AuthenticationSASL {
  readonly type: 'AuthenticationSASL'
  /** The SASL mechanisms the server offers, in its order of preference. */
  readonly mechanisms: readonly string[]
}
export interface AuthenticationSASLContinue {
  readonly type: 'AuthenticationSASLContinue'
  /** SASL data, specific to the mechanism (for SCRAM, the server-first-message). */
  readonly data: Uint8Array
}
export interface AuthenticationSASLFinal {
  readonly type: 'AuthenticationSASLFinal'
  /** SASL outcome "additional data" (for SCRAM, the server-final-message). */
  readonly data: Uint8Array
}
export interface ParameterStatus {
  readonly type: 'ParameterStatus'
  readonly name: string
  readonly value: string
}
export interface BackendKeyData {
  readonly type: 'BackendKeyData'
  readonly processId: number
  /** 4 bytes under protocol 3.0; up to 256 bytes under 3.2. */
  readonly secretKey: Uint8Array
}
export interface NegotiateProtocolVersion {
  readonly type: 'NegotiateProtocolVersion'
  /**
   * The newest protocol version the server supports, as major << 16 | minor. The docs call it
   * the "newest minor protocol version", but servers send the whole version number
   * (PG_PROTOCOL_LATEST, e.g. 0x00030000), and libpq reads it so.
   */
  readonly newestVersion: number
  /** Protocol options (`_pq_.*`) the server did not recognize. */
  readonly unrecognizedOptions: readonly string[]
}
export interface ReadyForQuery {
  readonly type: 'ReadyForQuery'
  /** 'I' idle, 'T' in a transaction block, 'E' in a failed transaction block. */
  readonly status: TransactionStatus
}
export type TransactionStatus = 'I' | 'T' | 'E'

export interface FieldDescription {
  readonly name: string
  /** The table's OID if the column is a table column, else 0. */
  readonly tableOid: number
  /** The column's attribute number if the column is a table column, else 0. */
  readonly columnNumber: number
  readonly typeOid: number
  /** The pg_type.typlen: negative for variable-width types. */
  readonly typeSize: number
  readonly typeModifier: number
  /** 0 text, 1 binary. The simple query protocol always uses text. */
  readonly format: number
}
export interface RowDescription {
  readonly type: 'RowDescription'
  readonly fields: readonly FieldDescription[]
}
export interface DataRow {
  readonly type: 'DataRow'
  /** Each column's value as text, or null for SQL NULL. */
  readonly values: readonly (string | null)[]
}
export interface CommandComplete {
  readonly type: 'CommandComplete'
  /** The command tag, e.g. "SELECT 3", "INSERT 0 1", "LISTEN". */
  readonly tag: string
}
export interface EmptyQueryResponse {
  readonly type: 'EmptyQueryResponse'
}
export interface ErrorResponse {
  readonly type: 'ErrorResponse'
  readonly fields: NoticeFields
}
export interface NoticeResponse {
  readonly type: 'NoticeResponse'
  readonly fields: NoticeFields
}
export interface NotificationResponse {
  readonly type: 'NotificationResponse'
  /** The process ID of the notifying backend. */
  readonly processId: number
  readonly channel: string
  readonly payload: string
}

/** CopyInResponse, CopyOutResponse and CopyBothResponse share one grammar. */
export interface CopyResponse {
  readonly type: 'CopyInResponse' | 'CopyOutResponse' | 'CopyBothResponse'
  /** 0 textual, 1 binary. */
  readonly format: number
  readonly columnFormats: readonly number[]
}
export interface CopyData {
  readonly type: 'CopyData'
  readonly data: Uint8Array
}
export interface CopyDone {
  readonly type: 'CopyDone'
}

export type BackendMessage =
  | AuthenticationOk
  | AuthenticationCleartextPassword
  | AuthenticationMD5Password
  | AuthenticationUnsupported
  | AuthenticationSASL
  | AuthenticationSASLContinue
  | AuthenticationSASLFinal
  | ParameterStatus
  | BackendKeyData
  | NegotiateProtocolVersion
  | ReadyForQuery
  | RowDescription
  | DataRow
  | CommandComplete
  | EmptyQueryResponse
  | ErrorResponse
  | NoticeResponse
  | NotificationResponse
  | CopyResponse
  | CopyData
  | CopyDone

/** The messages the server may send at any time, outside any exchange (protocol docs 55.2.7). */
export type AsynchronousMessage = NotificationResponse | NoticeResponse | ParameterStatus
