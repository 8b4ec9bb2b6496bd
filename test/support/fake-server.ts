/**
 * A scripted fake PostgreSQL server, for the bytes a real server never sends: hostile or
 * malformed answers. Each accepted connection runs the test's script, which reads what the
 * client sent and writes whatever bytes it likes. Not a substitute for the real server.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tls from 'node:tls'
import { afterEach, expect } from 'vitest'

export interface FakeClient {
  /** Exactly `count` bytes from the client; rejects if it closes first. */
  read(count: number): Promise<Uint8Array>
  /** A startup-phase packet (SSLRequest, StartupMessage, CancelRequest): Int32 length, then the rest. */
  readPacket(): Promise<Uint8Array>
  /** A typed message: Byte1 type, Int32 length, body. */
  readMessage(): Promise<{ type: string; body: Uint8Array }>
  write(bytes: Uint8Array): void
  /** Answers the SSLRequest already read with 'S' and switches this connection to TLS. */
  startTls(options?: { alpn?: string[] }): Promise<void>
  /** Takes over a TLS handshake that starts right away (direct TLS). */
  acceptDirectTls(options?: { alpn?: string[] }): Promise<void>
  /** Every byte received so far, decrypted where TLS was used, as one array. */
  received(): Uint8Array
  /** Resolves when the client has closed the connection. */
  readonly closed: Promise<void>
  /** The ALPN protocol negotiated, once TLS is up. */
  readonly alpn: string | false | undefined
  /** The server name the client sent by SNI once TLS is up; false when it sent none. */
  readonly serverName: string | false | undefined
  /** Drops the connection with a TCP RST: the client reads ECONNRESET. */
  reset(): void
  end(): void
}

export interface FakeServer {
  port: number
  /** Every connection the server accepted, in order. */
  clients: FakeClient[]
  /** Errors the scripts threw (a failing script must fail the test). */
  errors: unknown[]
  close(): Promise<void>
}

class Client implements FakeClient {
  #socket: net.Socket
  #chunks: Uint8Array[] = []
  #buffered = new Uint8Array(0)
  #wake: (() => void) | undefined
  #ended = false
  #log: Uint8Array[] = []
  alpn: string | false | undefined
  serverName: string | false | undefined
  readonly closed: Promise<void>
  readonly #plain: net.Socket

  constructor(socket: net.Socket) {
    this.#socket = socket
    this.#plain = socket
    let closed!: () => void
    this.closed = new Promise((resolve) => (closed = resolve))
    socket.on('close', () => {
      this.#ended = true
      this.#wake?.()
      closed()
    })
    socket.on('error', () => {})
    this.#listen(socket)
  }

  #listen(socket: net.Socket): void {
    socket.on('data', (chunk: Buffer) => {
      const bytes = new Uint8Array(chunk)
      this.#log.push(bytes)
      this.#chunks.push(bytes)
      this.#wake?.()
    })
  }

  async read(count: number): Promise<Uint8Array> {
    for (;;) {
      if (this.#chunks.length > 0) {
        const all = new Uint8Array(this.#buffered.length + this.#chunks.reduce((n, c) => n + c.length, 0))
        all.set(this.#buffered)
        let at = this.#buffered.length
        for (const c of this.#chunks.splice(0)) {
          all.set(c, at)
          at += c.length
        }
        this.#buffered = all
      }
      if (this.#buffered.length >= count) {
        const out = this.#buffered.slice(0, count)
        this.#buffered = this.#buffered.slice(count)
        return out
      }
      if (this.#ended) throw new Error(`the client closed after ${this.#buffered.length} of ${count} bytes`)
      await new Promise<void>((resolve) => (this.#wake = resolve))
      this.#wake = undefined
    }
  }

  async readPacket(): Promise<Uint8Array> {
    const head = await this.read(4)
    const length = new DataView(head.buffer, head.byteOffset).getInt32(0)
    return concatBytes(head, await this.read(length - 4))
  }

  async readMessage(): Promise<{ type: string; body: Uint8Array }> {
    const head = await this.read(5)
    const length = new DataView(head.buffer, head.byteOffset).getInt32(1)
    return { type: String.fromCharCode(head[0]!), body: await this.read(length - 4) }
  }

  write(bytes: Uint8Array): void {
    this.#socket.write(bytes)
  }

  async startTls(options: { alpn?: string[] } = {}): Promise<void> {
    this.#socket.write(Uint8Array.of(0x53)) // 'S'
    await this.acceptDirectTls(options)
  }

  async acceptDirectTls(options: { alpn?: string[] } = {}): Promise<void> {
    const { key, cert } = testCertificate()
    const plain = this.#socket
    plain.removeAllListeners('data')
    // Bytes already read but not consumed are the start of the handshake.
    if (this.#buffered.length > 0 || this.#chunks.length > 0) plain.unshift(Buffer.from(await this.read(this.#buffered.length + this.#chunks.reduce((n, c) => n + c.length, 0))))
    const secure = new tls.TLSSocket(plain, { isServer: true, key, cert, ...(options.alpn ? { ALPNProtocols: options.alpn } : {}) })
    await new Promise<void>((resolve, reject) => {
      secure.once('secure', () => resolve())
      secure.once('error', reject)
      plain.once('close', () => reject(new Error('closed during the TLS handshake')))
    })
    this.alpn = secure.alpnProtocol ?? false
    this.serverName = (secure as tls.TLSSocket & { servername?: string | false }).servername ?? false
    this.#socket = secure
    secure.on('error', () => {})
    this.#listen(secure)
  }

  received(): Uint8Array {
    return concatBytes(...this.#log)
  }

  end(): void {
    this.#socket.end()
  }

  reset(): void {
    this.#plain.resetAndDestroy()
  }
}

function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

let certificate: { key: string; cert: string } | undefined

/**
 * A self-signed certificate for 'localhost' and 127.0.0.1, made once per process with openssl.
 * Kept in memory only: the folder openssl writes the key and certificate to is removed at once.
 */
export function testCertificate(): { key: string; cert: string } {
  if (!certificate) {
    const dir = mkdtempSync(join(tmpdir(), 'pglisten-fake-'))
    try {
      execFileSync('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
        '-subj', '/CN=pglisten fake server', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
      ], { stdio: 'ignore' })
      certificate = { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
  return { key: certificate.key, cert: certificate.cert }
}

export async function fakeServer(script: (client: FakeClient) => Promise<void>): Promise<FakeServer> {
  const clients: FakeClient[] = []
  const errors: unknown[] = []
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    const client = new Client(socket)
    clients.push(client)
    script(client).catch((error) => errors.push(error))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    clients,
    errors,
    close: () => {
      for (const s of sockets) s.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

/**
 * For a test file: `serve(script)` starts a fake server that is closed after each test, and
 * the test fails if its script threw.
 */
export function fakeServersClosedAfterEach(): (script: (client: FakeClient) => Promise<void>) => Promise<FakeServer> {
  const servers: FakeServer[] = []
  afterEach(async () => {
    for (const s of servers.splice(0)) {
      await s.close()
      expect(s.errors).toEqual([])
    }
  })
  return async (script) => {
    const server = await fakeServer(script)
    servers.push(server)
    return server
  }
}
