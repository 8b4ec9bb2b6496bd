/**
 * An AbortSignal stops a whole connection attempt, in whatever phase it stalls: scripted fake
 * servers that go silent at each step (a real server never stalls on cue), and the real server
 * for an attempt that succeeds. Each abort must reject promptly with a ConnectionLostError
 * caused by the signal's reason, close the socket, try no other host, and leave nothing behind.
 */
import { getEventListeners } from 'node:events'
import { describe, expect, test } from 'vitest'
import { ConnectionLostError } from '../../src/protocol/errors.ts'
import { connect, nodePlatform, type ConnectOptions } from '../../src/protocol/index.ts'
import { Connection } from '../../src/protocol/io/connection.ts'
import { fakeServersClosedAfterEach, type FakeClient, type FakeServer } from '../support/fake-server.ts'
import { connectSuperuser } from '../support/connect.ts'
import { backend, concat, loginAccepted } from '../support/wire.ts'

const serve = fakeServersClosedAfterEach()

function options(server: FakeServer, extra: Partial<ConnectOptions> = {}): ConnectOptions {
  return { host: '127.0.0.1', port: server.port, user: 'ann', database: 'db', password: 'pw', sslmode: 'disable', connectTimeout: 10, env: {}, passfile: '/nonexistent', ...extra }
}

/** A script that reports, through `stalled`, the moment it goes silent: the abort comes then. */
type StallingScript = (client: FakeClient, stalled: () => void) => Promise<void>

/** Reads the client's first packet (SSLRequest or StartupMessage), then silence until it goes. */
const silent: StallingScript = async (client, stalled) => {
  await client.readPacket()
  stalled()
  await client.closed
}

/** Startup completes, without the parameters that answer target_session_attrs, so a query must. */
async function completesStartup(client: FakeClient): Promise<void> {
  await client.readPacket()
  client.write(loginAccepted())
}

/** A fake server running `script`, and a promise of the moment its first client stalls. */
async function stallingServer(script: StallingScript): Promise<{ server: FakeServer; stalled: Promise<void> }> {
  let stalled!: () => void
  const reached = new Promise<void>((resolve) => (stalled = resolve))
  return { server: await serve((client) => script(client, stalled)), stalled: reached }
}

/**
 * Starts `attempt`, aborts it once the server has stalled (the phase under test, not a time
 * that a busy machine may not have reached it in), and checks the error: the signal's, not
 * connect_timeout's (seconds away), and nothing left listening on the signal.
 */
async function abortWhenStalled(stalled: Promise<void>, attempt: (signal: AbortSignal) => Promise<unknown>): Promise<ConnectionLostError> {
  const controller = new AbortController()
  const reason = new Error('the user gave up')
  const outcome = attempt(controller.signal).then(() => undefined, (error: unknown) => error)
  await stalled
  controller.abort(reason)
  const error = (await outcome) as ConnectionLostError
  expect(error).toBeInstanceOf(ConnectionLostError)
  expect(error.message).toMatch(/aborted/)
  expect(error.cause).toBe(reason)
  expect(getEventListeners(controller.signal, 'abort')).toEqual([])
  return error
}

describe('aborting connect()', () => {
  test.each([
    ['the SSLRequest answer (a server that reads it and never answers)', 'prefer', silent],
    ['startup (a server that reads the StartupMessage and never answers)', 'disable', silent],
    ['the TLS handshake (a server that stalls after answering S)', 'require', async (client: FakeClient, stalled: () => void) => {
      await client.readPacket()
      client.write(Uint8Array.of(0x53)) // 'S', then no handshake
      stalled()
      await client.closed
    }],
    ['authentication (a server that stalls after asking for a password)', 'disable', async (client: FakeClient, stalled: () => void) => {
      await client.readPacket()
      client.write(backend.authenticationCleartextPassword())
      await client.readMessage() // PasswordMessage, then silence
      stalled()
      await client.closed
    }],
    ['the target_session_attrs query (a server that never answers it)', 'disable', async (client: FakeClient, stalled: () => void) => {
      await completesStartup(client)
      await client.readMessage() // Query 'SHOW transaction_read_only', never answered
      stalled()
      await client.closed
    }],
  ] as const)('during %s rejects with the signal\'s reason and closes the socket', async (phase, sslmode, script) => {
    const { server, stalled } = await stallingServer(script)
    const extra: Partial<ConnectOptions> = phase.startsWith('the target') ? { targetSessionAttrs: 'read-write' } : {}
    await abortWhenStalled(stalled, (signal) => connect(options(server, { sslmode, signal, ...extra })))
    expect(server.clients).toHaveLength(1)
    await server.clients[0]!.closed // resolves only once the client has closed its socket
  })

  test('an abort while the first host stalls tries no further host', async () => {
    const { server: stalls, stalled } = await stallingServer(silent)
    const next = await serve(completesStartup)
    await abortWhenStalled(stalled, (signal) => connect(options(stalls, { host: '127.0.0.1,127.0.0.1', port: `${stalls.port},${next.port}`, signal })))
    await stalls.clients[0]!.closed
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(next.clients).toHaveLength(0)
  })

  test('the abort wins over connect_timeout, which still applies when the signal stays quiet', async () => {
    const { server, stalled } = await stallingServer(silent)
    await abortWhenStalled(stalled, (signal) => connect(options(server, { connectTimeout: 2, signal })))
    const quiet = new AbortController()
    const error = await Connection.open({ platform: nodePlatform, host: '127.0.0.1', port: server.port, user: 'x', tls: { mode: 'disable' }, useTls: false, timeoutMs: 200, signal: quiet.signal }).catch((e) => e)
    expect(error).toBeInstanceOf(ConnectionLostError)
    expect(error.message).toMatch(/startup did not finish within 200 ms/)
    expect(getEventListeners(quiet.signal, 'abort')).toEqual([])
  })

  test('an already aborted signal rejects at once without opening a socket', async () => {
    const server = await serve((client) => silent(client, () => {}))
    const reason = new Error('never mind')
    const signal = AbortSignal.abort(reason)
    for (const attempt of [
      () => connect(options(server, { signal })),
      () => Connection.open({ platform: nodePlatform, host: '127.0.0.1', port: server.port, user: 'x', tls: { mode: 'disable' }, useTls: false, signal }),
    ]) {
      const error = await attempt().catch((e) => e)
      expect(error).toBeInstanceOf(ConnectionLostError)
      expect(error.message).toMatch(/aborted/)
      expect(error.cause).toBe(reason)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(server.clients).toHaveLength(0)
  })
})

describe('a signal that never aborts', () => {
  test('the connection works, the signal is let go, and a later abort does not touch the connection', async () => {
    const controller = new AbortController()
    const c = await connectSuperuser({ signal: controller.signal, targetSessionAttrs: 'read-write' })
    try {
      expect(getEventListeners(controller.signal, 'abort')).toEqual([])
      controller.abort()
      expect(c.isClosed).toBe(false)
      expect((await c.query('SELECT 1'))[0]!.rows).toEqual([['1']])
    } finally {
      await c.close()
    }
  })

  test('no timer outlives a successful attempt with connect_timeout', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length
    const before = timers()
    const c = await connectSuperuser({ connectTimeout: 30 })
    try {
      // At most as many: a timer left by an earlier test may have fired meanwhile, never one more.
      expect(timers()).toBeLessThanOrEqual(before)
    } finally {
      await c.close()
    }
  })
})

describe('a password function that never settles', () => {
  // startup.ts awaits it inside the exchange; the session raced only its reads against a failure,
  // so connect_timeout, the signal and a hang-up all waited on it for good.
  const asksFor = (request: 'cleartext' | 'SCRAM', then: 'silence' | 'hang up') => async (client: FakeClient) => {
    await client.readPacket()
    client.write(request === 'cleartext' ? backend.authenticationCleartextPassword() : backend.authenticationSASL('SCRAM-SHA-256'))
    if (then === 'hang up') client.end()
    await client.closed
  }
  const never = () => new Promise<string>(() => {})

  test.each(['cleartext', 'SCRAM'] as const)('connect_timeout bounds it (%s)', async (request) => {
    const server = await serve(asksFor(request, 'silence'))
    const error = await connect(options(server, { connectTimeout: 1, password: never })).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConnectionLostError)
    expect(String(error)).toMatch(/within 1000 ms|timed out/)
  })

  test('the signal stops it', async () => {
    const server = await serve(asksFor('cleartext', 'silence'))
    const reason = new Error('given up')
    const controller = new AbortController()
    const connecting = connect(options(server, { signal: controller.signal, password: never })).catch((e: unknown) => e)
    await new Promise((resolve) => setTimeout(resolve, 100))
    controller.abort(reason)
    const error = await connecting
    expect(error).toBeInstanceOf(ConnectionLostError)
    expect((error as Error).cause).toBe(reason)
  })

  // The session failed in the read that brought the request (a broken message after it in the
  // same chunk): the step that asks for the password must not begin, since nothing would end it.
  test('a broken message in the same read as the request ends the attempt', async () => {
    const server = await serve(async (client) => {
      await client.readPacket()
      client.write(concat(backend.authenticationCleartextPassword(), backend.parameterStatus('client_encoding', 'LATIN1')))
      await client.closed
    })
    let asked = 0
    const error = await connect(options(server, { connectTimeout: 1, password: () => (asked++, never()) })).catch((e: unknown) => e)
    expect(String(error)).toMatch(/client_encoding/)
    expect(asked).toBe(0)
  })

  test('the server hanging up ends the attempt', async () => {
    const server = await serve(asksFor('cleartext', 'hang up'))
    const error = await connect(options(server, { connectTimeout: 0, password: never })).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConnectionLostError)
  })
})
