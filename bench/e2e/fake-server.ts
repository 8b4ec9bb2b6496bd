/**
 * A scripted fake PostgreSQL server for the benchmark's client ceilings: it speaks just enough
 * of protocol 3 (startup with AuthenticationOk, simple and extended queries answered sensibly,
 * LISTEN, UNLISTEN and pg_notify echoed as a server would) and, when told, writes
 * NotificationResponse messages to every connection listening on a channel as fast as the
 * socket drains, from prebuilt buffers, so that the server is never what limits a client.
 *
 *   tsx bench/e2e/fake-server.ts        prints "port N", then obeys lines on stdin:
 *   stream CHANNEL COUNT PAYLOAD        COUNT notifications with PAYLOAD-byte payloads
 *
 * Not pglisten's code (it must not share the client's encoders): node:net and Buffer only.
 */
import { createServer, type Socket } from 'node:net'
import { createInterface } from 'node:readline'

const fakePid = 4242
const parameters: [string, string][] = [
  ['server_version', '18.0 (pglisten bench fake)'],
  ['server_encoding', 'UTF8'],
  ['client_encoding', 'UTF8'],
  ['DateStyle', 'ISO, MDY'],
  ['TimeZone', 'UTC'],
  ['integer_datetimes', 'on'],
  ['standard_conforming_strings', 'on'],
  ['in_hot_standby', 'off'],
  ['default_transaction_read_only', 'off'],
  ['is_superuser', 'on'],
]

/** Byte1 type, Int32 length (counting itself), body. */
function message(type: string, ...body: Buffer[]): Buffer {
  const length = body.reduce((sum, part) => sum + part.length, 4)
  const head = Buffer.alloc(5)
  head.write(type, 0, 'latin1')
  head.writeInt32BE(length, 1)
  return Buffer.concat([head, ...body])
}
const int32 = (n: number) => (b => (b.writeInt32BE(n), b))(Buffer.alloc(4))
const int16 = (n: number) => (b => (b.writeInt16BE(n), b))(Buffer.alloc(2))
const cstring = (s: string) => Buffer.from(s + '\0', 'utf8')

const readyForQuery = message('Z', Buffer.from('I'))
const commandComplete = (tag: string) => message('C', cstring(tag))
/** NotificationResponse: Int32 processId, String channel, String payload. */
const notification = (channel: string, payload: string) => message('A', int32(fakePid), cstring(channel), cstring(payload))
/** RowDescription of one text column named `name` with type `oid`. */
const oneColumn = (name: string, oid: number) =>
  message('T', int16(1), cstring(name), int32(0), int16(0), int32(oid), int16(-1), int32(-1), int16(0))

class FakeConnection {
  readonly channels = new Set<string>()
  #buffer: Buffer = Buffer.alloc(0)
  #started = false
  /** The statement the extended protocol's Parse named last (we answer every one the same). */
  #statement = ''

  constructor(readonly socket: Socket) {
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.#receive(chunk))
    socket.on('error', () => socket.destroy())
    socket.on('close', () => connections.delete(this))
  }

  #receive(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk])
    for (;;) {
      const head = this.#started ? 1 : 0
      if (this.#buffer.length < head + 4) return
      const length = this.#buffer.readInt32BE(head)
      if (this.#buffer.length < head + length) return
      const type = this.#started ? String.fromCharCode(this.#buffer[0]!) : ''
      const body = this.#buffer.subarray(head + 4, head + length)
      this.#buffer = this.#buffer.subarray(head + length)
      if (this.#started) this.#message(type, body)
      else this.#startup(body)
    }
  }

  #startup(body: Buffer): void {
    const code = body.readInt32BE(0)
    if (code === 80877103 || code === 80877104) return void this.socket.write('N') // SSLRequest, GSSENCRequest: no
    if (code === 80877102) return void this.socket.end() // CancelRequest: nothing to cancel
    this.#started = true
    const minor = code & 0xffff
    const reply = [message('R', int32(0))] // AuthenticationOk
    // A server that knows protocol 3.2 at most says so (NegotiateProtocolVersion); 3.2 has long keys.
    if (minor > 2) reply.push(message('v', int32((3 << 16) | 2), int32(0)))
    for (const [name, value] of parameters) reply.push(message('S', cstring(name), cstring(value)))
    reply.push(message('K', int32(fakePid), Buffer.alloc(minor >= 2 ? 32 : 4, 7)), readyForQuery)
    this.socket.write(Buffer.concat(reply))
  }

  #message(type: string, body: Buffer): void {
    switch (type) {
      case 'Q': // simple Query: every statement, then ReadyForQuery
        this.socket.write(Buffer.concat([...this.#simpleQuery(body.toString('utf8', 0, body.length - 1)), readyForQuery]))
        return
      case 'P': // Parse: String name, String query, Int16 count, Int32[] types
        this.#statement = body.toString('utf8', body.indexOf(0) + 1, body.indexOf(0, body.indexOf(0) + 1))
        return void this.socket.write(message('1'))
      case 'B':
        return void this.socket.write(message('2'))
      case 'D': { // Describe a statement (ParameterDescription first) or a portal
        const row = rowDescription(this.#statement)
        const parameters = body[0] === 0x53 /* S */ ? [message('t', int16(0))] : []
        return void this.socket.write(Buffer.concat([...parameters, row ?? message('n')]))
      }
      case 'E': // Execute: rows without a RowDescription (Describe sent it)
        return void this.socket.write(Buffer.concat(this.#execute(this.#statement).filter((m) => m[0] !== 0x54)))
      case 'C':
        return void this.socket.write(message('3'))
      case 'S':
        return void this.socket.write(readyForQuery)
      case 'X':
        return void this.socket.end()
      default: // Flush and the rest: nothing to say
    }
  }

  *#simpleQuery(sql: string): Generator<Buffer> {
    const statements = sql.split(';').map((s) => s.trim()).filter(Boolean)
    if (statements.length === 0) yield message('I') // EmptyQueryResponse
    for (const statement of statements) yield* this.#execute(statement)
  }

  #execute(statement: string): Buffer[] {
    const words = statement.trim().split(/\s+/)
    const verb = (words[0] ?? '').toUpperCase()
    if (verb === 'LISTEN') return (this.channels.add(identifier(words.slice(1).join(' '))), [commandComplete('LISTEN')])
    if (verb === 'UNLISTEN') {
      const name = words.slice(1).join(' ')
      if (name === '*') this.channels.clear()
      else this.channels.delete(identifier(name))
      return [commandComplete('UNLISTEN')]
    }
    const notify = /pg_notify\(\s*'((?:[^']|'')*)'\s*,\s*'((?:[^']|'')*)'\s*\)/i.exec(statement)
    if (notify) {
      const [channel, payload] = [notify[1]!.replaceAll("''", "'"), notify[2]!.replaceAll("''", "'")]
      for (const c of connections) if (c.channels.has(channel)) c.socket.write(notification(channel, payload))
      return [oneColumn('pg_notify', 2278), message('D', int16(1), int32(0)), commandComplete('SELECT 1')]
    }
    if (/pg_is_in_recovery/i.test(statement)) return [oneColumn('pg_is_in_recovery', 16), message('D', int16(1), int32(1), Buffer.from('f')), commandComplete('SELECT 1')]
    if (verb === 'SELECT') return [message('T', int16(0)), commandComplete('SELECT 0')]
    return [commandComplete(verb || 'SELECT 0')]
  }
}

/** What Describe says of a statement: the same RowDescription #execute would send, if any. */
function rowDescription(statement: string): Buffer | undefined {
  if (/pg_notify/i.test(statement)) return oneColumn('pg_notify', 2278)
  if (/pg_is_in_recovery/i.test(statement)) return oneColumn('pg_is_in_recovery', 16)
  return /^\s*select/i.test(statement) ? message('T', int16(0)) : undefined
}

/** A LISTEN target as the server folds it: "quoted" kept (with "" undoubled), else lower case. */
function identifier(name: string): string {
  return name.startsWith('"') ? name.slice(1, -1).replaceAll('""', '"') : name.toLowerCase()
}

/** Writes `count` notifications to `socket`, a prebuilt block at a time, waiting for 'drain'. */
function stream(socket: Socket, channel: string, count: number, payloadBytes: number): void {
  const one = notification(channel, 'x'.repeat(payloadBytes))
  const perBlock = Math.max(1, Math.floor(65536 / one.length))
  const block = Buffer.concat(Array.from({ length: perBlock }, () => one))
  let left = count
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, perBlock)
      left -= n
      if (!socket.write(n === perBlock ? block : block.subarray(0, n * one.length))) return void socket.once('drain', pump)
    }
  }
  pump()
}

const connections = new Set<FakeConnection>()
const server = createServer((socket) => void connections.add(new FakeConnection(socket)))
server.listen(0, '127.0.0.1', () => process.stdout.write(`port ${(server.address() as { port: number }).port}\n`))

createInterface({ input: process.stdin }).on('line', (line) => {
  const [command, channel = '', count = '0', payload = '0'] = line.trim().split(/\s+/)
  if (command !== 'stream') return void process.stderr.write(`fake-server: unknown command ${JSON.stringify(line)}\n`)
  for (const c of connections) if (c.channels.has(channel)) stream(c.socket, channel, Number(count), Number(payload))
}).on('close', () => process.exit(0))
