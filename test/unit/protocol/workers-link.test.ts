/**
 * The Cloudflare Workers link (src/protocol/io/workers-link.ts) under Node, over a fake
 * cloudflare:sockets made of web streams: the SSLRequest negotiation and its refusals, abort,
 * one onClose however the end comes, and backpressure by not reading.
 */
import { describe, expect, test } from 'vitest'
import { AuthenticationRefusedError, ConnectionLostError, ProtocolViolationError } from '../../../src/protocol/errors.ts'
import type { Link, TlsSettings } from '../../../src/protocol/io/link.ts'
import { openWorkersLink, type SocketFactory } from '../../../src/protocol/io/workers-link.ts'
import { fakeSockets } from '../../support/fake-workers-socket.ts'
import { bytes } from '../../support/wire.ts'

const endpoint = { host: 'db.example.com', port: 5432 }
const tls = (mode: TlsSettings['mode']): TlsSettings => ({ mode, serverName: 'db.example.com' })

const sslRequest = bytes(
  0x00, 0x00, 0x00, 0x08, // Int32(8)        length, including itself
  0x04, 0xd2, 0x16, 0x2f, // Int32(80877103) the SSLRequest code
)

/** Lets the streams' promise callbacks run. */
const tick = () => new Promise((resolve) => setTimeout(resolve, 0))

/** A link's events, recorded. */
function watch(link: Link): { data: number[][]; closes: (Error | undefined)[] } {
  const seen = { data: [] as number[][], closes: [] as (Error | undefined)[] }
  link.onData = (chunk) => seen.data.push([...chunk])
  link.onClose = (error) => seen.closes.push(error)
  return seen
}

describe('negotiating TLS', () => {
  test("SSLRequest, 'S', then startTls() on the same socket: an encrypted link with no certificate to show", async () => {
    const { connect, servers } = fakeSockets()
    const opening = openWorkersLink(connect, endpoint, tls('require'), true)
    await tick()
    const server = servers[0]!
    expect(server.options).toEqual({ secureTransport: 'starttls', allowHalfOpen: false })
    expect(server.written).toEqual([sslRequest])
    server.send(bytes(0x53)) // Byte1('S')
    const link = await opening
    expect(server.tls).toEqual({}) // the name connected to is the name verified
    expect(link.encrypted).toBe(true)
    expect(link.peerCertificate).toBeUndefined()
    link.write(bytes(1, 2, 3))
    await tick()
    expect(server.written.at(-1)).toEqual(bytes(1, 2, 3))
  })

  test('with hostaddr, the socket goes to the address and TLS verifies the host name', async () => {
    const { connect, servers } = fakeSockets()
    const opening = openWorkersLink(connect, { ...endpoint, hostaddr: '192.0.2.7' }, tls('verify-full'), true)
    await tick()
    expect(servers[0]!.address).toEqual({ hostname: '192.0.2.7', port: 5432 })
    servers[0]!.send(bytes(0x53))
    await opening
    expect(servers[0]!.tls).toEqual({ expectedServerHostname: 'db.example.com' })
  })

  test.each(['prefer', 'allow'] as const)("'N' under sslmode=%s gives a plain link", async (mode) => {
    const { connect, servers } = fakeSockets()
    const opening = openWorkersLink(connect, endpoint, tls(mode), true)
    await tick()
    servers[0]!.send(bytes(0x4e)) // Byte1('N')
    const link = await opening
    expect(link.encrypted).toBe(false)
    expect(servers[0]!.tls).toBeUndefined()
  })

  test.each(['require', 'verify-full'] as const)("'N' under sslmode=%s is refused, and the socket closed", async (mode) => {
    const { connect, servers } = fakeSockets()
    const opening = openWorkersLink(connect, endpoint, tls(mode), true)
    await tick()
    servers[0]!.send(bytes(0x4e))
    await expect(opening).rejects.toBeInstanceOf(AuthenticationRefusedError)
    await expect(opening).rejects.toThrow(`the server does not accept TLS, and sslmode=${mode} requires it`)
    expect(servers[0]!.closed).toBe(true)
  })

  test("more than one byte after SSLRequest is refused (CVE-2021-23222): 'S' and bytes that did not come through TLS", async () => {
    const { connect, servers } = fakeSockets()
    const opening = openWorkersLink(connect, endpoint, tls('require'), true)
    await tick()
    servers[0]!.send(bytes(0x53, 0x5a)) // 'S', then an injected byte
    await expect(opening).rejects.toBeInstanceOf(ProtocolViolationError)
    await expect(opening).rejects.toThrow(/CVE-2021-23222/)
    expect(servers[0]!.tls).toBeUndefined()
    expect(servers[0]!.closed).toBe(true)
  })

  test('a server that hangs up at the SSLRequest fails the attempt', async () => {
    const { connect, servers } = fakeSockets()
    const opening = openWorkersLink(connect, endpoint, tls('prefer'), true)
    await tick()
    servers[0]!.end()
    await expect(opening).rejects.toThrow(new ConnectionLostError('the server closed the connection in answer to SSLRequest'))
  })

  test("an empty chunk before the answer is no answer: 'S' after it brings TLS up", async () => {
    const { connect, servers } = fakeSockets()
    const opening = openWorkersLink(connect, endpoint, tls('require'), true)
    await tick()
    servers[0]!.send(bytes(), bytes(0x53))
    expect((await opening).encrypted).toBe(true)
  })

  test('useTls false: a plain socket, no SSLRequest', async () => {
    const { connect, servers } = fakeSockets()
    const link = await openWorkersLink(connect, endpoint, tls('disable'), false)
    expect(servers[0]!.options.secureTransport).toBe('off')
    expect(servers[0]!.written).toEqual([])
    expect(link.encrypted).toBe(false)
  })
})

describe('a socket that fails while opening', () => {
  /** A socket whose opened and closed both reject, as a refused connection's do. */
  const refusedSocket: SocketFactory = () => {
    const refused = Promise.reject(new Error('connection refused'))
    return { readable: new ReadableStream(), writable: new WritableStream(), opened: refused, closed: refused.then(() => undefined), close: async () => {}, startTls: () => { throw new Error('unused') } }
  }

  test('is a ConnectionLostError, and leaves no unhandled rejection behind (its closed promise rejects too)', async () => {
    const unhandled: unknown[] = []
    const record = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', record)
    try {
      const error = await openWorkersLink(refusedSocket, endpoint, tls('prefer'), true).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(ConnectionLostError)
      expect((error as Error).message).toBe('cannot connect to db.example.com:5432: connection refused')
      await tick()
      await tick()
      expect(unhandled).toEqual([])
    } finally {
      process.off('unhandledRejection', record)
    }
  })

  test('connect() throwing at once (an address it refuses) is a ConnectionLostError with it as the cause', async () => {
    const cause = new TypeError('Invalid address')
    const error = await openWorkersLink(() => { throw cause }, endpoint, tls('disable'), false).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConnectionLostError)
    expect((error as Error).cause).toBe(cause)
  })
})

describe('what a Worker cannot do is refused before any socket opens', () => {
  test('a Unix-socket host', async () => {
    const { connect, servers } = fakeSockets()
    await expect(openWorkersLink(connect, { host: '/tmp', port: 5432 }, tls('disable'), false)).rejects.toThrow(TypeError)
    await expect(openWorkersLink(connect, { host: '/tmp', port: 5432 }, tls('disable'), false)).rejects.toThrow(/Cloudflare Workers have no Unix sockets/)
    expect(servers).toHaveLength(0)
  })

  test('sslnegotiation=direct (no ALPN)', async () => {
    const { connect, servers } = fakeSockets()
    await expect(openWorkersLink(connect, endpoint, { ...tls('require'), negotiation: 'direct' }, true)).rejects.toThrow(/sslnegotiation=direct is not available on Cloudflare Workers/)
    expect(servers).toHaveLength(0)
  })
})

describe('abort', () => {
  test('an aborted signal opens no socket', async () => {
    const { connect, servers } = fakeSockets()
    const reason = new Error('stop')
    const opening = openWorkersLink(connect, endpoint, tls('disable'), false, { signal: AbortSignal.abort(reason) })
    await expect(opening).rejects.toBeInstanceOf(ConnectionLostError)
    expect(servers).toHaveLength(0)
  })

  test('an abort while the socket opens rejects at once, with the reason as the cause, and closes the socket', async () => {
    const { connect, servers } = fakeSockets({ openAtOnce: false }) // `opened` never settles by itself
    const controller = new AbortController()
    const opening = openWorkersLink(connect, endpoint, tls('disable'), false, { signal: controller.signal })
    await tick()
    const reason = new Error('the caller gave up')
    controller.abort(reason)
    const error = await opening.catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConnectionLostError)
    expect((error as Error).message).toBe('the connection attempt was aborted')
    expect((error as Error).cause).toBe(reason)
    expect(servers[0]!.closed).toBe(true)
  })

  test('an abort while waiting for the SSLRequest answer', async () => {
    const { connect, servers } = fakeSockets()
    const controller = new AbortController()
    const opening = openWorkersLink(connect, endpoint, tls('require'), true, { signal: controller.signal })
    await tick()
    controller.abort(new DOMException('late', 'TimeoutError'))
    await expect(opening).rejects.toThrow(new ConnectionLostError('the connection attempt timed out'))
    expect(servers[0]!.closed).toBe(true)
  })
})

describe('the open link', () => {
  test('reads nothing until resume(); the server closing is heard once, after every byte', async () => {
    const { connect, servers } = fakeSockets()
    const link = await openWorkersLink(connect, endpoint, tls('disable'), false)
    const seen = watch(link)
    servers[0]!.send(bytes(1), bytes(2))
    servers[0]!.end()
    await tick()
    expect(servers[0]!.pulls).toBe(0)
    link.resume()
    await tick()
    expect(seen.data).toEqual([[1], [2]])
    expect(seen.closes).toEqual([undefined])
    link.destroy()
    await tick()
    expect(seen.closes).toEqual([undefined])
  })

  test('a failed read is reported once, with its error', async () => {
    const { connect, servers } = fakeSockets()
    const link = await openWorkersLink(connect, endpoint, tls('disable'), false)
    const seen = watch(link)
    link.resume()
    const reset = new Error('connection reset')
    servers[0]!.fail(reset)
    await tick()
    link.destroy()
    link.end()
    await tick()
    expect(seen.closes).toEqual([reset])
  })

  test('destroy() closes the socket and reports the end once', async () => {
    const { connect, servers } = fakeSockets()
    const link = await openWorkersLink(connect, endpoint, tls('disable'), false)
    const seen = watch(link)
    link.resume()
    link.destroy()
    link.destroy()
    await tick()
    expect(servers[0]!.closed).toBe(true)
    expect(seen.closes).toEqual([undefined])
  })

  test('a handler that throws ends the link, reported once through onClose', async () => {
    const { connect, servers } = fakeSockets()
    const link = await openWorkersLink(connect, endpoint, tls('disable'), false)
    const seen = watch(link)
    const oops = new Error('handler failed')
    link.onData = () => {
      throw oops
    }
    servers[0]!.send(bytes(1), bytes(2))
    link.resume()
    await tick()
    expect(seen.closes).toEqual([oops])
    expect(servers[0]!.closed).toBe(true)
  })

  test('a write after end() is dropped: the close stays clean', async () => {
    const { connect, servers } = fakeSockets()
    const link = await openWorkersLink(connect, endpoint, tls('disable'), false)
    const seen = watch(link)
    link.resume()
    link.end()
    link.write(bytes(0x51)) // too late
    await tick()
    expect(servers[0]!.written).toEqual([])
    expect(seen.closes).toEqual([undefined])
  })

  test('end() flushes what was written, then closes', async () => {
    const { connect, servers } = fakeSockets()
    const link = await openWorkersLink(connect, endpoint, tls('disable'), false)
    const seen = watch(link)
    link.resume()
    link.write(bytes(0x58, 0, 0, 0, 4)) // Terminate
    link.end()
    await tick()
    expect(servers[0]!.written).toEqual([bytes(0x58, 0, 0, 0, 4)])
    expect(servers[0]!.closed).toBe(true)
    expect(seen.closes).toEqual([undefined])
  })

  test('pause() stops reading: the backlog stays with the server until resume(), then comes in order', async () => {
    const { connect, servers } = fakeSockets()
    const link = await openWorkersLink(connect, endpoint, tls('disable'), false)
    const seen = watch(link)
    link.onData = (chunk) => {
      seen.data.push([...chunk])
      if (chunk[0] === 1) link.pause() // a consumer that falls behind
    }
    servers[0]!.send(bytes(1), bytes(2), bytes(3))
    link.resume()
    await tick()
    expect(seen.data).toEqual([[1]])
    const pulls = servers[0]!.pulls
    await tick()
    await tick()
    expect(servers[0]!.pulls).toBe(pulls) // not reading: nothing more asked of the socket
    link.resume()
    await tick()
    expect(seen.data).toEqual([[1], [2], [3]])
  })
})
