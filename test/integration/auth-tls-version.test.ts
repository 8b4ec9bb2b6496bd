/**
 * The oldest TLS version pglisten accepts is libpq's default ssl_min_protocol_version, TLSv1.2
 * (fe-connect.c), not whatever this process lets node:tls accept. A process started with
 * --tls-min-v1.0 and a cipher list at OpenSSL's security level 0 (for some legacy endpoint of
 * its own) would otherwise let a server, or a man in the middle under sslmode=require, settle
 * on TLS 1.0 or 1.1, which libpq refuses whatever OpenSSL allows. A fake server stands in: a
 * real PostgreSQL refuses those versions itself by default.
 */
import net from 'node:net'
import tls from 'node:tls'
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { ConnectionLostError } from '../../src/protocol/errors.ts'
import { connect } from '../../src/protocol/index.ts'
import { testCertificate } from '../support/fake-server.ts'
import { backend, concat } from '../support/wire.ts'

interface OldTlsServer {
  port: number
  /** The TLS version of each handshake the server completed. */
  handshakes: string[]
  close(): Promise<void>
}

/**
 * Answers SSLRequest with 'S', then speaks TLS no newer than `maxVersion`; a client that gets
 * through the handshake is let in at once (AuthenticationOk, ReadyForQuery).
 */
async function oldTlsServer(maxVersion: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2'): Promise<OldTlsServer> {
  const { key, cert } = testCertificate()
  const handshakes: string[] = []
  const sockets = new Set<net.Socket>()
  const server = net.createServer((plain) => {
    sockets.add(plain)
    plain.on('error', () => {})
    plain.once('data', () => {
      // The 8-byte SSLRequest, whole in the first read from a client on this machine.
      plain.write(Uint8Array.of(0x53)) // 'S'
      const secure = new tls.TLSSocket(plain, { isServer: true, key, cert, minVersion: 'TLSv1', maxVersion, ciphers: 'DEFAULT:@SECLEVEL=0' })
      secure.on('error', () => {})
      secure.once('secure', () => {
        handshakes.push(secure.getProtocol() ?? 'unknown')
        secure.once('data', () => secure.write(concat(backend.authenticationOk(), backend.readyForQuery())))
      })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    handshakes,
    close: () => {
      for (const socket of sockets) socket.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

/** connect() under sslmode=require: the error, or what it connected over. */
function attempt(server: OldTlsServer): Promise<unknown> {
  const connecting = connect({ host: '127.0.0.1', port: server.port, user: 'ann', database: 'db', password: 'secret-in-test', sslmode: 'require', connectTimeout: 5, env: {}, passfile: '/nonexistent' })
  return connecting.then((c) => c.close().then(() => `connected over ${server.handshakes.join(', ')}`), (e: unknown) => e)
}

describe('TLS older than 1.2 is refused, as libpq refuses it by default', () => {
  // What `node --tls-min-v1.0 --tls-cipher-list='DEFAULT:@SECLEVEL=0'` sets for the whole process.
  let saved: { min: tls.SecureVersion; ciphers: string }
  let server: OldTlsServer | undefined
  beforeEach(() => {
    saved = { min: tls.DEFAULT_MIN_VERSION, ciphers: tls.DEFAULT_CIPHERS }
    tls.DEFAULT_MIN_VERSION = 'TLSv1'
    tls.DEFAULT_CIPHERS = 'DEFAULT:@SECLEVEL=0'
  })
  afterEach(async () => {
    tls.DEFAULT_MIN_VERSION = saved.min
    tls.DEFAULT_CIPHERS = saved.ciphers
    await server?.close()
    server = undefined
  })

  test.each(['TLSv1', 'TLSv1.1'] as const)('a server that speaks no newer than %s: the handshake fails, nothing is sent', async (maxVersion) => {
    server = await oldTlsServer(maxVersion)
    const error = await attempt(server)
    expect(error).toBeInstanceOf(ConnectionLostError)
    expect(server.handshakes).toEqual([])
  })

  test('a process that asks for TLS 1.3 at least keeps its floor: a TLS 1.2 server is refused', async () => {
    tls.DEFAULT_MIN_VERSION = 'TLSv1.3'
    server = await oldTlsServer('TLSv1.2')
    const error = await attempt(server)
    expect(error).toBeInstanceOf(ConnectionLostError)
    expect(server.handshakes).toEqual([])
  })
})
