/**
 * libpq's connection settings, met exactly: connection strings (URI and keyword=value), the
 * PG* environment, defaults, multiple hosts, and the password file's rules. Pure: no sockets,
 * no files, no process.env; io/ reads what these functions name. Re-exports only.
 */
export type {
  ChannelBinding, ConnectionOptions, EnvironmentSource, FactSource, FileOrPem, HostTarget, PasswordSource, PgpassEntry, ResolveContext, Settings,
  SslCertMode, SslMode, SslNegotiation, TargetSessionAttrs,
} from './types.ts'
export { resolveSettings } from './resolve.ts'
export { isConnectionString, parseConnectionString, type Conninfo } from './connection-string.ts'
export type { PgpassTarget } from './pgpass.ts'
export { DEFAULT_PORT, DEFAULT_SOCKET_DIR, isUnixSocketPath } from './hosts.ts'
export { CHANNEL_BINDINGS, SSL_MODES, SSL_NEGOTIATIONS, TARGET_SESSION_ATTRS } from './values.ts'
