/**
 * pglisten/lite's connect() against fake servers: what it refuses (sslmode values it does not
 * know, a connectTimeout out of range, an untrusted certificate, a server without TLS), in
 * which error classes, and what verify-full checks.
 */
import { describe, expect, test } from 'vitest'
import { AuthenticationRefusedError, ConnectionLostError, connect, PgListenError, type LiteOptions } from '../../src/lite.ts'
import net from 'node:net'
import tls from 'node:tls'
import { fakeServersClosedAfterEach, testCertificate } from '../support/fake-server.ts'
import { loginAccepted } from '../support/wire.ts'

const fakeServer = fakeServersClosedAfterEach()

/** A server with a self-signed certificate nobody trusts, that accepts any login over TLS. */
async function untrustedTlsServer() {
  return fakeServer(async (client) => {
    await client.readPacket() // SSLRequest
    await client.startTls().catch(() => {})
    await client.readPacket().catch(() => {}) // StartupMessage
    client.write(loginAccepted())
    await client.closed
  })
}

describe('sslmode values the type does not list (a JS caller, a PGSSLMODE read from the environment)', () => {
  // libpq's own modes, which lite leaves to pglisten, and misspellings: each is refused before
  // any socket opens (read as 'require', they connected to a server nobody trusts).
  for (const mode of ['verify-ca', 'prefer', 'Verify-Full', 'verify_full']) {
    test(`sslmode=${mode} is a RangeError, not read as a mode that checks less`, async () => {
      const server = await untrustedTlsServer()
      const attempt = connect({ host: '127.0.0.1', port: server.port, user: 'u', sslmode: mode as LiteOptions['sslmode'] })
      await expect(attempt).rejects.toBeInstanceOf(RangeError)
    })
  }
})

describe('connectTimeout', () => {
  test('a connectTimeout a timer cannot hold (Infinity, 0, negative, 2^31 ms) is a RangeError', async () => {
    const server = await fakeServer(async (client) => {
      await client.readPacket()
      await new Promise((resolve) => setTimeout(resolve, 20))
      client.write(loginAccepted())
      await client.closed
    })
    // Node would take it for 1 ms (TimeoutOverflowWarning), and fail at once.
    for (const connectTimeout of [Infinity, 0, -1, 2 ** 31]) {
      await expect(connect({ host: '127.0.0.1', port: server.port, user: 'u', sslmode: 'disable', connectTimeout })).rejects.toBeInstanceOf(RangeError)
    }
  })
})

describe('error types (STYLE: errors are classes; the full client and lite-workers agree)', () => {
  test('verify-full (the default) and an untrusted certificate: refused, with an AuthenticationRefusedError as the full client says it', async () => {
    const server = await untrustedTlsServer()
    const error = await connect({ host: '127.0.0.1', port: server.port, user: 'u' }).then((c) => c.close(), (e: unknown) => e)
    expect(error).toBeInstanceOf(AuthenticationRefusedError)
  })

  test("a server that answers SSLRequest with 'N' under verify-full: AuthenticationRefusedError, as the full client and lite's Workers build say", async () => {
    const server = await fakeServer(async (client) => {
      await client.readPacket()
      client.write(new Uint8Array([0x4e]))
      await client.closed
    })
    const error = await connect({ host: '127.0.0.1', port: server.port, user: 'u' }).then((c) => c.close(), (e: unknown) => e)
    expect(error).toBeInstanceOf(AuthenticationRefusedError)
  })

  test('nothing listening on the port: a ConnectionLostError (a PgListenError), not a bare Node error', async () => {
    const probe = net.createServer()
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
    const port = (probe.address() as net.AddressInfo).port
    await new Promise((r) => probe.close(r))
    const error = await connect({ host: '127.0.0.1', port, user: 'u', sslmode: 'disable' }).then((c) => c.close(), (e: unknown) => e)
    expect(error).toBeInstanceOf(PgListenError)
    expect(error).toBeInstanceOf(ConnectionLostError)
  })
})

describe('verify-full checks the name (these hold)', () => {
  test('the right ca and the certificate\'s own address: connects', async () => {
    const server = await untrustedTlsServer()
    const c = await connect({ host: '127.0.0.1', port: server.port, user: 'u', ca: testCertificate().cert })
    await c.close()
  })

  test('the right ca but an address the certificate does not name (127.0.0.2): refused for the name', async () => {
    // A TLS server on every address, so that 127.0.0.2 reaches it.
    const sockets: net.Socket[] = []
    const server = net.createServer((socket) => {
      sockets.push(socket)
      socket.on('error', () => {})
      socket.once('data', () => {
        socket.write(Uint8Array.of(0x53))
        const { key, cert } = testCertificate()
        const secure = new tls.TLSSocket(socket, { isServer: true, key, cert })
        secure.on('error', () => {})
      })
    })
    await new Promise<void>((r) => server.listen(0, '0.0.0.0', r))
    const port = (server.address() as net.AddressInfo).port
    try {
      const error = await connect({ host: '127.0.0.2', port, user: 'u', ca: testCertificate().cert, connectTimeout: 2000 }).then((c) => c.close(), (e: unknown) => e)
      expect(String((error as NodeJS.ErrnoException)?.code) + ' ' + String(error)).toMatch(/ALTNAME|not in the cert/)
    } finally {
      sockets.forEach((s) => s.destroy())
      await new Promise((r) => server.close(r))
    }
  })

  test("ca: '' trusts nothing", async () => {
    const server = await untrustedTlsServer()
    const error = await connect({ host: '127.0.0.1', port: server.port, user: 'u', ca: '' }).then((c) => c.close(), (e: unknown) => e)
    expect(error).toBeInstanceOf(Error)
  })
})
