/**
 * Where a connection goes, in words and in socket paths: libpq's Unix-socket notation and how an
 * endpoint is named in messages. Pure: imports only the Endpoint type and libpq's rule for a
 * socket folder (options/defaults.ts); every platform uses it.
 */
import { isUnixSocketPath } from '../options/defaults.ts'
import type { Endpoint } from './link.ts'

/**
 * Whether the connection goes to a Unix socket: the host is a socket folder (libpq's
 * is_unixsock_path, which the options share: a path, or on Linux '@' for the abstract namespace)
 * and no hostaddr is given. A hostaddr makes the target an address whatever the host says
 * (pqConnectOptions2's CHT_HOST_ADDRESS), so TCP, with TLS as sslmode asks.
 */
export function isUnixSocket(endpoint: Pick<Endpoint, 'host' | 'hostaddr'>): boolean {
  return endpoint.hostaddr === undefined && isUnixSocketPath(endpoint.host)
}

/**
 * The socket file a server listening on `port` creates in folder `dir`. An abstract-namespace
 * name starts with a NUL byte where libpq's notation has '@'.
 */
export function unixSocketPath(dir: string, port: number): string {
  const path = `${dir.replace(/\/+$/, '')}/.s.PGSQL.${port}`
  return path.startsWith('@') ? `\0${path.slice(1)}` : path
}

/**
 * How an endpoint is named in messages: host:port, with hostaddr, or the socket file. An IPv6
 * address goes in brackets, as in a URL (RFC 3986, section 3.2.2) and as the CLI writes it, so
 * that its colons are not taken for the port's: [::1]:5432.
 */
export function describeEndpoint(endpoint: Endpoint): string {
  if (isUnixSocket(endpoint)) return unixSocketPath(endpoint.host, endpoint.port)
  const { host, hostaddr, port } = endpoint
  const bracketed = (name: string) => (name.includes(':') && !isUnixSocketPath(name) ? `[${name}]` : name)
  const address = hostaddr && hostaddr !== host ? bracketed(hostaddr) : ''
  // With only hostaddr given, host is empty: the address alone names the server.
  return `${host ? bracketed(host) + (address && ` (${address})`) : address}:${port}`
}
