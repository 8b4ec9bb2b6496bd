/**
 * pglisten/protocol, everything but the runtime: the PostgreSQL frontend/backend protocol, from
 * bytes to a connection. The pure core (framer, decoders, encoders, SCRAM, exchanges, session)
 * runs anywhere; io/ opens sockets through a Platform that an entry point (index.ts for Node,
 * workers.ts for Cloudflare Workers) binds. Imports no runtime's modules; never the listener.
 */
export * from './errors.ts'
export type * from './backend/messages.ts'
export { decodeBackendMessage } from './backend/decode.ts'
export { BodyReader } from './bytes/reader.ts'
export { ShortStrings, type Latin1Decoder } from './bytes/short-strings.ts'
export { readInt64, readUint64, writeInt64 } from './replication/int64.ts'
export { ByteWriter } from './bytes/writer.ts'
export { decodeUtf8, encodeUtf8, utf8Length, type Utf8Decoder } from './bytes/utf8.ts'
export { Framer, defaultMaxMessageLength, type FramerOptions } from './framer.ts'
export * from './frontend.ts'
export { ScramSha256Client, SaltedPasswordCache, DEFAULT_MAX_ITERATIONS, type ScramOptions } from './auth/scram.ts'
export { send, receive, nextMessage, type Exchange, type Step } from './exchange/steps.ts'
export { startup, type StartupOptions, type StartupResult, type AuthenticationMethod } from './exchange/startup.ts'
export { simpleQuery, CopyNotSupportedError, type QueryResult, type QueryOutcome } from './exchange/query.ts'
export { Session, type SessionEdge, type SessionHandlers, type SessionOptions, type Tracer } from './session.ts'
export type { Link, LinkOptions, TlsSettings, SslMode, Endpoint } from './io/link.ts'
export type { Platform, TlsMaterial } from './io/platform.ts'
export { createTracer, type TracerOptions, type CopyBothReader } from './trace/index.ts'
export { Connection, type OpenOptions } from './io/connection.ts'
export type { ConnectOptions } from './io/connect.ts'
// libpq's settings: their types and the small parts every connection uses. The resolver and the
// connection-string parser are pglisten/protocol/options (options/index.ts): a connection loads
// the parser only for a connection string, and re-exported here it would load with every one.
export type * from './options/types.ts'
export { isConnectionString, type Conninfo } from './options/conninfo.ts'
export type { PgpassTarget } from './options/pgpass.ts'
export { DEFAULT_PORT, DEFAULT_SOCKET_DIR, isUnixSocketPath } from './options/defaults.ts'
export { CHANNEL_BINDINGS, SSL_MODES, SSL_NEGOTIATIONS, TARGET_SESSION_ATTRS } from './options/values.ts'
export type { RequireAuth, AuthMethod } from './auth/require-auth.ts'
