/**
 * A TCP proxy in front of the test server, to make the network misbehave on demand: stop
 * forwarding while keeping the sockets open (a NAT that dropped the flow, a half-open TCP
 * connection), or drop the server's NotificationResponse messages (as behind a pooler in
 * transaction mode). Dropping needs plain connections (sslmode=disable) to see the messages.
 */
import net from 'node:net'

export interface Proxy {
  port: number
  /** Stop forwarding in both directions; the sockets stay open and silent, and new ones are accepted and never answered. */
  blackhole(): void
  /** Forward again, for connections made from now on. */
  restore(): void
  /** Drop every NotificationResponse the server sends. */
  dropNotifications: boolean
  /** Connections accepted so far. */
  readonly accepted: number
  /** Client connections open now. */
  readonly open: number
  close(): Promise<void>
}

export async function startProxy(targetHost: string, targetPort: number): Promise<Proxy> {
  const sockets = new Set<net.Socket>()
  const clients = new Set<net.Socket>()
  let blackholed = false
  let accepted = 0
  const proxy: Proxy = {
    port: 0,
    dropNotifications: false,
    get accepted() {
      return accepted
    },
    get open() {
      return clients.size
    },
    blackhole: () => {
      blackholed = true
      for (const s of sockets) s.pause()
    },
    restore: () => {
      blackholed = false
    },
    close: () => {
      for (const s of sockets) s.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
  const server = net.createServer((client) => {
    accepted++
    clients.add(client)
    client.on('close', () => clients.delete(client))
    const upstream = net.connect(targetPort, targetHost)
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('error', () => {})
      s.on('close', () => {
        sockets.delete(s)
        client.destroy()
        upstream.destroy()
      })
    }
    if (blackholed) {
      // Accepted, and never answered; what the client sends is read and dropped, so its
      // hanging up is still seen.
      client.on('data', () => {})
      upstream.pause()
      return
    }
    client.on('data', (chunk) => {
      if (!blackholed) upstream.write(chunk)
    })
    const filter = new MessageFilter((type) => proxy.dropNotifications && type === 0x41)
    upstream.on('data', (chunk) => {
      if (!blackholed) client.write(filter.pass(chunk))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  proxy.port = (server.address() as net.AddressInfo).port
  return proxy
}

/** Splits the server's byte stream into messages and leaves out the ones `drop` picks. */
class MessageFilter {
  #pending = Buffer.alloc(0)
  constructor(private readonly drop: (type: number) => boolean) {}

  pass(chunk: Buffer): Buffer {
    let bytes = Buffer.concat([this.#pending, chunk])
    const out: Buffer[] = []
    while (bytes.length >= 5) {
      const total = 1 + bytes.readInt32BE(1)
      if (bytes.length < total) break
      if (!this.drop(bytes[0]!)) out.push(bytes.subarray(0, total))
      bytes = bytes.subarray(total)
    }
    this.#pending = Buffer.from(bytes)
    return Buffer.concat(out)
  }
}
