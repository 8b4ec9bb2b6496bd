/**
 * A TCP proxy for fault injection, in front of a test server (node:net only). Connections pass
 * untouched, with TCP flow control end to end (a client that stops reading makes the proxy stop
 * reading the server), until a fault is asked for:
 *
 * - on the connections open now: `cut` them (with a RST, with a FIN each way, or by destroying
 *   both sockets), `stall` them (they stay open and go silent, as when a NAT forgets the flow),
 *   or `drop` the next bytes one way (a corrupted stream);
 * - on the connections made from now on: `newConnections = 'silent'` accepts them and never
 *   answers (the SYN is answered, startup never is), `dropFirst` drops their first bytes;
 * - on every byte from now on: `delay` holds each chunk, `coalesce` batches the server's bytes
 *   (a reply and the notifications behind it reach the client in one read), `fragment` writes
 *   one byte at a time, `dropNotifications` removes the server's NotificationResponse messages
 *   (as a pooler in transaction mode does; plain connections only).
 *
 * On plain (sslmode=disable) connections it reads the backend's process ID from BackendKeyData,
 * so that a test can ask whether a connection it lost was harmed here.
 */
import net from 'node:net'

/** toServer: what the client sends; toClient: what the server sends. */
export type Direction = 'toServer' | 'toClient'

export interface FaultProxy {
  readonly port: number
  /**
   * Ends every connection open now and returns how many there were:
   * 'rst' resets both sockets (ECONNRESET), 'fin' ends both gracefully (the client reads EOF with
   * no ErrorResponse before it), 'destroy' closes both with no more ado (the default).
   */
  cut(how?: 'rst' | 'fin' | 'destroy'): number
  /** Stops forwarding on every connection open now, keeping it open; returns how many. */
  stall(): number
  /** Drops the next `bytes` bytes going `direction` on every connection open now; returns how many. */
  drop(direction: Direction, bytes: number): number
  /** `stall()`, and connections made from now on are silent. */
  blackhole(): void
  /** Connections made from now on are forwarded again. */
  restore(): void
  /** What connections made from now on get: forwarded, or accepted and never answered. */
  newConnections: 'forward' | 'silent'
  /** Bytes dropped at the start of each direction of every connection made from now on. */
  dropFirst: Record<Direction, number>
  /** Milliseconds to hold each chunk, both ways, in order; 0: at once. */
  delay: number
  /** Milliseconds to hold the server's bytes before passing them on in one write; 0: at once. */
  coalesce: number
  /** Write what passes one byte at a time (each its own segment: Nagle is off). */
  fragment: boolean
  /**
   * Drop every NotificationResponse the server sends (plain connections only). Set it before
   * the connections it is for are made: the messages are found by parsing from the first byte.
   */
  dropNotifications: boolean
  /** Whether the connection to backend `processId` was cut, stalled or corrupted here. */
  harmed(processId: number): boolean
  /** Connections accepted so far. */
  readonly accepted: number
  /** Connections open now (stalled and silent ones included). */
  readonly open: number
  close(): Promise<void>
}

interface Pair {
  client: net.Socket
  /** Absent on a silent connection. */
  upstream: net.Socket | undefined
  /** Bytes that arrive are read and dropped, so that an end from either side is still seen. */
  stalled: boolean
  /** Bytes still to drop, per direction. */
  dropping: Record<Direction, number>
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
  const sockets = (pair: Pair) => (pair.upstream ? [pair.client, pair.upstream] : [pair.client])

  const server = net.createServer((client) => {
    accepted++
    const silent = proxy.newConnections === 'silent'
    const upstream = silent ? undefined : net.connect(targetPort, targetHost)
    const pair: Pair = { client, upstream, stalled: silent, dropping: { ...proxy.dropFirst }, processId: undefined }
    pairs.add(pair)
    const end = () => {
      pairs.delete(pair)
      for (const socket of sockets(pair)) socket.destroy()
    }
    for (const socket of sockets(pair)) {
      socket.setNoDelay(true)
      socket.on('error', () => {})
      socket.on('close', end)
      socket.on('end', end)
    }
    if (!upstream) return void client.on('data', () => {}) // read and dropped: its hanging up is still seen
    forward(pair, 'toServer', client, upstream, proxy)
    forward(pair, 'toClient', upstream, client, proxy)
    watchStartup(upstream, (processId) => (pair.processId = processId))
  })
  server.on('error', () => {})
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))

  const proxy: FaultProxy = {
    port: (server.address() as net.AddressInfo).port,
    newConnections: 'forward',
    dropFirst: { toServer: 0, toClient: 0 },
    delay: 0,
    coalesce: 0,
    fragment: false,
    dropNotifications: false,
    get accepted() {
      return accepted
    },
    get open() {
      return pairs.size
    },
    harmed: (processId) => harmed.has(processId),
    cut(how = 'destroy') {
      const now = [...pairs]
      for (const pair of now) {
        harm(pair)
        pairs.delete(pair)
        pair.stalled = true // nothing more is forwarded ('fin' still flushes what the sockets had buffered)
        for (const socket of sockets(pair)) {
          if (how === 'rst') socket.resetAndDestroy()
          else if (how === 'fin') socket.end()
          else socket.destroy()
        }
      }
      return now.length
    },
    // Stronger than a NAT that dropped the flow: the proxy still accepts (and discards) what
    // either side sends, so neither side's TCP ever notices; only a heartbeat can.
    stall() {
      let n = 0
      for (const pair of pairs) {
        if (pair.stalled) continue
        harm(pair)
        pair.stalled = true
        n++
        // Read on (and drop) even where flow control had paused a side, so ends are noticed.
        for (const socket of sockets(pair)) socket.resume()
      }
      return n
    },
    drop(direction, bytes) {
      for (const pair of pairs) {
        harm(pair)
        pair.dropping[direction] += bytes
      }
      return pairs.size
    },
    blackhole() {
      proxy.stall()
      proxy.newConnections = 'silent'
    },
    restore() {
      proxy.newConnections = 'forward'
    },
    close() {
      for (const pair of pairs) for (const socket of sockets(pair)) socket.destroy()
      pairs.clear()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
  return proxy
}

/**
 * Copies `from` to `to` until the pair is stalled, through the faults in force: bytes to drop,
 * notifications to drop, then a delay or a batch, then whole or one byte at a time.
 */
function forward(pair: Pair, direction: Direction, from: net.Socket, to: net.Socket, proxy: FaultProxy): void {
  const notifications = new MessageFilter((type) => proxy.dropNotifications && type === 0x41)
  let held: Buffer[] = []
  let batch: ReturnType<typeof setTimeout> | undefined
  /** Delayed chunks, in order, each with when it is due; one timer for the head. */
  const delayed: { due: number; chunk: Buffer }[] = []
  let delayTimer: ReturnType<typeof setTimeout> | undefined
  let draining = false
  const write = (chunk: Buffer) => {
    if (pair.stalled || to.destroyed || chunk.length === 0) return
    let full = false
    if (proxy.fragment) for (let i = 0; i < chunk.length; i++) full = !to.write(chunk.subarray(i, i + 1)) || full
    else full = !to.write(chunk)
    if (full && !draining) {
      draining = true
      from.pause()
      to.once('drain', () => ((draining = false), from.resume()))
    }
  }
  const flush = () => {
    batch = undefined
    const chunk = Buffer.concat(held)
    held = []
    write(chunk)
  }
  const release = () => {
    delayTimer = undefined
    while (delayed.length > 0 && delayed[0]!.due <= Date.now()) write(delayed.shift()!.chunk)
    if (delayed.length > 0) delayTimer = setTimeout(release, delayed[0]!.due - Date.now())
  }
  from.on('data', (data: Buffer) => {
    if (pair.stalled || to.destroyed) return
    let chunk = data
    const skip = Math.min(pair.dropping[direction], chunk.length)
    pair.dropping[direction] -= skip
    chunk = chunk.subarray(skip)
    if (direction === 'toClient' && (proxy.dropNotifications || notifications.busy)) chunk = notifications.pass(chunk)
    const coalesce = direction === 'toClient' ? proxy.coalesce : 0
    if (coalesce > 0 || batch) {
      held.push(chunk)
      batch ??= setTimeout(flush, Math.max(coalesce, 1))
    } else if (proxy.delay > 0 || delayed.length > 0) {
      // In order even if the delay shrinks meanwhile: never due before the chunk ahead of it.
      const due = Math.max(Date.now() + proxy.delay, delayed.at(-1)?.due ?? 0)
      delayed.push({ due, chunk })
      delayTimer ??= setTimeout(release, due - Date.now())
    } else write(chunk)
  })
  from.on('close', () => {
    clearTimeout(batch)
    clearTimeout(delayTimer)
  })
}

/** Splits the server's byte stream into messages and leaves out the ones `drop` picks. */
class MessageFilter {
  #pending = Buffer.alloc(0)
  constructor(private readonly drop: (type: number) => boolean) {}

  /** Whether part of a message is held back, waiting for the rest. */
  get busy(): boolean {
    return this.#pending.length > 0
  }

  pass(chunk: Buffer): Buffer {
    let bytes = Buffer.concat([this.#pending, chunk])
    const out: Buffer[] = []
    while (bytes.length >= 5) {
      const total = 1 + bytes.readInt32BE(1)
      if (total < 5) {
        // Not a message (a length under 4): pass the rest on untouched, and stop parsing.
        out.push(bytes)
        bytes = Buffer.alloc(0)
        break
      }
      if (bytes.length < total) break
      if (!this.drop(bytes[0]!)) out.push(bytes.subarray(0, total))
      bytes = bytes.subarray(total)
    }
    this.#pending = Buffer.from(bytes)
    return Buffer.concat(out)
  }
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
