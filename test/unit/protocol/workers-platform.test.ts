/**
 * connect() on the Cloudflare Workers Platform (src/protocol/io/workers-platform.ts), over a
 * fake cloudflare:sockets: what a Worker cannot honour is refused with a typed error before any
 * socket opens, nothing is read from the process, and a whole startup works over startTls().
 */
import { describe, expect, test, vi } from 'vitest'
import { AuthenticationRefusedError } from '../../../src/protocol/errors.ts'
import { connectWith } from '../../../src/protocol/io/connect.ts'
import { createWorkersPlatform } from '../../../src/protocol/io/workers-platform.ts'
import { fakeSockets, type FakeServer } from '../../support/fake-workers-socket.ts'
import { backend, bytes, concat } from '../../support/wire.ts'

const base = { host: 'db.example.com', user: 'app', password: 'secret', database: 'app' }

function platform() {
  const sockets = fakeSockets()
  return { ...sockets, platform: createWorkersPlatform(sockets.connect) }
}

/** Waits for `check`; fails the test if it never holds. */
const until = (check: () => boolean) => vi.waitFor(() => {
  if (!check()) throw new Error('not yet')
}, { timeout: 5_000, interval: 1 })

describe('refused before any socket opens', () => {
  test.each([
    ['no host (libpq would use the Unix socket in /tmp)', { host: undefined }, TypeError,
      `Cloudflare Workers have no Unix sockets: host "/tmp" is a socket folder, libpq's default when no host is given; give a host name or IP address`],
    ['a Unix-socket host', { host: '/var/run/postgresql' }, TypeError,
      'Cloudflare Workers have no Unix sockets: host "/var/run/postgresql" is a socket folder; give a host name or IP address'],
    ['sslnegotiation=direct', { sslmode: 'require', sslnegotiation: 'direct' }, TypeError,
      'sslnegotiation=direct is not available on Cloudflare Workers: their sockets offer no ALPN; use sslnegotiation=postgres'],
    ['sslmode=verify-ca', { sslmode: 'verify-ca' }, AuthenticationRefusedError,
      'sslmode=verify-ca is not available on Cloudflare Workers: they always verify the host name as well; use sslmode=verify-full'],
    ['a root certificate of its own', { sslmode: 'verify-full', sslrootcert: { pem: '-----BEGIN CERTIFICATE-----' } }, AuthenticationRefusedError,
      'sslrootcert cannot be used on Cloudflare Workers: they verify servers against their own trust store only; remove it, or set sslrootcert=system'],
    ['a client certificate', { sslcert: '/certs/client.crt', sslkey: '/certs/client.key' }, AuthenticationRefusedError,
      'client certificates (sslcert, sslkey) cannot be used on Cloudflare Workers: their sockets cannot present one'],
    ['channel_binding=require', { sslmode: 'require', channelBinding: 'require' }, AuthenticationRefusedError,
      'channel_binding=require cannot be met on Cloudflare Workers: their sockets expose no server certificate, which SCRAM-SHA-256-PLUS binds to (tls-server-end-point); use channel_binding=prefer or disable'],
    ['a password file', { password: undefined, passfile: '/home/app/.pgpass' }, TypeError,
      'Cloudflare Workers have no file system: the password file "/home/app/.pgpass" cannot be read; give the password instead'],
  ] as const)('%s', async (_, options, kind, message) => {
    const { platform: workers, servers } = platform()
    const error = await connectWith(workers, { ...base, ...options }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(kind)
    expect((error as Error).message).toBe(message)
    expect(servers).toHaveLength(0)
  })

  test('a socket folder beside a hostaddr is not refused: the hostaddr is where it goes, as in libpq', async () => {
    const { platform: workers, servers } = platform()
    const opening = connectWith(workers, { ...base, host: '/var/run/postgresql', hostaddr: '192.0.2.7', sslmode: 'disable' })
    opening.catch(() => undefined)
    await until(() => servers.length === 1)
    expect(servers[0]!.address).toEqual({ hostname: '192.0.2.7', port: 5432 })
    servers[0]!.end()
    await opening.catch(() => undefined)
  })

  test('a client certificate named under sslcertmode=disable is not refused: it would not be presented', async () => {
    const { platform: workers, servers } = platform()
    const opening = connectWith(workers, { ...base, sslmode: 'disable', sslcert: '/certs/client.crt', sslkey: '/certs/client.key', sslcertmode: 'disable' })
    opening.catch(() => undefined)
    await until(() => servers.length === 1) // it got as far as the socket
    servers[0]!.end()
    await opening.catch(() => undefined)
  })

  test('no user: a TypeError, as there is no operating-system user to default to', async () => {
    const { platform: workers } = platform()
    await expect(connectWith(workers, { host: 'db.example.com' })).rejects.toThrow(TypeError)
    await expect(connectWith(workers, { host: 'db.example.com' })).rejects.toThrow(/no user name/)
  })
})

describe('what a Worker reads', () => {
  test('PG* variables come only from the env option; no process, home folder or user is asked for', async () => {
    const { platform: workers, servers } = platform()
    const spied = [vi.spyOn(workers, 'homeDir'), vi.spyOn(workers, 'osUser')]
    const opening = connectWith(workers, { env: { PGHOST: 'env.example.com', PGUSER: 'envuser', PGSSLMODE: 'disable' }, password: 'pw' })
    opening.catch(() => undefined)
    await until(() => servers.length === 1)
    expect(servers[0]!.address).toEqual({ hostname: 'env.example.com', port: 5432 })
    for (const spy of spied) expect(spy).not.toHaveBeenCalled()
    servers[0]!.end()
    await opening.catch(() => undefined)
  })
})

describe('a whole startup over startTls()', () => {
  /** Answers the SSLRequest with 'S', then the StartupMessage with a trust login. */
  async function serveTrust(server: FakeServer): Promise<void> {
    await until(() => server.written.length === 1)
    server.send(bytes(0x53)) // Byte1('S')
    await until(() => server.written.length === 2 && server.tls !== undefined)
    server.send(concat(backend.authenticationOk(), backend.backendKeyData(42, [...new Array(32).keys()]), backend.parameterStatus('server_version', '18.4'), backend.readyForQuery()))
  }

  test('sslmode=require: TLS, then AuthenticationOk and ReadyForQuery; close() sends Terminate', async () => {
    const { platform: workers, servers } = platform()
    const opening = connectWith(workers, { ...base, sslmode: 'require' })
    await until(() => servers.length === 1)
    await serveTrust(servers[0]!)
    const connection = await opening
    expect(connection.encrypted).toBe(true)
    expect(connection.processId).toBe(42)
    expect(connection.parameters.get('server_version')).toBe('18.4')
    const closing = connection.close()
    await until(() => servers[0]!.closed)
    expect(servers[0]!.written.at(-1)).toEqual(bytes(0x58, 0, 0, 0, 4)) // Terminate
    await closing
  })
})
