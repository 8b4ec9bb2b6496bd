/**
 * What both front doors export (src/index.ts for Node, Bun and Deno; src/workers.ts for
 * Cloudflare Workers): the listener, and the protocol layer's connection, errors and types.
 * Runtime-neutral: each front door adds its own connect(), Listener and createListener, bound
 * to its Platform. Imports the listener and the protocol's modules that hold these names, each
 * from its own module, not through protocol/portable.ts: that would bring along everything the
 * protocol exports, such as the connection-string parser a connection loads only when it needs it.
 */
export * from './listener/index.ts'
export {
  PgListenError,
  ConnectionLostError,
  ProtocolViolationError,
  AuthenticationRefusedError,
  PasswordRequiredError,
  DatabaseError,
  type NoticeFields,
} from './protocol/errors.ts'
export { Connection } from './protocol/io/connection.ts'
export { CopyNotSupportedError, type QueryResult } from './protocol/exchange/query.ts'
export type { ConnectOptions } from './protocol/io/connect.ts'
export type { ConnectionOptions } from './protocol/options/types.ts'
export type { NotificationResponse, NoticeResponse } from './protocol/backend/messages.ts'
export type { TlsSettings, SslMode } from './protocol/io/link.ts'
export type { Platform } from './protocol/io/platform.ts'
