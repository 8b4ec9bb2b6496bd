/**
 * What a hostile or broken server may send, scripted with a fake server (a real PostgreSQL
 * never sends these bytes): each must be refused with a typed error, with nothing secret
 * sent and nothing secret shown.
 */
import { inspect } from 'node:util'
import { afterEach, describe, expect, test } from 'vitest'
import { AuthenticationRefusedError, ConnectionLostError, ProtocolViolationError } from '../../src/protocol/errors.ts'
import { connect, type ConnectOptions } from '../../src/protocol/index.ts'
import { fakeServer, testCertificate, type FakeClient, type FakeServer } from '../support/fake-server.ts'
import { backend, concat, int32 } from '../support/wire.ts'

const password = 'Sup3r-secret!pw'
const servers: FakeServer[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) {
    await s.close()
    expect(s.errors).toEqual([]) // a script that broke would make a test meaningless
  }
})

async function serve(script: (client: FakeClient) => Promise<void>): Promise<FakeServer> {
  const server = await fakeServer(script)
  servers.push(server)
  return server
}

function options(server: FakeServer, extra: Partial<ConnectOptions> = {}): ConnectOptions {
  return { host: '127.0.0.1', port: server.port, user: 'ann', database: 'db', password, sslmode: 'disable', connectTimeout: 5, env: {}, passfile: '/nonexistent', ...extra }
}

/** Fails unless `error` is of `kind` and nothing about it shows the password. */
function expectRefusal(error: unknown, kind: new (...args: never[]) => Error, text?: RegExp): void {
  expect(error).toBeInstanceOf(kind)
  if (text) expect((error as Error).message).toMatch(text)
  for (const shown of [String(error), inspect(error, { depth: 10 }), JSON.stringify(error)]) expect(shown).not.toContain(password)
}

/** The bytes the client sent after its startup packet: what it answered with. */
function afterStartup(client: FakeClient, startupLength: number): Uint8Array {
  return client.received().subarray(startupLength)
}

describe('SSLRequest answers', () => {
  test("'S' followed by more bytes is refused, and the extra bytes are never read as messages (CVE-2021-23222)", async () => {
    const server = await serve(async (client) => {
      await client.readPacket() // SSLRequest
      // 'S', then a forged AuthenticationOk + ReadyForQuery that must never be believed.
      client.write(concat(Uint8Array.of(0x53), backend.authenticationOk(), backend.readyForQuery()))
    })
    const error = await connect(options(server, { sslmode: 'require' })).catch((e) => e)
    expectRefusal(error, ProtocolViolationError, /CVE-2021-23222/)
  })

  test('an ErrorResponse to SSLRequest is reported in our words, never the server\'s (CVE-2024-10977)', async () => {
    const server = await serve(async (client) => {
      await client.readPacket()
      client.write(backend.errorResponse({ S: 'FATAL', C: '08P01', M: 'EVIL: please visit http://attacker.example' }))
      client.end()
    })
    const error = await connect(options(server, { sslmode: 'require' })).catch((e) => e)
    expect(error).toBeInstanceOf(ConnectionLostError)
    expect(String(error)).not.toContain('EVIL')
    expect(inspect(error, { depth: 10 })).not.toContain('EVIL')
  })

  test.each(['require', 'verify-ca', 'verify-full'] as const)("'N' under sslmode=%s fails with nothing else sent", async (sslmode) => {
    const server = await serve(async (client) => {
      await client.readPacket()
      client.write(Uint8Array.of(0x4e)) // 'N'
      await client.closed
    })
    const error = await connect(options(server, { sslmode, sslrootcert: { pem: testCertificate().cert } })).catch((e) => e)
    expectRefusal(error, AuthenticationRefusedError, /does not accept TLS/)
    await server.clients[0]!.closed
    expect(server.clients[0]!.received()).toEqual(concat(new Uint8Array(int32(8)), new Uint8Array(int32(80877103)))) // the SSLRequest, nothing more
  })
})

/** A server that asks for SCRAM and then says `serverFirst(clientNonce)`, and `then` after the client's final message. */
function scramServer(serverFirst: (clientNonce: string) => string, then: (client: FakeClient) => Promise<void>) {
  return async (client: FakeClient) => {
    await client.readPacket()
    client.write(backend.authenticationSASL('SCRAM-SHA-256'))
    const initial = await client.readMessage()
    const clientFirst = new TextDecoder().decode(initial.body.subarray(initial.body.indexOf(0) + 5))
    const nonce = /r=([^,]+)/.exec(clientFirst)![1]!
    client.write(backend.authenticationSASLContinue(serverFirst(nonce)))
    await then(client)
  }
}
const goodFirst = (nonce: string) => `r=${nonce}SERVER,s=QSXCR+Q6sek8bf92,i=4096`
const readFinal = async (client: FakeClient) => {
  await client.readMessage()
}

describe('SCRAM exchanges a server gets wrong', () => {
  test.each([
    ['a nonce that does not extend ours', (n: string) => `r=X${n},s=QSXCR+Q6sek8bf92,i=4096`, /nonce/],
    ['a bad salt', (n: string) => `r=${n}S,s=not*base64,i=4096`, /salt|base64/],
    ['attributes out of order', (n: string) => `s=QSXCR+Q6sek8bf92,r=${n}S,i=4096`, /r=|order|attribute/i],
    ['an iteration count of 0', (n: string) => `r=${n}S,s=QSXCR+Q6sek8bf92,i=0`, /iteration/],
    ['an iteration count above the cap', (n: string) => `r=${n}S,s=QSXCR+Q6sek8bf92,i=100000000`, /iteration/],
  ])('%s is refused', async (_, first, why) => {
    const server = await serve(scramServer(first, async (client) => void (await client.closed)))
    expectRefusal(await connect(options(server)).catch((e) => e), AuthenticationRefusedError, why)
  })

  test.each([
    ['e= in the server-final message', 'e=invalid-proof', /invalid-proof/],
    ['a short v=', 'v=AAAA', /v=|signature|32 bytes/],
    ['a wrong v=', `v=${Buffer.alloc(32, 7).toString('base64')}`, /signature/],
  ])('%s is refused', async (_, final, why) => {
    const server = await serve(scramServer(goodFirst, async (client) => {
      await readFinal(client)
      client.write(concat(backend.authenticationSASLFinal(final), backend.authenticationOk(), backend.readyForQuery()))
    }))
    expectRefusal(await connect(options(server)).catch((e) => e), AuthenticationRefusedError, why)
  })

  test('AuthenticationOk with no SASLFinal is refused', async () => {
    const server = await serve(scramServer(goodFirst, async (client) => {
      await readFinal(client)
      client.write(concat(backend.authenticationOk(), backend.readyForQuery()))
    }))
    expectRefusal(await connect(options(server)).catch((e) => e), AuthenticationRefusedError, /before the SCRAM exchange was complete/)
  })

  test('SASLFinal before the exchange is complete is refused', async () => {
    const server = await serve(async (client) => {
      await client.readPacket()
      client.write(backend.authenticationSASL('SCRAM-SHA-256'))
      await client.readMessage()
      client.write(backend.authenticationSASLFinal('v=AAAA'))
      await client.closed
    })
    expectRefusal(await connect(options(server)).catch((e) => e), AuthenticationRefusedError, /out of order/)
  })

  test('a second AuthenticationSASL is refused', async () => {
    const server = await serve(async (client) => {
      await client.readPacket()
      client.write(backend.authenticationSASL('SCRAM-SHA-256'))
      await client.readMessage()
      client.write(backend.authenticationSASL('SCRAM-SHA-256'))
      await client.closed
    })
    expectRefusal(await connect(options(server)).catch((e) => e), AuthenticationRefusedError, /already begun/)
  })
})

/** A server that answers the startup packet with `request` and records what comes back. */
function asks(request: Uint8Array) {
  return async (client: FakeClient) => {
    await client.readPacket()
    client.write(request)
    await client.closed
  }
}

describe('channel_binding=require refuses before any password material is sent', () => {
  test('when the connection does not use TLS', async () => {
    const server = await serve(asks(backend.authenticationSASL('SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256')))
    const error = await connect(options(server, { channelBinding: 'require' })).catch((e) => e)
    expectRefusal(error, AuthenticationRefusedError, /channel binding required, but SSL not in use/)
    await server.clients[0]!.closed
    expect(server.clients[0]!.received().length).toBe(startupLength(server))
  })

  test('when the server offers only SCRAM-SHA-256', async () => {
    const server = await serve(async (client) => {
      await client.readPacket() // SSLRequest
      await client.startTls()
      await client.readPacket() // StartupMessage, under TLS
      client.write(backend.authenticationSASL('SCRAM-SHA-256'))
      await client.closed
    })
    const error = await connect(options(server, { sslmode: 'require', channelBinding: 'require' })).catch((e) => e)
    expectRefusal(error, AuthenticationRefusedError, /did not offer an authentication method that supports channel binding/)
    await server.clients[0]!.closed
    const sent = server.clients[0]!.received()
    expect(new TextDecoder().decode(sent)).not.toContain('SCRAM-SHA-256') // no SASLInitialResponse
  })

  test.each([
    ['a cleartext password', backend.authenticationCleartextPassword()],
    ['an md5 password', backend.authenticationMD5Password([1, 2, 3, 4])],
  ])('when the server asks for %s', async (_, request) => {
    const server = await serve(asks(request))
    const error = await connect(options(server, { channelBinding: 'require', sslmode: 'disable' })).catch((e) => e)
    expectRefusal(error, AuthenticationRefusedError, /channel binding required/)
    await server.clients[0]!.closed
    expect(server.clients[0]!.received().length).toBe(startupLength(server))
  })
})

describe('require_auth', () => {
  test.each([
    ['a cleartext password', backend.authenticationCleartextPassword()],
    ['an md5 password', backend.authenticationMD5Password([1, 2, 3, 4])],
  ])('require_auth=scram-sha-256 refuses %s, and the password is never sent', async (_, request) => {
    const server = await serve(asks(request))
    const error = await connect(options(server, { requireAuth: 'scram-sha-256' })).catch((e) => e)
    expectRefusal(error, AuthenticationRefusedError, /require|authentication method requirement/)
    await server.clients[0]!.closed
    const sent = server.clients[0]!.received()
    expect(sent.length).toBe(startupLength(server))
    expect(new TextDecoder().decode(sent)).not.toContain(password)
  })

  test('require_auth=password refuses a server that skips authentication', async () => {
    const server = await serve(asks(concat(backend.authenticationOk(), backend.readyForQuery())))
    expectRefusal(await connect(options(server, { requireAuth: 'password' })).catch((e) => e), AuthenticationRefusedError, /did not complete authentication/)
  })
})

describe('servers that stall or flood', () => {
  test('a server that stalls during startup trips connect_timeout', async () => {
    const server = await serve(async (client) => {
      await client.readPacket()
      client.write(backend.authenticationSASL('SCRAM-SHA-256')) // then silence
      await client.closed
    })
    const error = await connect(options(server, { connectTimeout: 2 })).catch((e) => e)
    expectRefusal(error, ConnectionLostError, /did not finish within 2000 ms/)
  })

  test('a flood of authentication requests fails the connection after one answer, with no loop', async () => {
    const server = await serve(async (client) => {
      await client.readPacket()
      for (let i = 0; i < 1000; i++) client.write(backend.authenticationCleartextPassword())
      await client.closed
    })
    const error = await connect(options(server)).catch((e) => e)
    expectRefusal(error, AuthenticationRefusedError, /already begun/)
    await server.clients[0]!.closed
    expect(messageTypes(afterStartup(server.clients[0]!, startupLength(server)))).toEqual(['p']) // one PasswordMessage
  })
})

describe('the password stays secret', () => {
  test('not in errors, warnings or inspected objects, whatever goes wrong', async () => {
    const warnings: string[] = []
    const server = await serve(async (client) => {
      await client.readPacket()
      client.write(backend.authenticationCleartextPassword())
      await client.readMessage()
      client.write(backend.errorResponse({ S: 'FATAL', V: 'FATAL', C: '28P01', M: 'password authentication failed for user "ann"' }))
      client.end()
    })
    const error = await connect(options(server, { onWarning: (w) => warnings.push(w) })).catch((e) => e)
    expectRefusal(error, Error)
    expect((error as { code?: string }).code).toBe('28P01')
    expect(warnings.join('\n')).not.toContain(password)
  })

  test('a connection string with a password does not show it in a syntax error', async () => {
    const error = await connect(`postgresql://ann:${password}@127.0.0.1:5432/db?nonsense_keyword=1`).catch((e) => e)
    expect(error).toBeInstanceOf(TypeError)
    expect(String(error)).not.toContain(password)
  })
})

/** Length of the StartupMessage the client sent first (no SSLRequest under sslmode=disable). */
function startupLength(server: FakeServer): number {
  const sent = server.clients[0]!.received()
  return new DataView(sent.buffer, sent.byteOffset).getInt32(0)
}

/** The type letters of the typed messages in `bytes`, read by their lengths. */
function messageTypes(bytes: Uint8Array): string[] {
  const types: string[] = []
  for (let at = 0; at + 5 <= bytes.length; at += 1 + new DataView(bytes.buffer, bytes.byteOffset + at + 1).getInt32(0)) {
    types.push(String.fromCharCode(bytes[at]!))
  }
  return types
}
