/**
 * A fake of cloudflare:sockets' connect(), made of web streams, for testing the Workers link
 * under Node: the test plays the server (what it sends is queued and handed out one chunk per
 * read(), so a reader that stops reading stops receiving) and sees what the client wrote,
 * whether it asked for TLS, and whether the socket was closed.
 *
 * Where workerd (2026-04-26) departs from the streams spec, the fake does as workerd does:
 * a read under way when its reader is cancelled, or the socket closed, rejects with "Stream was
 * cancelled." (the spec ends it, done); and close() does not settle while a write the server
 * has not taken is under way, until the writer is aborted, which rejects that write with
 * undefined. Both were seen in workerd itself, through miniflare.
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
  /** The server stops taking bytes (its buffers are full): each write from now on stays under way. */
  stall(): void
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
    let stalled = false
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
      stall: () => void (stalled = true),
    }
    servers.push(server)
    const makeSocket = (): WorkersSocket => {
      let source!: ReadableStreamDefaultController<Uint8Array>
      // highWaterMark 0: the source is pulled only when the client reads.
      const readable = new ReadableStream<Uint8Array>({
        start: (controller) => void (source = controller),
        async pull(controller) {
          server.pulls++
          while (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve))
          const item = queue.shift()!
          if (item === 'end') controller.close()
          else if (item instanceof Error) controller.error(item)
          else controller.enqueue(item)
        },
      }, { highWaterMark: 0 })
      // workerd's cancel: the read under way rejects (erroring the stream first does that).
      const cancelReads = () => {
        try {
          source.error(new Error('Stream was cancelled.'))
        } catch {
          // already closed or errored: nothing is under way
        }
      }
      const getReader = readable.getReader.bind(readable)
      readable.getReader = (() => {
        const reader = getReader()
        const cancel = reader.cancel.bind(reader)
        reader.cancel = (reason?: unknown) => {
          cancelReads()
          return cancel(reason).catch(() => {}) // workerd's cancel() resolves
        }
        return reader
      }) as typeof readable.getReader
      /** A write the server has not taken, settled when the writer is aborted. */
      let untaken: Promise<void> | undefined
      const writable = new WritableStream<Uint8Array>({
        write(chunk, controller) {
          if (!stalled) {
            server.written.push(chunk)
            return
          }
          // The controller's signal (streams spec; Node has it, TypeScript's lib not yet) tells of
          // abort() at once, where the sink's abort() would wait for this very write.
          const { signal } = controller as WritableStreamDefaultController & { signal: AbortSignal }
          untaken = new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(undefined)))
          return untaken
        },
      })
      return {
        readable,
        writable,
        opened: openedPromise,
        closed: closedPromise,
        async close() {
          await untaken?.catch(() => {}) // workerd's close() waits for the write under way
          server.closed = true
          closedResolve()
          cancelReads()
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
