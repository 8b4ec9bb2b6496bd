/**
 * libpq's compiled-in defaults for where a server is: the port, the socket folder, and what
 * makes a host a socket path. A module of its own, importing nothing: the host lists and the
 * password file's rules both need it, and the password file loads lazily, so what they share
 * must be small (a bundler makes it a chunk of its own).
 */

/** libpq's DEF_PGPORT. */
export const DEFAULT_PORT = 5432
/** libpq's DEFAULT_PGSOCKET_DIR as PostgreSQL builds it by default (some distributions change it). */
export const DEFAULT_SOCKET_DIR = '/tmp'

/** libpq's is_unixsock_path: an absolute path, or '@' for Linux's abstract socket namespace. */
export function isUnixSocketPath(host: string): boolean {
  return host.startsWith('/') || host.startsWith('@')
}
