/**
 * pglisten/protocol: the PostgreSQL frontend/backend protocol, from bytes to a connection.
 * The pure core (framer, decoders, encoders, SCRAM, exchanges, session) runs anywhere; only
 * io/ touches sockets. Never imports the listener.
 */
export * from './errors.ts'
export type * from './backend/messages.ts'
export { decodeBackendMessage } from './backend/decode.ts'
export { BodyReader } from './bytes/reader.ts'
export { ByteWriter } from './bytes/writer.ts'
export { decodeUtf8, encodeUtf8, utf8Length, type Utf8Decoder } from './bytes/utf8.ts'
export { Framer, defaultMaxMessageLength, type FramerOptions } from './framer.ts'
export * from './frontend.ts'
export { ScramSha256Client, SaltedPasswordCache, DEFAULT_MAX_ITERATIONS, type ScramOptions } from './auth/scram.ts'
export { saslprep, scramPassword } from './auth/saslprep.ts'
export { md5PasswordResponse } from './auth/password.ts'
export { send, receive, nextMessage, type Exchange, type Step } from './exchange/steps.ts'
export { startup, type StartupOptions, type StartupResult, type AuthenticationMethod } from './exchange/startup.ts'
export { simpleQuery, CopyNotSupportedError, type QueryResult, type QueryOutcome } from './exchange/query.ts'
export { Session, type SessionEdge, type SessionHandlers, type SessionOptions, type Tracer } from './session.ts'
export type { Link, TlsSettings, SslMode, Endpoint } from './io/link.ts'
export { createTracer, type TracerOptions } from './trace/index.ts'
export { Connection, type OpenOptions } from './io/connection.ts'
export { connect, type ConnectOptions } from './io/connect.ts'
export * from './options/index.ts'
export { parseRequireAuth, type RequireAuth, type AuthMethod } from './auth/require-auth.ts'
export { tlsServerEndPoint, channelBindingHash } from './auth/certificate.ts'
