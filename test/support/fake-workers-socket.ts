/**
 * A fake of cloudflare:sockets' connect(), made of web streams, for testing the Workers link
 * under Node: the test plays the server (what it sends is queued and handed out one chunk per
 * read(), so a reader that stops reading stops receiving) and sees what the client wrote,
 * whether it asked for TLS, and whether the socket was closed.
 */
import type { SocketFactory, WorkersSocket } from '../../src/protocol/io/workers-link.ts'

export interface FakeServer {
  /** Where and how the client connected. */
  address: { hostname: string; port: number }
  options: { secureTransport: 'off' | 'starttls'; allowHalfOpen: boolean }
  /** Every chunk the client wrote, in order, TLS or not. */
  written: Uint8Array[]
  /** Set when the client called startTls(), with its options. */
  tls: { expectedServerHostname?: string } | undefined
  closed: boolean
  /** How many times the client asked for bytes (read() calls that reached the source). */
  pulls: number
  /** Queues bytes for the client, one chunk per read. */
  send(...chunks: Uint8Array[]): void
  /** Ends the stream (the server closed the connection). */
  end(): void
  /** Fails the stream (a reset). */
  fail(error: Error): void
  /** Settles `opened` (the default settles it at once). */
  open(): void
}

/** A socket factory that records each connection as a FakeServer. */
export function fakeSockets(options: { openAtOnce?: boolean } = {}): { connect: SocketFactory; servers: FakeServer[] } {
  const servers: FakeServer[] = []
  const connect: SocketFactory = (address, socketOptions) => {
    const queue: (Uint8Array | 'end' | Error)[] = []
    let wake: (() => void) | undefined
    let opened!: () => void
    const openedPromise = new Promise<void>((resolve) => (opened = resolve))
    let closedResolve!: () => void
    const closedPromise = new Promise<void>((resolve) => (closedResolve = resolve))
    const push = (item: Uint8Array | 'end' | Error) => {
      queue.push(item)
      wake?.()
    }
    const server: FakeServer = {
      address,
      options: socketOptions,
      written: [],
      tls: undefined,
      closed: false,
      pulls: 0,
      send: (...chunks) => chunks.forEach(push),
      end: () => push('end'),
      fail: (error) => push(error),
      open: () => opened(),
    }
    servers.push(server)
    const makeSocket = (): WorkersSocket => {
      // highWaterMark 0: the source is pulled only when the client reads.
      const readable = new ReadableStream<Uint8Array>({
        async pull(controller) {
          server.pulls++
          while (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve))
          const item = queue.shift()!
          if (item === 'end') controller.close()
          else if (item instanceof Error) controller.error(item)
          else controller.enqueue(item)
        },
      }, { highWaterMark: 0 })
      const writable = new WritableStream<Uint8Array>({
        write(chunk) {
          server.written.push(chunk)
        },
      })
      return {
        readable,
        writable,
        opened: openedPromise,
        closed: closedPromise,
        async close() {
          server.closed = true
          closedResolve()
          push('end')
        },
        startTls(tlsOptions) {
          if (socketOptions.secureTransport !== 'starttls') throw new TypeError('startTls() needs secureTransport: starttls')
          if (readable.locked || writable.locked) throw new TypeError('startTls() with a locked stream')
          server.tls = tlsOptions ?? {}
          return makeSocket()
        },
      }
    }
    if (options.openAtOnce !== false) opened()
    return makeSocket()
  }
  return { connect, servers }
}
