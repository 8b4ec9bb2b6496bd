/**
 * pglisten: a PostgreSQL LISTEN/NOTIFY client written from the wire protocol up.
 * The package's front door: the listener, and the protocol layer's connection and errors
 * (the whole protocol layer is also available as 'pglisten/protocol').
 */
export * from './listener/index.ts'
export {
  connect,
  Connection,
  PgListenError,
  ConnectionLostError,
  ProtocolViolationError,
  AuthenticationRefusedError,
  PasswordRequiredError,
  DatabaseError,
  CopyNotSupportedError,
  type ConnectOptions,
  type ConnectionOptions,
  type QueryResult,
  type NotificationResponse,
  type NoticeResponse,
  type NoticeFields,
  type TlsSettings,
  type SslMode,
} from './protocol/index.ts'
