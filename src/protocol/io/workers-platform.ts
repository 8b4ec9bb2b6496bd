/**
 * The Platform of Cloudflare Workers (workerd): sockets from cloudflare:sockets (injected, see
 * workers-link.ts), the portable byte helpers, no environment but the env option, no home
 * folder, no files, no operating-system user, warnings to console.warn. Runtime-neutral:
 * imports no runtime module; src/protocol/workers.ts hands it cloudflare:sockets' connect.
 *
 * A Worker always verifies the server: startTls() checks the chain against workerd's own trust
 * store and the host name, whatever sslmode asks. So sslmode=require behaves as verify-full,
 * and prefer or allow over TLS refuse a certificate that store does not trust (where Node would
 * accept it unverified). What a Worker cannot honour is refused before any socket opens.
 */
import { decodeUtf8 } from '../bytes/utf8.ts'
import { AuthenticationRefusedError } from '../errors.ts'
import { DEFAULT_SOCKET_DIR } from '../options/defaults.ts'
import { isUnixSocket } from './endpoint.ts'
import type { Settings } from '../options/types.ts'
import type { Platform } from './platform.ts'
import { onceEach } from '../options/context.ts'
import { openWorkersLink, type SocketFactory } from './workers-link.ts'

/** The Workers Platform over `connectSocket` (cloudflare:sockets' connect, or a test's fake). */
export function createWorkersPlatform(connectSocket: SocketFactory): Platform {
  return {
    openLink: (endpoint, tls, useTls, options) => openWorkersLink(connectSocket, endpoint, tls, useTls, options),
    bytes: { decodeText: decodeUtf8, allocate: (length) => new Uint8Array(length) },
    // A Worker's environment is its bindings, handed to fetch(): pass them as the env option.
    env: () => undefined,
    homeDir: () => undefined,
    osUser: () => undefined,
    checkSettings: refuseUnsupported,
    loadTlsMaterial: async (settings) => (settings.sslrootcert === 'system' ? { ca: 'system' } : {}),
    passwordFromFile: async () => undefined,
    // Once per message and platform: a listener's every reconnect would repeat it.
    warn: onceEach((message) => console.warn(`pglisten: ${message}`)),
  }
}

/**
 * Settings a Worker cannot honour, refused with the reason and what to do instead: a weaker
 * connection than asked for would be worse than none.
 */
export function refuseUnsupported(settings: Settings): void {
  for (const target of settings.hosts) {
    const { host } = target
    if (isUnixSocket(target)) {
      const why = host === DEFAULT_SOCKET_DIR ? ", libpq's default when no host is given" : ''
      throw new TypeError(`Cloudflare Workers have no Unix sockets: host "${host}" is a socket folder${why}; give a host name or IP address`)
    }
  }
  if (settings.sslnegotiation === 'direct') {
    throw new TypeError('sslnegotiation=direct is not available on Cloudflare Workers: their sockets offer no ALPN; use sslnegotiation=postgres')
  }
  if (settings.sslmode === 'verify-ca') {
    throw new AuthenticationRefusedError('sslmode=verify-ca is not available on Cloudflare Workers: they always verify the host name as well; use sslmode=verify-full')
  }
  if (settings.sslrootcert !== undefined && settings.sslrootcert !== 'system') {
    throw new AuthenticationRefusedError('sslrootcert cannot be used on Cloudflare Workers: they verify servers against their own trust store only; remove it, or set sslrootcert=system')
  }
  // Under sslcertmode=disable a certificate named is not presented (as in libpq): nothing to refuse.
  if (settings.sslcertmode !== 'disable' && (settings.sslcert !== undefined || settings.sslkey !== undefined)) {
    throw new AuthenticationRefusedError('client certificates (sslcert, sslkey) cannot be used on Cloudflare Workers: their sockets cannot present one')
  }
  if (settings.channelBinding === 'require') {
    throw new AuthenticationRefusedError('channel_binding=require cannot be met on Cloudflare Workers: their sockets expose no server certificate, which SCRAM-SHA-256-PLUS binds to (tls-server-end-point); use channel_binding=prefer or disable')
  }
  if (settings.password === undefined && settings.passfile !== '') {
    throw new TypeError(`Cloudflare Workers have no file system: the password file "${settings.passfile}" cannot be read; give the password instead`)
  }
}
