/**
 * createTracer on a real Session running the real exchanges against scripted server messages:
 * a whole session's trace written out line by line, the state that tells the 'p' messages
 * apart, and timestamps.
 */
import { describe, expect, test } from 'vitest'
import type { BackendMessage } from '../../../src/protocol/backend/messages.ts'
import { ByteWriter } from '../../../src/protocol/bytes/writer.ts'
import { copyBoth } from '../../../src/protocol/exchange/copy-both.ts'
import { simpleQuery } from '../../../src/protocol/exchange/query.ts'
import { startup, type StartupOptions } from '../../../src/protocol/exchange/startup.ts'
import { copyDone, terminate } from '../../../src/protocol/frontend.ts'
import { writeStandbyStatusUpdate } from '../../../src/protocol/replication/stream-messages.ts'
import { createTracer, type TracerOptions } from '../../../src/protocol/trace/index.ts'
import { replicationCopyBoth } from '../../../src/protocol/trace/replication-line.ts'
import { scriptedSession, settle } from '../../support/scripted.ts'
import { ascii, backend, concat, cstr, int16, message } from '../../support/wire.ts'

/** The exchange recorded from psql (published in rust-postgres's sasl.rs tests): password "foobar". */
const psql = {
  nonce: '9IZ2O01zb9IgiIZ1WJ/zgpJB',
  serverFirst: 'r=9IZ2O01zb9IgiIZ1WJ/zgpJBjx/oIRLs02gGSHcw1KEty3eY,s=fs3IXBy7U7+IvVjZ,i=4096',
  proof: 'AmNKosjJzS31NTlQYNs5BTeQjdHdk7lOflDo5re2an8=',
  serverFinal: 'v=U+ppxD5XUKtradnv8e2MkeupiA8FU87Sg8CXzXHDAzw=',
}
const key = [...new Array(32).keys()].map((i) => 0xa0 + i)

/** Waits until `check` holds: SCRAM hashes with WebCrypto, which takes more than one turn. */
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 2))
  expect(check()).toBe(true)
}

/** A scripted session traced into `lines`; `login` starts the startup exchange. */
function traced(options: TracerOptions = {}) {
  const lines: string[] = []
  const scripted = scriptedSession({ trace: createTracer((line) => lines.push(line), options) })
  const login = (startupOptions: StartupOptions) => {
    const result = scripted.session.run(startup(startupOptions))
    result.catch(() => undefined)
    return result
  }
  return { ...scripted, lines, login }
}

describe('a whole session', () => {
  test('SCRAM login, LISTEN, a notification, Terminate: every line', async () => {
    const { lines, login, serve, session, sent } = traced()
    const loggedIn = login({ user: 'ann', password: 'foobar', scram: { nonce: psql.nonce } })
    await until(() => sent.length === 1)
    serve(backend.authenticationSASL('SCRAM-SHA-256'))
    await until(() => sent.length === 2)
    serve(backend.authenticationSASLContinue(psql.serverFirst))
    await until(() => sent.length === 3)
    serve(backend.authenticationSASLFinal(psql.serverFinal), backend.authenticationOk(), backend.backendKeyData(77, key),
      backend.parameterStatus('server_version', '18.4'), backend.readyForQuery())
    await loggedIn
    const listened = session.run(simpleQuery('LISTEN jobs'))
    await until(() => sent.length === 4)
    serve(backend.commandComplete('LISTEN'), backend.readyForQuery())
    await listened
    serve(backend.notificationResponse(4242, 'jobs', 'hello'))
    session.send(terminate)

    expect(lines).toEqual([
      'F\t39\tStartupMessage\t 3 2 "user" "ann" "client_encoding" "UTF8"',
      'B\t23\tAuthenticationSASL\t "SCRAM-SHA-256" ""',
      "F\t54\tSASLInitialResponse\t \"SCRAM-SHA-256\" 32 'n,,n=,r=9IZ2O01zb9IgiIZ1WJ/zgpJB'",
      `B\t84\tAuthenticationSASLContinue\t '${psql.serverFirst}'`,
      "F\t108\tSASLResponse\t 'c=biws,r=9IZ2O01zb9IgiIZ1WJ/zgpJBjx/oIRLs02gGSHcw1KEty3eY,p=[redacted]'",
      "B\t54\tAuthenticationSASLFinal\t 'v=[redacted]'",
      'B\t8\tAuthenticationOk',
      'B\t40\tBackendKeyData\t 77 [redacted]',
      'B\t24\tParameterStatus\t "server_version" "18.4"',
      'B\t5\tReadyForQuery\t I',
      'F\t16\tQuery\t "LISTEN jobs"',
      'B\t11\tCommandComplete\t "LISTEN"',
      'B\t5\tReadyForQuery\t I',
      'B\t19\tNotificationResponse\t 4242 "jobs" "hello"',
      'F\t4\tTerminate',
    ])
    const all = lines.join('\n')
    for (const secret of ['foobar', psql.proof, psql.serverFinal.slice(2), Buffer.from(key).toString('hex'), Buffer.from(key).toString('base64')]) {
      expect(all).not.toContain(secret)
    }
  })

  test('md5: the salt is shown, the hash is not', async () => {
    const { lines, login, serve, sent } = traced()
    const loggedIn = login({ user: 'ann', password: 'secret' })
    await until(() => sent.length === 1)
    serve(backend.authenticationMD5Password([1, 2, 3, 4]))
    await until(() => sent.length === 2)
    serve(backend.authenticationOk(), backend.readyForQuery())
    await loggedIn
    expect(lines.slice(1, 3)).toEqual(["B\t12\tAuthenticationMD5Password\t '\\x01\\x02\\x03\\x04'", 'F\t40\tPasswordMessage\t [redacted]'])
  })

  test('cleartext: the password is not shown', async () => {
    const { lines, login, serve, sent } = traced()
    const loggedIn = login({ user: 'ann', password: 'secret' })
    await until(() => sent.length === 1)
    serve(backend.authenticationCleartextPassword())
    await until(() => sent.length === 2)
    serve(backend.authenticationOk(), backend.readyForQuery())
    await loggedIn
    expect(lines.slice(1, 3)).toEqual(['B\t8\tAuthenticationCleartextPassword', 'F\t11\tPasswordMessage\t [redacted]'])
    expect(lines.join('\n')).not.toContain('secret')
  })

  test('START_REPLICATION, read as --trace reads it: the XLogData and keepalive the server sends, the status update the client answers with', async () => {
    const { lines, serve, session } = traced({ copyBoth: replicationCopyBoth })
    const start = `START_REPLICATION SLOT "orders" LOGICAL 0/0 (proto_version '1', publication_names '"pub"')`
    const replicated = session.run(copyBoth(start, { onData: () => {} }), { copyBoth: { onData: () => {} } })
    await settle()
    serve(
      message('W', [0], int16(0)), // CopyBothResponse: format 0, no columns
      message('d', [
        0x77,                                           // Byte1('w')  XLogData
        0x00, 0x00, 0x00, 0x00, 0x01, 0x76, 0x43, 0x78, // Int64       walStart 0/1764378
        0x00, 0x00, 0x00, 0x00, 0x01, 0x76, 0x45, 0x20, // Int64       walEnd 0/1764520
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // Int64       sendTime 2000-01-01
        0x42,                                           // Byte1('B')  Begin
        0x00, 0x00, 0x00, 0x00, 0x01, 0x76, 0x44, 0xf0, // Int64       finalLsn 0/17644F0
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // Int64       commitTime 2000-01-01
        0x00, 0x00, 0x02, 0xe4,                         // Int32(740)  xid
      ]),
      message('d', [
        0x6b,                                           // Byte1('k')  Primary keepalive
        0x00, 0x00, 0x00, 0x00, 0x01, 0x76, 0x45, 0x20, // Int64       walEnd 0/1764520
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // Int64       sendTime 2000-01-01
        0x01,                                           // Byte1(1)    reply requested
      ]),
    )
    // The answer, as the client's own encoder writes it.
    session.send(writeStandbyStatusUpdate(new ByteWriter(), { written: 0x1764520n, flushed: 0x17644f0n, applied: 0x17644f0n, clientTime: 1_000_000n }).toBytes())
    session.send(copyDone)
    serve(message('c'), backend.commandComplete('START_REPLICATION'), backend.readyForQuery())
    await replicated
    const epoch = '2000-01-01T00:00:00.000000Z'
    expect(lines).toEqual([
      `F\t${start.length + 5}\tQuery\t ${JSON.stringify(start)}`,
      'B\t7\tCopyBothResponse\t 0 0',
      `B\t50\tCopyData\t XLogData walStart=0/1764378 walEnd=0/1764520 sendTime=${epoch} Begin finalLsn=0/17644F0 commitTime=${epoch} xid=740`,
      `B\t22\tCopyData\t PrimaryKeepalive walEnd=0/1764520 sendTime=${epoch} replyRequested=true`,
      'F\t38\tCopyData\t StandbyStatusUpdate written=0/1764520 flushed=0/17644F0 applied=0/17644F0 clientTime=2000-01-01T00:00:01.000000Z replyRequested=false',
      'F\t4\tCopyDone',
      'B\t4\tCopyDone',
      'B\t22\tCommandComplete\t "START_REPLICATION"',
      'B\t5\tReadyForQuery\t I',
    ])
  })
})

describe('state', () => {
  test("a 'p' message answers one request: a second one is an UnknownAuthenticationResponse", () => {
    const lines: string[] = []
    const tracer = createTracer((line) => lines.push(line))
    tracer.received({ type: 'AuthenticationCleartextPassword' })
    tracer.sent(message('p', cstr('one')))
    tracer.sent(message('p', cstr('two')))
    expect(lines.slice(1)).toEqual(['F\t8\tPasswordMessage\t [redacted]', 'F\t8\tUnknownAuthenticationResponse\t [redacted]'])
  })

  test('a StartupMessage starts over: the last connection\'s SCRAM mechanism no longer applies', () => {
    const lines: string[] = []
    const tracer = createTracer((line) => lines.push(line))
    const startupMessage = Uint8Array.of(0, 0, 0, 9, 0, 3, 0, 2, 0) // protocol 3.2, no parameters
    tracer.sent(startupMessage)
    tracer.received({ type: 'AuthenticationSASL', mechanisms: ['SCRAM-SHA-256'] })
    tracer.sent(message('p', cstr('SCRAM-SHA-256'), [0xff, 0xff, 0xff, 0xff]))
    tracer.sent(startupMessage)
    tracer.received({ type: 'AuthenticationSASLFinal', data: Uint8Array.from(ascii('v=signature')) })
    expect(lines.at(-1)).toBe('B\t19\tAuthenticationSASLFinal\t [redacted]')
  })

  test('a message outside the BackendMessage union gives a line, not a throw', () => {
    const lines: string[] = []
    createTracer((line) => lines.push(line)).received({ type: 'ParseComplete' } as unknown as BackendMessage)
    expect(lines).toEqual(['B\t?\tParseComplete\t [not understood by the tracer]'])
  })
})

describe('timestamps', () => {
  test('off by default; with `timestamps`, each line starts with the local time to the microsecond', () => {
    const start = new Date(2026, 0, 2, 3, 4, 5).getTime()
    let tick = 0
    const lines: string[] = []
    const tracer = createTracer((line) => lines.push(line), { timestamps: true, now: () => start + 0.25 * tick++ })
    tracer.sent(message('Q', cstr('SELECT 1')))
    tracer.received({ type: 'ReadyForQuery', status: 'I' })
    expect(lines).toEqual(['2026-01-02 03:04:05.000000\tF\t13\tQuery\t "SELECT 1"', '2026-01-02 03:04:05.000250\tB\t5\tReadyForQuery\t I'])

    const plain: string[] = []
    createTracer((line) => plain.push(line)).sent(message('X'))
    expect(plain).toEqual(['F\t4\tTerminate'])
  })
})
