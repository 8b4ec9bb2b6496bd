/**
 * pglisten: a PostgreSQL LISTEN/NOTIFY client written from the wire protocol up.
 * The package's front door; the protocol layer is also available as 'pglisten/protocol'.
 */
export {
  connect,
  Connection,
  PgListenError,
  ConnectionLostError,
  ProtocolViolationError,
  AuthenticationRefusedError,
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
