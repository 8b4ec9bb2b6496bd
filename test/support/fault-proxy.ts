/**
 * A TCP proxy for fault injection, in front of the test server: `cut` drops every connection
 * through it now (both sockets destroyed, as when a router restarts), `stall` makes every
 * connection through it now go silent while staying open (a NAT that forgot the flow: bytes
 * sent either way vanish), and connections made afterwards pass as usual. With `coalesce`, the
 * server's bytes are held and passed on in batches, as a slow link delivers them, so that a
 * reply and the notifications right behind it reach the client in one read. Bytes pass
 * untouched, with TCP flow control end to end: a client that stops reading makes the proxy
 * stop reading the server. On plain (sslmode=disable) connections it reads the backend's
 * process ID from BackendKeyData, so a test can ask whether a connection it lost was harmed.
 */
import net from 'node:net'

export interface FaultProxy {
  readonly port: number
  /** Destroys every connection open now; returns how many there were. */
  cut(): number
  /** Stops forwarding on every connection open now, keeping it open; returns how many. */
  stall(): number
  /** Milliseconds to hold the server's bytes before passing them on in one write; 0: at once. */
  coalesce: number
  /** Whether the connection to backend `processId` was cut or stalled here. */
  harmed(processId: number): boolean
  /** Connections accepted so far. */
  readonly accepted: number
  /** Connections open now (stalled ones included). */
  readonly open: number
  close(): Promise<void>
}

interface Pair {
  client: net.Socket
  upstream: net.Socket
  /** Bytes that arrive are read and dropped, so that an end from either side is still seen. */
  stalled: boolean
  /** From the server's BackendKeyData, once seen. */
  processId: number | undefined
}

export async function startFaultProxy(targetHost: string, targetPort: number): Promise<FaultProxy> {
  const pairs = new Set<Pair>()
  const harmed = new Set<number>()
  let accepted = 0
  const harm = (pair: Pair) => {
    if (pair.processId !== undefined) harmed.add(pair.processId)
  }

  const server = net.createServer((client) => {
    accepted++
    const upstream = net.connect(targetPort, targetHost)
    const pair: Pair = { client, upstream, stalled: false, processId: undefined }
    pairs.add(pair)
    const end = () => {
      pairs.delete(pair)
      client.destroy()
      upstream.destroy()
    }
    for (const socket of [client, upstream]) {
      socket.on('error', () => {})
      socket.on('close', end)
      socket.on('end', end)
    }
    forward(pair, client, upstream, () => 0)
    forward(pair, upstream, client, () => proxy.coalesce)
    watchStartup(upstream, (processId) => (pair.processId = processId))
  })
  server.on('error', () => {})
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port

  const proxy: FaultProxy = {
    port,
    coalesce: 0,
    get accepted() {
      return accepted
    },
    get open() {
      return pairs.size
    },
    harmed: (processId) => harmed.has(processId),
    cut() {
      const now = [...pairs]
      for (const pair of now) {
        harm(pair)
        pairs.delete(pair)
        pair.client.destroy()
        pair.upstream.destroy()
      }
      return now.length
    },
    stall() {
      let n = 0
      for (const pair of pairs) {
        if (pair.stalled) continue
        harm(pair)
        pair.stalled = true
        n++
        // Read on (and drop) even where flow control had paused a side, so ends are noticed.
        pair.client.resume()
        pair.upstream.resume()
      }
      return n
    },
    close() {
      for (const pair of pairs) {
        pair.client.destroy()
        pair.upstream.destroy()
      }
      pairs.clear()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
  return proxy
}

/** Copies `from` to `to`, in batches `coalesce()` ms apart if it says so, until the pair is stalled. */
function forward(pair: Pair, from: net.Socket, to: net.Socket, coalesce: () => number): void {
  let held: Buffer[] = []
  let timer: ReturnType<typeof setTimeout> | undefined
  const write = (chunk: Buffer) => {
    if (pair.stalled || to.destroyed) return
    if (!to.write(chunk)) {
      from.pause()
      to.once('drain', () => from.resume())
    }
  }
  const flush = () => {
    timer = undefined
    const chunk = Buffer.concat(held)
    held = []
    write(chunk)
  }
  from.on('data', (chunk: Buffer) => {
    if (pair.stalled || to.destroyed) return
    const ms = coalesce()
    if (ms <= 0 && !timer) return write(chunk)
    held.push(chunk)
    timer ??= setTimeout(flush, ms)
  })
  from.on('close', () => clearTimeout(timer))
}

/**
 * Reads the server's first messages, up to ReadyForQuery, for BackendKeyData:
 *   Byte1('K') Int32(12 or more) length Int32 processId Bytes secretKey
 * Plain connections only: on a TLS one the bytes are ciphertext and nothing is found.
 */
function watchStartup(upstream: net.Socket, found: (processId: number) => void): void {
  let bytes = Buffer.alloc(0)
  const onData = (chunk: Buffer) => {
    bytes = Buffer.concat([bytes, chunk])
    while (bytes.length >= 5) {
      const type = bytes[0]!
      const total = 1 + bytes.readInt32BE(1)
      if (total < 5 || total > 65_536) return void upstream.off('data', onData) // not a plain startup: give up
      if (bytes.length < total) return
      if (type === 0x4b && total >= 9) found(bytes.readInt32BE(5))
      if (type === 0x4b || type === 0x5a) return void upstream.off('data', onData) // 'K' found, or 'Z': startup over
      bytes = bytes.subarray(total)
    }
  }
  upstream.on('data', onData)
}
