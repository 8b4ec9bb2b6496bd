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
import { backend, concat, loginAccepted } from '../support/wire.ts'
import { getEventListeners } from 'node:events'
import { connectLite } from '../../src/protocol/lite.ts'
import { openLiteNodeLink } from '../../src/protocol/io/lite-node-link.ts'
import { eventually } from '../support/connect.ts'

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
      await expect(attempt).rejects.toThrow(new RangeError(`sslmode must be 'disable', 'require' or 'verify-full', not "${mode}"`))
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
      await expect(connect({ host: '127.0.0.1', port: server.port, user: 'u', sslmode: 'disable', connectTimeout })).rejects.toThrow(new RangeError(`connectTimeout must be from 1 to 2^31 - 1 ms, not ${connectTimeout}`))
    }
  })
})

describe('error types (STYLE: errors are classes; the full client and lite-workers agree)', () => {
  test('verify-full (the default) and an untrusted certificate: refused, with an AuthenticationRefusedError as the full client says it', async () => {
    const server = await untrustedTlsServer()
    const error = await connect({ host: '127.0.0.1', port: server.port, user: 'u' }).then((c) => c.close(), (e: unknown) => e)
    expect(error).toBeInstanceOf(AuthenticationRefusedError)
    // Which server, and node:tls's own error as the cause.
    expect((error as Error).message).toMatch(new RegExp(`^the certificate of the server at 127\\.0\\.0\\.1:${server.port}: `))
    expect((error as Error).cause).toMatchObject({ code: expect.stringMatching(/CERT/) })
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

describe('arguments connectLite refuses, and its signal', () => {
  test('options without a user, or no options at all, is a TypeError that says so, before any socket opens', async () => {
    let opened = 0
    const open = async () => {
      opened++
      throw new Error('not to be reached')
    }
    await expect(connectLite(open, {} as LiteOptions)).rejects.toThrow(new TypeError('options.user must be a string'))
    await expect(connectLite(open, undefined as unknown as LiteOptions)).rejects.toThrow(new TypeError('options.user must be a string'))
    expect(opened).toBe(0)
  })

  test('a signal already aborted: the attempt rejects with its reason, and opens no socket', async () => {
    const server = await fakeServer(async (client) => void (await client.closed))
    const stop = new AbortController()
    const reason = new Error('shutting down')
    stop.abort(reason)
    await expect(connectLite(openLiteNodeLink, { host: '127.0.0.1', port: server.port, user: 'u', sslmode: 'disable' }, {}, stop.signal)).rejects.toBe(reason)
    await expect(openLiteNodeLink({ host: '127.0.0.1', port: server.port, user: 'u' }, stop.signal)).rejects.toBe(reason)
    await new Promise((r) => setTimeout(r, 20))
    expect(server.clients).toHaveLength(0)
  })

  test('a signal aborted during startup: the attempt rejects with its reason, the socket is closed, and nobody is left on the signal', async () => {
    const server = await fakeServer(async (client) => {
      await client.readPacket()
      await client.closed // never answers
    })
    const stop = new AbortController()
    const reason = new Error('shutting down')
    const attempt = connectLite(openLiteNodeLink, { host: '127.0.0.1', port: server.port, user: 'u', sslmode: 'disable' }, {}, stop.signal)
    await eventually(() => server.clients[0] !== undefined && server.clients[0].received().length > 0)
    stop.abort(reason)
    await expect(attempt).rejects.toBe(reason)
    await server.clients[0]!.closed
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(0)
  })

  test('after a connection is made, its signal is let go of: aborting it later closes nothing', async () => {
    const server = await fakeServer(async (client) => {
      await client.readPacket()
      client.write(loginAccepted())
      await client.readMessage()
      client.write(concat(backend.commandComplete('SELECT 1'), backend.readyForQuery()))
      await client.closed
    })
    const stop = new AbortController()
    const closes: unknown[] = []
    const c = await connectLite(openLiteNodeLink, { host: '127.0.0.1', port: server.port, user: 'u', sslmode: 'disable' }, { onClose: (e) => void closes.push(e) }, stop.signal)
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(0)
    stop.abort()
    expect(await c.query('SELECT 1')).toMatchObject([{ command: 'SELECT 1' }])
    await c.close()
    expect(closes).toEqual([undefined])
  })
})

describe("the connection's end", () => {
  test('onClose is not called for an attempt that fails during startup', async () => {
    const server = await fakeServer(async (client) => {
      await client.readPacket()
      client.end() // hangs up before AuthenticationOk
    })
    const closes: unknown[] = []
    const error = await connect({ host: '127.0.0.1', port: server.port, user: 'u', sslmode: 'disable' }, { onClose: (e) => void closes.push(e) }).then(() => undefined, (e: unknown) => e)
    expect(error).toBeInstanceOf(ConnectionLostError)
    await new Promise((r) => setTimeout(r, 20))
    expect(closes).toEqual([])
  })

  test("a server that hangs up: onClose hears a ConnectionLostError ('the connection closed'), and a query then rejects with it", async () => {
    const server = await fakeServer(async (client) => {
      await client.readPacket()
      client.write(loginAccepted())
      client.end()
    })
    const closes: (Error | undefined)[] = []
    const c = await connect({ host: '127.0.0.1', port: server.port, user: 'u', sslmode: 'disable' }, { onClose: (e) => void closes.push(e) })
    await eventually(() => closes.length === 1)
    expect(closes[0]).toBeInstanceOf(ConnectionLostError)
    expect(closes[0]!.message).toBe('the connection closed')
    await expect(c.query('SELECT 1')).rejects.toBeInstanceOf(ConnectionLostError)
  })

  test('close(reason) twice: one Terminate, both resolve, and onClose hears the reason given', async () => {
    const server = await fakeServer(async (client) => {
      await client.readPacket()
      client.write(loginAccepted())
      await client.closed
    })
    const closes: (Error | undefined)[] = []
    const c = await connect({ host: '127.0.0.1', port: server.port, user: 'u', sslmode: 'disable' }, { onClose: (e) => void closes.push(e) })
    const why = new Error('done here')
    await Promise.all([c.close(why), c.close()])
    await server.clients[0]!.closed
    const received = server.clients[0]!.received()
    const startupLength = new DataView(received.buffer, received.byteOffset).getInt32(0)
    // After the StartupMessage: Byte1('X') Int32(4), Terminate, once.
    expect([...received.subarray(startupLength)]).toEqual([0x58, 0, 0, 0, 4])
    expect(closes).toEqual([why])
  })

  test('a server that sends no BackendKeyData: processId is undefined', async () => {
    const server = await fakeServer(async (client) => {
      await client.readPacket()
      client.write(concat(backend.authenticationOk(), backend.parameterStatus('client_encoding', 'UTF8'), backend.readyForQuery()))
      await client.closed
    })
    const c = await connect({ host: '127.0.0.1', port: server.port, user: 'u', sslmode: 'disable' })
    expect(c.processId).toBeUndefined()
    await c.close()
  })

  test('a server that breaks the protocol after startup: the client closes its socket, and onClose hears why', async () => {
    const server = await fakeServer(async (client) => {
      await client.readPacket()
      client.write(loginAccepted())
      await client.readMessage()
      client.write(new Uint8Array([0x5a, 0, 0, 0, 1])) // ReadyForQuery with a length under 4
      await client.closed
    })
    const closes: (Error | undefined)[] = []
    const c = await connect({ host: '127.0.0.1', port: server.port, user: 'u', sslmode: 'disable' }, { onClose: (e) => void closes.push(e) })
    await expect(c.query('SELECT 1')).rejects.toBeInstanceOf(PgListenError)
    await server.clients[0]!.closed // the client hung up: nobody else would
    await eventually(() => closes.length === 1)
    expect(closes[0]).toBeInstanceOf(PgListenError)
  })
})

describe('what lite-node-link sends over TLS', () => {
  test("SNI carries a host name, not an IP address, and ALPN offers 'postgresql'", async () => {
    const server = await fakeServer(async (client) => {
      await client.readPacket()
      await client.startTls({ alpn: ['postgresql'] }).catch(() => {})
      await client.readPacket().catch(() => {})
      client.write(loginAccepted())
      await client.closed
    })
    const byIp = await connect({ host: '127.0.0.1', port: server.port, user: 'u', sslmode: 'require' })
    await byIp.close()
    const byName = await connect({ host: 'localhost', port: server.port, user: 'u', sslmode: 'require' })
    await byName.close()
    expect(server.clients.map((c) => [c.serverName, c.alpn])).toEqual([[false, 'postgresql'], ['localhost', 'postgresql']])
  })
})

describe("lite-node-link and the attempt's signal", () => {
  test('a signal aborted while the server sits on the SSLRequest: the socket is destroyed and the attempt rejects with its reason', async () => {
    const server = await fakeServer(async (client) => {
      await client.readPacket() // SSLRequest, never answered
      await client.closed
    })
    const stop = new AbortController()
    const reason = new Error('shutting down')
    const attempt = openLiteNodeLink({ host: '127.0.0.1', port: server.port, user: 'u', sslmode: 'require' }, stop.signal)
    await eventually(() => server.clients[0] !== undefined && server.clients[0].received().length === 8)
    stop.abort(reason)
    await expect(attempt).rejects.toBe(reason)
    await server.clients[0]!.closed
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(0)
  })

  test('once the socket is open, the link lets go of the signal', async () => {
    const server = await fakeServer(async (client) => void (await client.closed))
    const stop = new AbortController()
    const link = await openLiteNodeLink({ host: '127.0.0.1', port: server.port, user: 'u', sslmode: 'disable' }, stop.signal)
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(0)
    link.destroy()
  })
})
