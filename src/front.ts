/**
 * What both front doors export (src/index.ts for Node, Bun and Deno; src/workers.ts for
 * Cloudflare Workers): the listener, and the protocol layer's connection, errors and types.
 * Runtime-neutral: each front door adds its own connect(), Listener and createListener, bound
 * to its Platform. Imports the listener and protocol/portable.ts only.
 */
export * from './listener/index.ts'
export {
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
  type Platform,
} from './protocol/portable.ts'
