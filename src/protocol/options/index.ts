/**
 * libpq's connection settings, met exactly: connection strings (URI and keyword=value), the
 * PG* environment, defaults, multiple hosts, and the password file's rules. Pure: no sockets,
 * no files, no process.env; io/ reads what these functions name. pglisten/protocol/options: an
 * entry of its own, so that pglisten/protocol need not bring the connection-string parser into
 * every bundle (a connection loads it only for a connection string). Re-exports only.
 */
export type * from './types.ts'
export { resolveSettings } from './resolve-settings.ts'
export { parseConnectionString } from './connection-string.ts'
export { isConnectionString, type Conninfo } from './conninfo.ts'
export type { PgpassTarget } from './pgpass.ts'
export { DEFAULT_PORT, DEFAULT_SOCKET_DIR, isUnixSocketPath } from './defaults.ts'
export { CHANNEL_BINDINGS, SSL_MODES, SSL_NEGOTIATIONS, TARGET_SESSION_ATTRS } from './values.ts'
