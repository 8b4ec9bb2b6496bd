/**
 * The Cloudflare Workers link (src/protocol/io/workers-link.ts) under Node, over a fake
 * cloudflare:sockets made of web streams: the SSLRequest negotiation and its refusals, a server
 * certificate workerd does not trust, abort, one onClose however the end comes, and backpressure
 * by not reading.
 */
import { describe, expect, test, vi } from 'vitest'
import { AuthenticationRefusedError, ConnectionLostError, ProtocolViolationError } from '../../../src/protocol/errors.ts'
import { endGrace, type Link, type TlsSettings } from '../../../src/protocol/io/link.ts'
import { openWorkersLink, type SocketFactory, type WorkersSocket } from '../../../src/protocol/io/workers-link.ts'
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

  // Found by review: workerd checked the address it went to instead, where Node's link refuses.
  test("verify-full with an empty name to check (tls.serverName: '') is refused before any socket opens, in libpq's words", async () => {
    const { connect, servers } = fakeSockets()
    const error = await openWorkersLink(connect, { host: '', hostaddr: '192.0.2.7', port: 5432 }, { mode: 'verify-full', serverName: '' }, true).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(AuthenticationRefusedError)
    expect((error as Error).message).toBe('host name must be specified for a verified SSL connection')
    expect(servers).toHaveLength(0)
  })

  // A socket folder beside a hostaddr was sent as the name to verify, so workerd, which checks
  // a name under every sslmode, refused every certificate: under prefer, libpq's default, a
  // conninfo libpq connects with could not connect at all.
  test('a socket folder beside a hostaddr is no name to verify: workerd checks the address it went to', async () => {
    const { connect, servers } = fakeSockets()
    const folder = { host: '/var/run/postgresql', hostaddr: '192.0.2.7', port: 5432 }
    const opening = openWorkersLink(connect, folder, { mode: 'prefer', serverName: folder.host }, true) // connect.ts's serverName
    await tick()
    expect(servers[0]!.address).toEqual({ hostname: '192.0.2.7', port: 5432 })
    servers[0]!.send(bytes(0x53)) // Byte1('S')
    expect((await opening).encrypted).toBe(true)
    expect(servers[0]!.tls).toEqual({})
  })

  test('under verify-full the socket folder is still the name to verify, as libpq compares it: the certificate cannot match, and nothing else is checked in its place', async () => {
    const { connect, servers } = fakeSockets()
    const folder = { host: '/var/run/postgresql', hostaddr: '192.0.2.7', port: 5432 }
    const opening = openWorkersLink(connect, folder, { mode: 'verify-full', serverName: folder.host }, true)
    await tick()
    servers[0]!.send(bytes(0x53)) // Byte1('S')
    await opening
    expect(servers[0]!.tls).toEqual({ expectedServerHostname: '/var/run/postgresql' })
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

  // workerd's startTls() puts the name it verifies in the ClientHello's SNI whatever it is told:
  // sslsni=0 (libpq: send no SNI) was ignored, and the host name went out in clear.
  test('sslsni=0 with a host name is refused before any socket opens: workerd always sends the name by SNI', async () => {
    const { connect, servers } = fakeSockets()
    for (const [where, settings] of [[endpoint, tls('require')], [{ ...endpoint, hostaddr: '192.0.2.7' }, tls('verify-full')]] as const) {
      const opening = openWorkersLink(connect, where, { ...settings, sni: false }, true)
      await expect(opening).rejects.toBeInstanceOf(AuthenticationRefusedError)
      await expect(opening).rejects.toThrow("sslsni=0 cannot be honoured on Cloudflare Workers: their TLS always sends the server's host name (SNI); remove sslsni=0")
    }
    expect(servers).toEqual([])
  })

  test.each([
    ['an IPv4 address, which names nothing the connection does not show', { host: '192.0.2.7', port: 5432 }, true],
    ['an IPv6 address', { host: '2001:db8::7', port: 5432 }, true],
    ['no TLS at all (useTls false)', endpoint, false],
  ] as const)('sslsni=0 with %s connects', async (_, where, useTls) => {
    const { connect, servers } = fakeSockets()
    const opening = openWorkersLink(connect, where, { mode: 'prefer', serverName: where.host, sni: false }, useTls)
    await tick()
    if (useTls) servers[0]!.send(bytes(0x53)) // Byte1('S')
    expect((await opening).encrypted).toBe(useTls)
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

describe('a server certificate workerd does not trust', () => {
  /** What workerd 2026-04-26 throws for it (test/runtimes/workers/untrusted-worker.ts sees it). */
  const internalError = () => new Error('internal error; reference = 53mt382j7gs9kqdit5ar0jd0')

  /**
   * cloudflare:sockets as workerd behaves when the TLS handshake fails: startTls() returns and
   * its `opened` resolves before the handshake is over; then reads end as if the server had
   * closed and every write rejects with `failure`, which says only "internal error" (the reason,
   * "TLS peer's certificate is not trusted", is in workerd's log). For the cases that are not
   * that: `received` is read first, and with `readsEnd` false the reads wait instead of ending,
   * so the write's failure is the end; with secureTransport 'off' the socket fails from the start.
   */
  function failingAfterTls(failure: Error, { received = [], readsEnd = true }: { received?: Uint8Array[]; readsEnd?: boolean } = {}): SocketFactory {
    const failing = (): WorkersSocket => ({
      readable: new ReadableStream({
        start(controller) {
          for (const chunk of received) controller.enqueue(chunk)
          if (readsEnd) controller.close()
        },
      }),
      writable: new WritableStream({ write: () => Promise.reject(failure) }),
      opened: Promise.resolve({ remoteAddress: '192.0.2.7:5432' }),
      closed: Promise.resolve(),
      close: async () => {},
      startTls: () => { throw new TypeError('unused') },
    })
    return (_address, options) => {
      if (options.secureTransport === 'off') return failing()
      return {
        readable: new ReadableStream({ start: (controller) => controller.enqueue(bytes(0x53)) }), // Byte1('S')
        writable: new WritableStream(),
        opened: Promise.resolve({}),
        closed: new Promise(() => {}),
        close: async () => {},
        startTls: failing,
      }
    }
  }

  const startupMessage = bytes(
    0x00, 0x00, 0x00, 0x09, // Int32(9)      length, including itself
    0x00, 0x03, 0x00, 0x02, // Int32(196610) protocol 3.2
    0x00,                   // Byte1(0)      the end of the (here no) parameters
  )

  /** The one close reported is the error that says why, with workerd's error as its cause. */
  function expectUntrusted(closes: (Error | undefined)[], failure: Error): void {
    expect(closes).toHaveLength(1)
    const error = closes[0]
    expect(error).toBeInstanceOf(ConnectionLostError)
    expect(error?.message).toMatch(/^the Workers runtime did not trust the TLS certificate of the server at db\.example\.com:5432/)
    expect(error?.message).toMatch(/only against their own trust store/)
    expect(error?.message).toMatch(/a certificate from a public certificate authority/)
    expect(error?.cause).toBe(failure)
  }

  test('the first write after startTls() failing with "internal error", nothing read, is a ConnectionLostError that says why, with workerd\'s error as the cause', async () => {
    const failure = internalError()
    const link = await openWorkersLink(failingAfterTls(failure, { readsEnd: false }), endpoint, tls('require'), true)
    const seen = watch(link)
    link.resume()
    link.write(startupMessage)
    await tick()
    expectUntrusted(seen.closes, failure)
  })

  test('the same when the reads end before the write has failed: the end waits for the write, whose error says why', async () => {
    const failure = internalError()
    const link = await openWorkersLink(failingAfterTls(failure), endpoint, tls('verify-full'), true)
    const seen = watch(link)
    link.resume() // the read ends at once, before the write below has failed
    link.write(startupMessage)
    await tick()
    expectUntrusted(seen.closes, failure)
  })

  test('once the server has said something through TLS, the same error is passed on as it is', async () => {
    const failure = internalError()
    const authenticationOk = bytes(
      0x52,                   // Byte1('R')  Authentication
      0x00, 0x00, 0x00, 0x08, // Int32(8)    length, including itself
      0x00, 0x00, 0x00, 0x00, // Int32(0)    AuthenticationOk
    )
    const link = await openWorkersLink(failingAfterTls(failure, { received: [authenticationOk], readsEnd: false }), endpoint, tls('require'), true)
    const seen = watch(link)
    link.onData = () => link.write(bytes(0x58, 0, 0, 0, 4)) // Terminate, after the handshake was seen to succeed
    link.resume()
    await tick()
    expect(seen.closes).toEqual([failure])
  })

  test('another error on the first write is passed on as it is', async () => {
    const reset = new Error('Network connection lost.')
    const link = await openWorkersLink(failingAfterTls(reset), endpoint, tls('require'), true)
    const seen = watch(link)
    link.resume()
    link.write(startupMessage)
    await tick()
    expect(seen.closes).toEqual([reset])
  })

  test('on a link without TLS, "internal error" is passed on as it is', async () => {
    const failure = internalError()
    const link = await openWorkersLink(failingAfterTls(failure, { readsEnd: false }), endpoint, tls('disable'), false)
    const seen = watch(link)
    link.write(startupMessage)
    link.resume()
    await tick()
    expect(seen.closes).toEqual([failure])
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

// Connection.open hands its TlsSettings to the link without connect()'s checks: a root of the
// caller's own was ignored, so a server with any certificate workerd trusts passed for one
// signed by that root.
describe('certificates a Worker cannot use, given to the link itself (Connection.open), are refused before any socket opens', () => {
  const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'
  test.each([
    ['a root certificate of its own', { ca: pem }],
    ['a client certificate and key', { cert: pem, key: pem }],
  ])('%s', async (_, certificates) => {
    const { connect, servers } = fakeSockets()
    const error = await openWorkersLink(connect, endpoint, { ...tls('verify-full'), ...certificates }, true).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(AuthenticationRefusedError)
    expect((error as Error).message).toMatch(/^tls\.ca, tls\.cert and tls\.key cannot be used on Cloudflare Workers/)
    expect(servers).toHaveLength(0)
  })

  test("ca 'system', workerd's own store, is what a Worker does anyway: not refused", async () => {
    const { connect, servers } = fakeSockets()
    const opening = openWorkersLink(connect, endpoint, { ...tls('verify-full'), ca: 'system' }, true)
    await tick()
    servers[0]!.send(bytes(0x53)) // Byte1('S')
    expect((await opening).encrypted).toBe(true)
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

  // Found by running the link in workerd (2026-04-26): its close() does not settle while a write
  // the server has not taken is under way, and destroy() reported the end only once it did, so a
  // connection given up on (a heartbeat unanswered by a stalled server) never heard its end.
  test('destroy() with a write the server has not taken: the end is reported, clean, and the socket closed', async () => {
    const { connect, servers } = fakeSockets()
    const link = await openWorkersLink(connect, endpoint, tls('disable'), false)
    const seen = watch(link) // paused: no read under way to end the link either
    servers[0]!.stall()
    link.write(bytes(0x51, 0, 0, 0, 4)) // never taken
    link.destroy()
    await vi.waitFor(() => expect(seen.closes).toEqual([undefined]))
    await vi.waitFor(() => expect(servers[0]!.closed).toBe(true))
  })

  // workerd rejects the read under way with "Stream was cancelled." when destroy() cancels it,
  // and the write under way with undefined when the writer is aborted: that end was ours.
  test('destroy() while reading and writing: what its own cancelling fails is no reason to report', async () => {
    const { connect, servers } = fakeSockets()
    const link = await openWorkersLink(connect, endpoint, tls('disable'), false)
    const seen = watch(link)
    link.resume() // a read is under way
    servers[0]!.stall()
    link.write(bytes(0x51, 0, 0, 0, 4))
    await tick()
    link.destroy()
    await vi.waitFor(() => expect(servers[0]!.closed).toBe(true))
    await tick()
    expect(seen.closes).toEqual([undefined])
  })

  test('end() with a write the server never takes closes cleanly after endGrace', async () => {
    vi.useFakeTimers()
    try {
      const { connect, servers } = fakeSockets()
      const link = await openWorkersLink(connect, endpoint, tls('disable'), false)
      const seen = watch(link)
      link.resume()
      servers[0]!.stall()
      link.write(bytes(0x58, 0, 0, 0, 4)) // Terminate, never taken
      link.end()
      await vi.advanceTimersByTimeAsync(endGrace - 1)
      expect(seen.closes).toEqual([])
      await vi.advanceTimersByTimeAsync(1)
      expect(seen.closes).toEqual([undefined])
      expect(servers[0]!.closed).toBe(true)
    } finally {
      vi.useRealTimers()
    }
  })

  test('nothing is handed on after destroy(), not even a chunk that came in after pause() and is held', async () => {
    const { connect, servers } = fakeSockets()
    const link = await openWorkersLink(connect, endpoint, tls('disable'), false)
    const seen = watch(link)
    link.resume()
    await vi.waitFor(() => expect(servers[0]!.pulls).toBe(1)) // a read is under way
    link.pause()
    servers[0]!.send(bytes(1)) // what that read brings is held for resume()
    await tick()
    expect(seen.data).toEqual([])
    link.destroy()
    link.resume()
    await vi.waitFor(() => expect(seen.closes).toEqual([undefined]))
    expect(seen.data).toEqual([])
  })

  // Found by review, with the next: end() waited for writer.close(), which a server that reads
  // nothing more never lets finish, so close() never settled.
  test('end() closes after endGrace at most, though what is written can never be flushed', async () => {
    const stalled: SocketFactory = (): WorkersSocket => ({
      readable: new ReadableStream({ pull: () => new Promise(() => {}) }, { highWaterMark: 0 }),
      writable: new WritableStream({ write: () => new Promise(() => {}) }), // a server that stopped reading
      opened: Promise.resolve({}),
      closed: new Promise(() => {}),
      close: async () => {},
      startTls: () => {
        throw new Error('not used')
      },
    })
    vi.useFakeTimers()
    try {
      const link = await openWorkersLink(stalled, endpoint, tls('disable'), false)
      const seen = watch(link)
      link.resume()
      link.write(bytes(0x58, 0, 0, 0, 4)) // Terminate, never taken
      link.end()
      await vi.advanceTimersByTimeAsync(endGrace - 1)
      expect(seen.closes).toEqual([])
      await vi.advanceTimersByTimeAsync(1)
      expect(seen.closes).toEqual([undefined])
    } finally {
      vi.useRealTimers()
    }
  })

  // A failed write ended the link but left the read under way: bytes it brought were handed on
  // after onClose, breaking the Link's contract.
  test('after a failed write ends the link, nothing more is read or handed on', async () => {
    let deliver!: (chunk: Uint8Array) => void
    let cancelled = false
    const reset = new Error('Network connection lost.')
    const failing: SocketFactory = (): WorkersSocket => ({
      readable: new ReadableStream<Uint8Array>({ start: (c) => void (deliver = (chunk) => c.enqueue(chunk)), cancel: () => void (cancelled = true) }, { highWaterMark: 0 }),
      writable: new WritableStream({ write: () => Promise.reject(reset) }),
      opened: Promise.resolve({}),
      closed: new Promise(() => {}),
      close: async () => {},
      startTls: () => {
        throw new Error('not used')
      },
    })
    const link = await openWorkersLink(failing, endpoint, tls('disable'), false)
    const events: string[] = []
    link.onData = () => void events.push('data')
    link.onClose = (error) => void events.push(`close: ${error?.message}`)
    link.resume() // a read is now under way
    link.write(bytes(0x51, 0, 0, 0, 4))
    await tick()
    expect(events).toEqual(['close: Network connection lost.'])
    expect(cancelled).toBe(true) // the read under way is ended with the link
    try {
      deliver(bytes(0x41)) // bytes that were on their way
    } catch {
      // a cancelled stream takes no more
    }
    await tick()
    expect(events).toEqual(['close: Network connection lost.'])
  })
})
