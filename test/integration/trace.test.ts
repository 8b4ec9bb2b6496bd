/**
 * pglisten --trace against the real PostgreSQL: a SCRAM-SHA-256-PLUS login over TLS, a query,
 * LISTEN/NOTIFY and close, traced. The messages must appear in the order the protocol docs
 * give, and no secret may appear in any encoding the trace could print it in. The SSLRequest
 * and the server's one-byte answer are traced too, as libpq does, even when the connection
 * fails right after; a fake server gives the answers the test server never gives ('N', 'E').
 */
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto'
import { describe, expect, test } from 'vitest'
import type { BackendMessage, NotificationResponse } from '../../src/protocol/backend/messages.ts'
import type { Tracer } from '../../src/protocol/session.ts'
import { AuthenticationRefusedError, ConnectionLostError, DatabaseError } from '../../src/protocol/errors.ts'
import { connect as connectLibpq } from '../../src/protocol/index.ts'
import { createTracer } from '../../src/protocol/trace/index.ts'
import { connect, connectSuperuser, eventually, isolated, server } from '../support/connect.ts'
import { fakeServersClosedAfterEach } from '../support/fake-server.ts'
import { backend } from '../support/wire.ts'

const pg = server()
const users = pg.users

/** Every way the trace could show bytes: \xNN throughout, libpq's Nchar style, hex, base64. */
function encodings(bytes: Uint8Array): string[] {
  const buffer = Buffer.from(bytes)
  const escaped = [...bytes].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')
  const nchar = [...bytes].map((b) => (b >= 0x20 && b < 0x7f && b !== 0x27 && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('')
  return [escaped, nchar, buffer.toString('hex'), buffer.toString('hex').toUpperCase(), buffer.toString('base64')]
}

/** The names in a line: its third column. */
const nameOf = (line: string) => line.split('\t')[3]!

describe.skipIf(!users || !pg.tls)('tracing a session', () => {
  test('SCRAM login, a query, LISTEN/NOTIFY and close: messages in order, no secret anywhere', async () => {
    const lines: string[] = []
    const tracer = createTracer((line) => lines.push(line), { timestamps: true })
    // The raw traffic, kept beside the trace, to know what the secrets were.
    const sent: Uint8Array[] = []
    const received: BackendMessage[] = []
    const trace: Tracer = {
      sent: (bytes) => (sent.push(Uint8Array.from(bytes)), tracer.sent(bytes)),
      received: (message) => (received.push(message), tracer.received(message)),
      receivedByte: (response, byte) => tracer.receivedByte!(response, byte),
    }
    const heard: NotificationResponse[] = []
    const c = await connect(users!.scram, 'tls', { trace, onNotification: (n) => heard.push(n) })
    expect(c.authentication).toBe('SCRAM-SHA-256-PLUS')
    await c.query('SELECT 1')
    await c.query('LISTEN trace_channel')
    await c.query("NOTIFY trace_channel, 'traced payload'")
    await eventually(() => heard.length === 1)
    await c.close()

    // Each line: local time to the microsecond, direction, length, name, fields.
    for (const line of lines) expect(line).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\t[FB]\t\d+\t[A-Za-z]+(\t .*)?$/)

    // The order of "Message Flow" in the protocol docs. ParameterStatus comes several times, and
    // servers before PostgreSQL 18 answer protocol 3.2 with NegotiateProtocolVersion: left out.
    const flow = lines.map((line) => `${line.split('\t')[1]} ${nameOf(line)}`).filter((m) => !/ (ParameterStatus|NegotiateProtocolVersion)$/.test(m))
    expect(flow).toEqual([
      'F SSLRequest',
      'B SSLResponse',
      'F StartupMessage',
      'B AuthenticationSASL',
      'F SASLInitialResponse',
      'B AuthenticationSASLContinue',
      'F SASLResponse',
      'B AuthenticationSASLFinal',
      'B AuthenticationOk',
      'B BackendKeyData',
      'B ReadyForQuery',
      'F Query', 'B RowDescription', 'B DataRow', 'B CommandComplete', 'B ReadyForQuery',
      'F Query', 'B CommandComplete', 'B ReadyForQuery',
      'F Query', 'B CommandComplete', 'B NotificationResponse', 'B ReadyForQuery',
      'F Terminate',
    ])
    expect(lines.some((line) => nameOf(line) === 'ParameterStatus')).toBe(true)
    // As libpq's pqTraceOutputNoTypeByteMessage and pqTraceOutputCharResponse print them.
    expect(lines[0]!.split('\t').slice(1).join('\t')).toBe('F\t8\tSSLRequest\t 1234 5679')
    expect(lines[1]!.split('\t').slice(1).join('\t')).toBe('B\t1\tSSLResponse\t S')

    // SCRAM stays readable: the gs2 header with channel binding, the nonces, the salt.
    const shown = (name: string) => lines.find((line) => nameOf(line) === name)!.split('\t').slice(4).join('\t')
    expect(shown('SASLInitialResponse')).toMatch(/^ "SCRAM-SHA-256-PLUS" \d+ 'p=tls-server-end-point,,n=,r=[^']+'$/)
    expect(shown('AuthenticationSASLContinue')).toMatch(/^ 'r=[^,]+,s=[^,]+,i=\d+'$/)
    expect(shown('SASLResponse')).toMatch(/^ 'c=[^,]+,r=[^,]+,p=\[redacted\]'$/)
    expect(shown('AuthenticationSASLFinal')).toBe(" 'v=[redacted]'")
    expect(shown('BackendKeyData')).toBe(` ${c.processId} [redacted]`)
    expect(shown('NotificationResponse')).toBe(` ${c.processId} "trace_channel" "traced payload"`)

    // The secrets, taken from the raw traffic.
    const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)
    const clientFinal = text(sent.find((bytes) => bytes[0] === 0x70 && text(bytes).includes(',p='))!.subarray(5))
    const proof = Buffer.from(clientFinal.slice(clientFinal.indexOf(',p=') + 3), 'base64')
    const serverFirst = received.find((m) => m.type === 'AuthenticationSASLContinue')!
    const serverFinal = received.find((m) => m.type === 'AuthenticationSASLFinal')!
    const signature = Buffer.from(text(serverFinal.type === 'AuthenticationSASLFinal' ? serverFinal.data : new Uint8Array()).slice(2), 'base64')
    const keyData = received.find((m) => m.type === 'BackendKeyData')!
    const secretKey = keyData.type === 'BackendKeyData' ? keyData.secretKey : new Uint8Array()
    expect(proof.length).toBe(32)
    expect(signature.length).toBe(32)
    expect(secretKey.length).toBeGreaterThanOrEqual(4)

    // And what the password gives: SaltedPassword, ClientKey, StoredKey, ServerKey (RFC 5802 section 3).
    const password = users!.scram.password!
    const attributes = new Map(text(serverFirst.type === 'AuthenticationSASLContinue' ? serverFirst.data : new Uint8Array()).split(',').map((a) => [a[0], a.slice(2)]))
    const salted = pbkdf2Sync(password.normalize('NFKC'), Buffer.from(attributes.get('s')!, 'base64'), Number(attributes.get('i')), 32, 'sha256')
    const clientKey = createHmac('sha256', salted).update('Client Key').digest()
    const derived = [salted, clientKey, createHash('sha256').update(clientKey).digest(), createHmac('sha256', salted).update('Server Key').digest()]

    const secrets = [
      password, JSON.stringify(password).slice(1, -1), ...encodings(new TextEncoder().encode(password)),
      ...[proof, signature, secretKey, ...derived].flatMap((bytes) => encodings(bytes)),
    ]
    // Under protocol 3.0 the key is 4 bytes, which libpq's old trace printed as an Int32 (checked
    // when it has enough digits not to turn up in the trace by chance).
    const asInt32 = secretKey.length === 4 ? Buffer.from(secretKey).readInt32BE() : 0
    if (Math.abs(asInt32) >= 1e6) secrets.push(String(asInt32))
    const all = lines.join('\n')
    // A boolean, so that a failure does not print the secret itself into the test log.
    secrets.forEach((secret, i) => expect(all.includes(secret), `the trace shows secret #${i}`).toBe(false))
  })
})

describe.skipIf(!users || !pg.tls)('a connection that fails in TLS negotiation', () => {
  test('a certificate refused after the handshake: the SSLRequest and the S before it are traced', async () => {
    const lines: string[] = []
    // The name to verify is not the one on the certificate; hostaddr still reaches the server.
    const error = await connect(users!.scram, 'tls', { host: 'wrong-name.invalid', hostaddr: '127.0.0.1', trace: createTracer((line) => lines.push(line)) }).catch((e) => e)
    expect(error).toBeInstanceOf(AuthenticationRefusedError)
    expect(lines).toEqual(['F\t8\tSSLRequest\t 1234 5679', 'B\t1\tSSLResponse\t S'])
  })

  test('a tracer that throws, from every hook, changes nothing on the wire', async () => {
    const fail = () => {
      throw new Error('a broken tracer')
    }
    const c = await connect(users!.scram, 'tls', { trace: { sent: fail, received: fail, receivedByte: fail } })
    try {
      expect(c.encrypted).toBe(true)
      expect((await c.query('SELECT 1'))[0]!.rows).toEqual([['1']])
    } finally {
      await c.close()
    }
  })
})

describe('a tracer with only some of its hooks', () => {
  test('one of only what the server sends, received() alone, sees the whole login and a query, as a full one does', async () => {
    const seen: string[] = []
    const c = await connectSuperuser({ trace: { received: (message) => seen.push(message.type) } })
    try {
      await c.query('SELECT 1')
    } finally {
      await c.close()
    }
    // The login's end and the query's answer, in order; the authentication request depends on the server's auth.
    const flow = seen.filter((type) => ['AuthenticationOk', 'BackendKeyData', 'RowDescription', 'DataRow', 'CommandComplete'].includes(type))
    expect(flow).toEqual(['AuthenticationOk', 'BackendKeyData', 'RowDescription', 'DataRow', 'CommandComplete'])
    expect(seen.filter((type) => type === 'ReadyForQuery')).toHaveLength(2) // after startup, after the query
  })
})

describe('answers to SSLRequest the test server never gives', () => {
  const serve = fakeServersClosedAfterEach()
  const options = (port: number) => ({ ...isolated, host: '127.0.0.1', port, user: 'ann', database: 'db', password: 'x', connectTimeout: 5 })

  test("'N' under sslmode=prefer: the answer, then the plain login that follows, in order", async () => {
    const fake = await serve(async (client) => {
      await client.readPacket() // SSLRequest
      client.write(Uint8Array.of(0x4e)) // 'N': go on in plain text, on this connection
      await client.readPacket() // StartupMessage
      client.write(backend.errorResponse({ S: 'FATAL', V: 'FATAL', C: '28000', M: 'no pg_hba.conf entry' }))
      client.end()
    })
    const lines: string[] = []
    const error = await connectLibpq({ ...options(fake.port), sslmode: 'prefer', trace: createTracer((line) => lines.push(line)) }).catch((e) => e)
    expect(error).toBeInstanceOf(DatabaseError)
    expect(lines.map((line) => `${line.split('\t')[0]} ${line.split('\t')[2]}`)).toEqual(['F SSLRequest', 'B SSLResponse', 'F StartupMessage', 'B ErrorResponse'])
    expect(lines[1]).toBe('B\t1\tSSLResponse\t N')
  })

  test("'N' under sslmode=require: the answer is traced before the refusal", async () => {
    const fake = await serve(async (client) => {
      await client.readPacket()
      client.write(Uint8Array.of(0x4e))
      await client.closed
    })
    const lines: string[] = []
    const error = await connectLibpq({ ...options(fake.port), sslmode: 'require', trace: createTracer((line) => lines.push(line)) }).catch((e) => e)
    expect(error).toBeInstanceOf(AuthenticationRefusedError)
    expect(lines).toEqual(['F\t8\tSSLRequest\t 1234 5679', 'B\t1\tSSLResponse\t N'])
  })

  test("an ErrorResponse: its first byte, 'E', is traced; the rest is never read, so never shown (CVE-2024-10977)", async () => {
    const fake = await serve(async (client) => {
      await client.readPacket()
      client.write(backend.errorResponse({ S: 'FATAL', C: '08P01', M: 'EVIL: please visit http://attacker.example' }))
      client.end()
    })
    const lines: string[] = []
    const error = await connectLibpq({ ...options(fake.port), sslmode: 'require', trace: createTracer((line) => lines.push(line)) }).catch((e) => e)
    expect(error).toBeInstanceOf(ConnectionLostError)
    expect(lines).toEqual(['F\t8\tSSLRequest\t 1234 5679', 'B\t1\tSSLResponse\t E'])
  })
})
