/**
 * COPY BOTH, as START_REPLICATION uses it ("Streaming Replication Protocol" and "COPY
 * Operations" in the protocol docs), at each layer and with no database:
 *   - the client's CopyData and CopyDone (frontend.ts), as byte vectors;
 *   - the exchange (exchange/copy-both.ts), a generator driven here by a script of decoded
 *     BackendMessages;
 *   - Session.run's copy route, which takes the copy in the read loop, fed server bytes built
 *     by test/support/wire.ts;
 *   - Connection.copyBoth, sendCopy, endCopy and copying, over the fake cloudflare:sockets of
 *     test/support/fake-workers-socket.ts.
 */
import { describe, expect, test, vi } from 'vitest'
import type { BackendMessage, CopyResponse } from '../../../src/protocol/backend/messages.ts'
import { ByteWriter } from '../../../src/protocol/bytes/writer.ts'
import { DatabaseError, PgListenError, ProtocolViolationError } from '../../../src/protocol/errors.ts'
import { copyBoth, type CopyBothHandlers, type CopyBothOutcome } from '../../../src/protocol/exchange/copy-both.ts'
import { simpleQuery } from '../../../src/protocol/exchange/query.ts'
import type { Step } from '../../../src/protocol/exchange/steps.ts'
import { copyDone, writeCopyData } from '../../../src/protocol/frontend.ts'
import type { Connection } from '../../../src/protocol/io/connection.ts'
import { connectWith } from '../../../src/protocol/io/connect.ts'
import { createWorkersPlatform } from '../../../src/protocol/io/workers-platform.ts'
import { scriptedSession, settle } from '../../support/scripted.ts'
import { fakeSockets, type FakeServer } from '../../support/fake-workers-socket.ts'
import { ascii, backend, bytes, concat, int16, message } from '../../support/wire.ts'

/** Server bytes for COPY BOTH, built by hand (test/support/wire.ts has no Copy messages). */
const wire = {
  /** CopyBothResponse (B): Byte1('W') Int32 length Int8 format Int16 columnCount; a walsender sends 0 and 0. */
  copyBothResponse: () => message('W', [0], int16(0)),
  /** CopyData (B): Byte1('d') Int32 length Byte[n] data. */
  copyData: (...data: number[]) => message('d', data),
  /** CopyDone (B): Byte1('c') Int32(4) length. */
  copyDone: () => message('c'),
}

/** The Query message that starts the command, built by hand. */
const query = (sql: string) => message('Q', ascii(sql), [0])

const start = `START_REPLICATION SLOT "orders" LOGICAL 0/0 (proto_version '1', publication_names '"pub"')`

describe('CopyData and CopyDone from the client', () => {
  test('CopyData wraps the bytes it is given', () => {
    expect(writeCopyData(new ByteWriter(0), bytes(0x72, 0x01, 0x02)).toBytes()).toEqual(bytes(
      0x64,                   // Byte1('d')  CopyData
      0x00, 0x00, 0x00, 0x07, // Int32(7)    length: itself and three bytes of data
      0x72, 0x01, 0x02,       // Byte[n]     data
    ))
  })

  test('CopyData with no data is its header alone', () => {
    expect(writeCopyData(new ByteWriter(0), bytes()).toBytes()).toEqual(bytes(
      0x64,                   // Byte1('d')  CopyData
      0x00, 0x00, 0x00, 0x04, // Int32(4)    length: itself only
    ))
  })

  test('CopyData is appended to what the writer holds, and its length counts from its own start', () => {
    const w = new ByteWriter(0).byte(0xaa)
    expect(writeCopyData(w, bytes(0x01))).toBe(w)
    expect(w.toBytes()).toEqual(bytes(0xaa, 0x64, 0x00, 0x00, 0x00, 0x05, 0x01))
  })

  test('CopyDone', () => {
    expect(copyDone).toEqual(bytes(
      0x63,                   // Byte1('c')  CopyDone
      0x00, 0x00, 0x00, 0x04, // Int32(4)    length, including itself; no body
    ))
  })
})

// ---------------------------------------------------------------------------------------------
// The exchange alone, driven with decoded messages.

const m = {
  copyBothResponse: (): CopyResponse => ({ type: 'CopyBothResponse', format: 0, columnFormats: [] }),
  copyData: (...data: number[]): BackendMessage => ({ type: 'CopyData', data: Uint8Array.from(data) }),
  copyDone: (): BackendMessage => ({ type: 'CopyDone' }),
  commandComplete: (tag: string): BackendMessage => ({ type: 'CommandComplete', tag }),
  readyForQuery: (): BackendMessage => ({ type: 'ReadyForQuery', status: 'I' }),
  errorResponse: (code: string, text: string): BackendMessage => ({ type: 'ErrorResponse', fields: { severity: 'ERROR', code, message: text } }),
  rowDescription: (): BackendMessage => ({ type: 'RowDescription', fields: [] }),
  dataRow: (): BackendMessage => ({ type: 'DataRow', values: ['1'] }),
}

interface Driven {
  /** What the exchange sent, in order. */
  sent: Uint8Array[]
  /** How it ended: returned, threw, or still waiting for a message when the script ran out. */
  end: { returned: CopyBothOutcome } | { threw: unknown } | 'waiting'
}

/** Runs `exchange`, answering each receive step with the next message of `script`. */
function drive(exchange: Generator<Step, CopyBothOutcome, BackendMessage | undefined>, script: readonly BackendMessage[]): Driven {
  const sent: Uint8Array[] = []
  const messages = [...script]
  try {
    let step = exchange.next()
    while (!step.done) {
      if (step.value.kind === 'send') {
        sent.push(step.value.bytes)
        step = exchange.next(undefined)
      } else {
        const next = messages.shift()
        if (next === undefined) return { sent, end: 'waiting' }
        step = exchange.next(next)
      }
    }
    return { sent, end: { returned: step.value } }
  } catch (error) {
    return { sent, end: { threw: error } }
  }
}

/** Handlers that log what they are told, in one list, so that order shows. */
function logging(): { handlers: Required<CopyBothHandlers>; log: unknown[] } {
  const log: unknown[] = []
  return {
    log,
    handlers: {
      onStarted: (response) => log.push(['started', response]),
      onData: (data) => log.push(['data', [...data]]),
      onServerDone: () => log.push(['server done']),
    },
  }
}

describe('the COPY BOTH exchange', () => {
  test('sends the command as a Query, then waits for the server', () => {
    expect(drive(copyBoth('X', { onData: () => {} }), [])).toEqual({ sent: [query('X')], end: 'waiting' })
    expect(drive(copyBoth(start, { onData: () => {} }), [])).toEqual({ sent: [query(start)], end: 'waiting' })
  })

  test('a whole replication: started, CopyData in order, the server\'s CopyDone, CommandComplete, ReadyForQuery', () => {
    const { handlers, log } = logging()
    const response = m.copyBothResponse()
    const driven = drive(copyBoth(start, handlers), [
      response, m.copyData(1), m.copyData(2, 3), m.copyData(), m.copyDone(), m.commandComplete('START_REPLICATION'), m.readyForQuery(),
    ])
    expect(driven.end).toEqual({ returned: { commands: ['START_REPLICATION'] } })
    expect(log).toEqual([['started', response], ['data', [1]], ['data', [2, 3]], ['data', []], ['server done']])
    expect((log[0] as unknown[])[1]).toBe(response)
  })

  test('onStarted and onServerDone may be left out', () => {
    const data: number[][] = []
    const driven = drive(copyBoth(start, { onData: (d) => data.push([...d]) }), [
      m.copyBothResponse(), m.copyData(7), m.copyDone(), m.commandComplete('START_REPLICATION'), m.readyForQuery(),
    ])
    expect(driven.end).toEqual({ returned: { commands: ['START_REPLICATION'] } })
    expect(data).toEqual([[7]])
  })

  test('every CommandComplete tag is kept, in order', () => {
    const driven = drive(copyBoth(start, { onData: () => {} }), [
      m.copyBothResponse(), m.copyDone(), m.commandComplete('COPY 0'), m.commandComplete('START_REPLICATION'), m.readyForQuery(),
    ])
    expect(driven.end).toEqual({ returned: { commands: ['COPY 0', 'START_REPLICATION'] } })
  })

  test('after the server\'s CopyDone, a result set (the next timeline of a physical stream) is read past', () => {
    const driven = drive(copyBoth(start, { onData: () => {} }), [
      m.copyBothResponse(), m.copyDone(), m.rowDescription(), m.dataRow(), m.commandComplete('SELECT 1'), m.commandComplete('START_REPLICATION'), m.readyForQuery(),
    ])
    expect(driven.end).toEqual({ returned: { commands: ['SELECT 1', 'START_REPLICATION'] } })
  })

  describe('an ErrorResponse is read on to ReadyForQuery, then thrown', () => {
    test('in answer to the command (the slot is in use): nothing was started', () => {
      const { handlers, log } = logging()
      const driven = drive(copyBoth(start, handlers), [
        m.errorResponse('55006', 'replication slot "orders" is active for PID 42'), m.readyForQuery(),
      ])
      const thrown = (driven.end as { threw: unknown }).threw
      expect(thrown).toBeInstanceOf(DatabaseError)
      expect(thrown).toMatchObject({ code: '55006', message: 'replication slot "orders" is active for PID 42' })
      expect(log).toEqual([])
    })

    test('in the middle of the stream (the walsender hit an ERROR)', () => {
      const driven = drive(copyBoth(start, { onData: () => {} }), [
        m.copyBothResponse(), m.copyData(1), m.errorResponse('XX000', 'could not read WAL'), m.readyForQuery(),
      ])
      expect((driven.end as { threw: unknown }).threw).toMatchObject({ code: 'XX000', message: 'could not read WAL' })
    })

    test('of two ErrorResponses, the first', () => {
      const driven = drive(copyBoth(start, { onData: () => {} }), [
        m.errorResponse('58P01', 'first'), m.errorResponse('XX000', 'second'), m.readyForQuery(),
      ])
      expect((driven.end as { threw: unknown }).threw).toMatchObject({ code: '58P01', message: 'first' })
    })

    test('not before ReadyForQuery, so the connection stays in step', () => {
      expect(drive(copyBoth(start, { onData: () => {} }), [m.errorResponse('55006', 'in use')]).end).toBe('waiting')
    })
  })

  test('a command that does not start COPY BOTH is a TypeError once ReadyForQuery has come', () => {
    expect(drive(copyBoth('IDENTIFY_SYSTEM', { onData: () => {} }), [m.commandComplete('IDENTIFY_SYSTEM'), m.readyForQuery()]).end)
      .toEqual({ threw: new TypeError('"IDENTIFY_SYSTEM" did not start COPY BOTH') })
  })

  test('that TypeError shows the command cut to 40 characters', () => {
    expect(drive(copyBoth(start, { onData: () => {} }), [m.readyForQuery()]).end)
      .toEqual({ threw: new TypeError(`${JSON.stringify(start.slice(0, 40))} did not start COPY BOTH`) })
    expect(start.slice(0, 40)).toBe('START_REPLICATION SLOT "orders" LOGICAL ')
  })

  describe('what breaks COPY BOTH\'s grammar is a ProtocolViolationError', () => {
    test.each([
      ['a second CopyBothResponse', [m.copyBothResponse(), m.copyBothResponse()], 'a second CopyBothResponse in one command'],
      ['CopyData before CopyBothResponse', [m.copyData(1)], 'CopyData before CopyBothResponse'],
      ['CopyDone before CopyBothResponse', [m.copyDone()], 'CopyDone before CopyBothResponse'],
      ['CopyDone twice', [m.copyBothResponse(), m.copyDone(), m.copyDone()], 'CopyDone twice'],
      ['RowDescription while the copy is open', [m.copyBothResponse(), m.rowDescription()], 'unexpected RowDescription during COPY BOTH'],
      ['DataRow while the copy is open', [m.copyBothResponse(), m.dataRow()], 'unexpected DataRow during COPY BOTH'],
      ['RowDescription before CopyBothResponse', [m.rowDescription()], 'unexpected RowDescription during COPY BOTH'],
      ['CopyOutResponse', [{ type: 'CopyOutResponse', format: 0, columnFormats: [] }], 'unexpected CopyOutResponse during COPY BOTH'],
      ['EmptyQueryResponse', [{ type: 'EmptyQueryResponse' }], 'unexpected EmptyQueryResponse during COPY BOTH'],
    ] as [string, BackendMessage[], string][])('%s', (_, script, text) => {
      expect(drive(copyBoth(start, { onData: () => {} }), script).end).toEqual({ threw: new ProtocolViolationError(text) })
    })
  })
})

// ---------------------------------------------------------------------------------------------
// Session.run(exchange, { copyBoth }): the copy routed from the read loop.

describe('Session.run with a copy route', () => {
  /** A session running copyBoth(start) with a copy route; what each side was handed, in one log. */
  async function replicating(onCopyData: (data: Uint8Array, log: unknown[]) => void = () => {}) {
    const scripted = scriptedSession()
    const log: unknown[] = []
    const result = scripted.session.run(
      copyBoth(start, { onData: (data) => log.push(['exchange', [...data]]) }),
      {
        copyBoth: {
          onStarted: () => log.push('started'),
          onData: (data) => {
            log.push(['handler', [...data]])
            onCopyData(data, log)
          },
          onServerDone: () => log.push('server done'),
        },
      },
    )
    result.catch(() => undefined)
    await settle()
    return { ...scripted, log, result }
  }

  test('CopyData goes to the handler synchronously and in order, never to the exchange; the rest goes to the exchange', async () => {
    const { serve, log, result, sent } = await replicating()
    expect(sent).toEqual([query(start)])
    serve(wire.copyBothResponse())
    await settle()
    serve(wire.copyData(1), wire.copyData(2, 3), wire.copyData())
    expect(log).toEqual(['started', ['handler', [1]], ['handler', [2, 3]], ['handler', []]]) // before any await
    serve(wire.copyDone(), backend.commandComplete('START_REPLICATION'), backend.readyForQuery())
    await expect(result).resolves.toEqual({ commands: ['START_REPLICATION'] })
    expect(log).toEqual(['started', ['handler', [1]], ['handler', [2, 3]], ['handler', []], 'server done'])
  })

  test('without a copy route, the exchange is handed the CopyData itself, once it runs', async () => {
    const { session, serve } = scriptedSession()
    const data: number[][] = []
    const result = session.run(copyBoth(start, { onData: (d) => data.push([...d]) }))
    await settle()
    serve(wire.copyBothResponse(), wire.copyData(1), wire.copyData(2))
    expect(data).toEqual([]) // not in the read loop: the exchange takes them after a promise each
    await settle()
    expect(data).toEqual([[1], [2]])
    serve(wire.copyDone(), backend.commandComplete('START_REPLICATION'), backend.readyForQuery())
    await expect(result).resolves.toEqual({ commands: ['START_REPLICATION'] })
  })

  test('once the exchange has ended, CopyData is unexpected again: the session fails, and the handler hears nothing', async () => {
    const { session, serve, log, result, aborted } = await replicating()
    serve(wire.copyBothResponse(), wire.copyDone(), backend.commandComplete('START_REPLICATION'), backend.readyForQuery())
    await result
    log.length = 0
    serve(wire.copyData(9))
    expect(log).toEqual([])
    const violation = new ProtocolViolationError('unexpected CopyData while no request was pending')
    expect(session.failure).toEqual(violation)
    expect(aborted).toEqual([violation])
  })

  test('once the exchange has ended, the next exchange run without a copy route is handed CopyData itself', async () => {
    const { session, serve, log, result } = await replicating()
    serve(wire.copyBothResponse(), wire.copyDone(), backend.commandComplete('START_REPLICATION'), backend.readyForQuery())
    await result
    log.length = 0
    const next = session.run(simpleQuery('SELECT 1'))
    await settle()
    serve(wire.copyData(9))
    await expect(next).rejects.toBeInstanceOf(ProtocolViolationError) // the simple query refuses it
    expect(log).toEqual([])
  })

  test('the handler is dropped when the exchange fails too', async () => {
    const { session, serve, log, result } = await replicating()
    serve(backend.errorResponse({ S: 'ERROR', V: 'ERROR', C: '55006', M: 'slot in use' }), backend.readyForQuery())
    await expect(result).rejects.toMatchObject({ code: '55006' })
    expect(session.failure).toBeUndefined() // in step: the session goes on
    serve(wire.copyData(9))
    expect(log).toEqual([])
    expect(session.failure).toEqual(new ProtocolViolationError('unexpected CopyData while no request was pending'))
  })

  test('a throw from the handler fails the session with that very error; the rest of the chunk is not routed', async () => {
    const failure = new Error('bad pgoutput message')
    const { session, serve, log, result, aborted } = await replicating((data) => {
      if (data[0] === 2) throw failure
    })
    serve(wire.copyBothResponse(), wire.copyData(1), wire.copyData(2), wire.copyData(3), wire.copyDone())
    await expect(result).rejects.toBe(failure)
    expect(session.failure).toBe(failure)
    expect(aborted).toEqual([failure])
    expect(log).toEqual(['started', ['handler', [1]], ['handler', [2]]])
  })

  test.each([
    ['a string', 'not an Error', 'not an Error'],
    ['a number', 42, '42'],
    ['undefined', undefined, 'undefined'],
  ])('a non-Error thrown by the handler (%s) is wrapped in a PgListenError', async (_, thrown, text) => {
    const { session, serve, result, aborted } = await replicating(() => {
      throw thrown
    })
    serve(wire.copyBothResponse(), wire.copyData(1))
    const error = await result.catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PgListenError)
    expect(error).toEqual(new PgListenError(text))
    expect(error).toBe(session.failure)
    expect(aborted).toEqual([error])
  })

  test('pause() holds CopyData too; resume() delivers what waited, in order', async () => {
    const { session, serve, log, result } = await replicating((data) => {
      if (data[0] === 2) session.pause()
    })
    serve(wire.copyBothResponse(), wire.copyData(1), wire.copyData(2), wire.copyData(3), wire.copyData(4))
    expect(log).toEqual(['started', ['handler', [1]], ['handler', [2]]])
    serve(wire.copyData(5), wire.copyDone(), backend.commandComplete('START_REPLICATION'), backend.readyForQuery())
    await settle()
    expect(log).toEqual(['started', ['handler', [1]], ['handler', [2]]]) // the rest waits, the exchange's messages too
    session.resume()
    expect(log).toEqual(['started', ['handler', [1]], ['handler', [2]], ['handler', [3]], ['handler', [4]], ['handler', [5]], 'server done'])
    await expect(result).resolves.toEqual({ commands: ['START_REPLICATION'] })
  })

  // The session routes the copy only from CopyBothResponse to the server's CopyDone: CopyData
  // out of place reaches the exchange, which refuses it.
  test('CopyData before CopyBothResponse is a ProtocolViolationError, with a copy route as without', async () => {
    const { session, serve, log } = await replicating()
    serve(wire.copyData(1))
    await settle()
    expect(log).toEqual([])
    expect(session.failure).toEqual(new ProtocolViolationError('CopyData before CopyBothResponse'))
  })

  test("CopyData after the server's CopyDone is dropped, as libpq drops it, with a copy route as without", async () => {
    const { session, serve, log, result } = await replicating()
    // PostgreSQL 18's walsender may send a keepalive after its CopyDone.
    serve(wire.copyBothResponse(), wire.copyDone(), wire.copyData(1), backend.commandComplete('START_REPLICATION'), backend.readyForQuery())
    await expect(result).resolves.toEqual({ commands: ['START_REPLICATION'] })
    expect(log).toEqual(['started', 'server done'])
    expect(session.failure).toBeUndefined()
  })

  test("without a copy route too, CopyData after the server's CopyDone reaches nobody", () => {
    const data: number[][] = []
    const end = drive(copyBoth(start, { onData: (d) => data.push([...d]) }), [m.copyBothResponse(), m.copyData(1), m.copyDone(), m.copyData(2), m.commandComplete('START_REPLICATION'), m.readyForQuery()]).end
    expect(end).toEqual({ returned: { commands: ['START_REPLICATION'] } })
    expect(data).toEqual([[1]])
  })

  // CopyBothResponse and CopyData may arrive in one read: the copy is open before its first data.
  test('onStarted is told before the handler is given the first CopyData, even in one read', async () => {
    const { serve, log } = await replicating()
    serve(wire.copyBothResponse(), wire.copyData(1))
    await settle()
    expect(log).toEqual(['started', ['handler', [1]]])
  })
})

// ---------------------------------------------------------------------------------------------
// Connection.copyBoth, sendCopy, endCopy and copying, over fake sockets.

/** Waits for `check`; fails the test if it never holds. */
const until = (check: () => boolean) => vi.waitFor(() => {
  if (!check()) throw new Error('not yet')
}, { timeout: 5_000, interval: 1 })

/** Everything the client wrote, as one array. */
const written = (server: FakeServer) => concat(...server.written)

/** A trust login over the fake sockets: a Connection, and the server's side of it. */
async function connected(): Promise<{ connection: Connection; server: FakeServer }> {
  const sockets = fakeSockets()
  const opening = connectWith(createWorkersPlatform(sockets.connect), { host: 'db.example.com', user: 'app', database: 'app', sslmode: 'disable' })
  await until(() => sockets.servers[0]?.written.length === 1) // the StartupMessage
  const server = sockets.servers[0]!
  server.send(concat(backend.authenticationOk(), backend.backendKeyData(42, [1, 2, 3, 4]), backend.readyForQuery()))
  const connection = await opening
  server.written.length = 0
  return { connection, server }
}

/** A standby status update as the client would send it, built by hand. */
const statusUpdate = bytes(0x64, 0x00, 0x00, 0x00, 0x06, 0x72, 0x00) // CopyData(6) 'r' and one byte: enough for a wire test

describe('Connection.copyBoth', () => {
  test('the client ends first: sendCopy while open, endCopy sends CopyDone once, the server answers', async () => {
    const { connection, server } = await connected()
    expect(connection.copying).toBe(false)
    expect(connection.sendCopy(statusUpdate)).toBe(false) // no copy yet
    connection.endCopy()
    const data: number[][] = []
    let started = 0
    const copying = connection.copyBoth(start, (d) => data.push([...d]), () => started++)
    await until(() => server.written.length === 1)
    expect(written(server)).toEqual(query(start)) // nothing before it: sendCopy and endCopy sent nothing
    expect(connection.copying).toBe(false)
    server.send(concat(wire.copyBothResponse(), wire.copyData(1), wire.copyData(2)))
    await until(() => data.length === 2)
    expect(data).toEqual([[1], [2]])
    expect(started).toBe(1)
    expect(connection.copying).toBe(true)

    expect(connection.sendCopy(statusUpdate)).toBe(true)
    connection.endCopy()
    expect(connection.copying).toBe(false)
    expect(connection.sendCopy(statusUpdate)).toBe(false)
    connection.endCopy()
    await until(() => server.written.length === 3)
    expect(written(server)).toEqual(concat(query(start), statusUpdate, copyDone))

    server.send(concat(wire.copyData(3), wire.copyDone(), backend.commandComplete('START_REPLICATION'), backend.readyForQuery()))
    await expect(copying).resolves.toEqual({ commands: ['START_REPLICATION'] })
    expect(data).toEqual([[1], [2], [3]]) // the server may send until its own CopyDone
    expect(written(server)).toEqual(concat(query(start), statusUpdate, copyDone)) // no second CopyDone
    expect(connection.copying).toBe(false)
    expect(connection.isClosed).toBe(false)
  })

  // Exchanges run one at a time, in the order they were asked for (Session.run's queue): a
  // request made just after copyBoth() must not overtake its command, nor would a dynamic
  // import of exchange/copy-both.ts, were one ever added, be allowed to let it.
  test('a query called just after copyBoth waits its turn: the command that starts the copy is written first', async () => {
    const { connection, server } = await connected()
    const copying = connection.copyBoth(start, () => {})
    const querying = connection.query('SELECT 1')
    await until(() => server.written.length === 1)
    await settle()
    expect(written(server)).toEqual(query(start)) // and nothing else: the query waits for the copy to end
    server.send(concat(wire.copyBothResponse(), wire.copyDone(), backend.commandComplete('START_REPLICATION'), backend.readyForQuery()))
    await expect(copying).resolves.toEqual({ commands: ['START_REPLICATION'] })
    await until(() => server.written.length === 3)
    expect(written(server)).toEqual(concat(query(start), copyDone, query('SELECT 1')))
    server.send(concat(backend.commandComplete('SELECT 0'), backend.readyForQuery()))
    await expect(querying).resolves.toHaveLength(1)
  })

  test('the server ends first: its CopyDone is answered with the client\'s, and sendCopy is closed', async () => {
    const { connection, server } = await connected()
    const copying = connection.copyBoth(start, () => {})
    await until(() => server.written.length === 1)
    server.send(wire.copyBothResponse())
    await until(() => connection.copying)
    server.send(wire.copyDone())
    await until(() => server.written.length === 2)
    expect(server.written[1]).toEqual(copyDone)
    expect(connection.copying).toBe(false)
    expect(connection.sendCopy(statusUpdate)).toBe(false)
    server.send(concat(backend.commandComplete('START_REPLICATION'), backend.readyForQuery()))
    await expect(copying).resolves.toEqual({ commands: ['START_REPLICATION'] })
    expect(server.written).toHaveLength(2)
  })

  test('onStarted may be left out', async () => {
    const { connection, server } = await connected()
    const copying = connection.copyBoth(start, () => {})
    await until(() => server.written.length === 1)
    server.send(concat(wire.copyBothResponse(), wire.copyDone(), backend.commandComplete('START_REPLICATION'), backend.readyForQuery()))
    await expect(copying).resolves.toEqual({ commands: ['START_REPLICATION'] })
  })

  test('a walsender ERROR in the middle of the stream rejects with it; the copy is closed and the connection usable', async () => {
    const { connection, server } = await connected()
    const copying = connection.copyBoth(start, () => {})
    copying.catch(() => undefined)
    await until(() => server.written.length === 1)
    server.send(wire.copyBothResponse())
    await until(() => connection.copying)
    server.send(concat(backend.errorResponse({ S: 'ERROR', V: 'ERROR', C: 'XX000', M: 'could not read WAL' }), backend.readyForQuery()))
    await expect(copying).rejects.toMatchObject({ code: 'XX000' })
    expect(connection.copying).toBe(false)
    expect(connection.sendCopy(statusUpdate)).toBe(false)
    expect(connection.isClosed).toBe(false)
    expect(server.written).toHaveLength(1)
  })

  test('a slot in use: rejected before any copy, onStarted never told', async () => {
    const { connection, server } = await connected()
    let started = 0
    const copying = connection.copyBoth(start, () => {}, () => started++)
    copying.catch(() => undefined)
    await until(() => server.written.length === 1)
    server.send(concat(backend.errorResponse({ S: 'ERROR', V: 'ERROR', C: '55006', M: 'replication slot "orders" is active' }), backend.readyForQuery()))
    await expect(copying).rejects.toBeInstanceOf(DatabaseError)
    expect(started).toBe(0)
    expect(connection.copying).toBe(false)
  })

  test('a throw from onData ends the connection with that error', async () => {
    const { connection, server } = await connected()
    const failure = new Error('bad pgoutput message')
    const copying = connection.copyBoth(start, () => {
      throw failure
    })
    copying.catch(() => undefined)
    await until(() => server.written.length === 1)
    server.send(concat(wire.copyBothResponse(), wire.copyData(1)))
    await expect(copying).rejects.toBe(failure)
    expect(connection.isClosed).toBe(true)
    expect(connection.copying).toBe(false)
    await expect(connection.closed).resolves.toBe(failure)
  })

  test('once the connection is closed, sendCopy and endCopy send nothing, even before the copy has unwound', async () => {
    const { connection, server } = await connected()
    const copying = connection.copyBoth(start, () => {})
    copying.catch(() => undefined)
    await until(() => server.written.length === 1)
    server.send(wire.copyBothResponse())
    await until(() => connection.copying)
    const reason = new Error('heartbeat unanswered')
    connection.abort(reason)
    expect(connection.sendCopy(statusUpdate)).toBe(false)
    connection.endCopy()
    await expect(copying).rejects.toBe(reason)
    expect(server.written).toHaveLength(1)
  })

  test('onData runs in the read loop: pause() from it holds the rest of the read, resume() hands it on in order', async () => {
    const { connection, server } = await connected()
    const data: number[][] = []
    const copying = connection.copyBoth(start, (d) => {
      data.push([...d])
      if (d[0] === 1) connection.pause()
    })
    await until(() => server.written.length === 1)
    server.send(concat(wire.copyBothResponse(), wire.copyData(1), wire.copyData(2), wire.copyData(3)))
    await until(() => data.length === 1)
    await settle()
    expect(data).toEqual([[1]])
    connection.resume()
    expect(data).toEqual([[1], [2], [3]])
    server.send(concat(wire.copyDone(), backend.commandComplete('START_REPLICATION'), backend.readyForQuery()))
    await expect(copying).resolves.toEqual({ commands: ['START_REPLICATION'] })
  })

  // CopyBothResponse and the first CopyData may come in one read: the copy is open by then, so
  // a reply to a keepalive that asks for one goes out (a refused one would be lost).
  test('a keepalive in the same read as CopyBothResponse can be answered from onData', async () => {
    const { connection, server } = await connected()
    const answered: boolean[] = []
    const copying = connection.copyBoth(start, () => answered.push(connection.sendCopy(statusUpdate)))
    copying.catch(() => undefined)
    await until(() => server.written.length === 1)
    server.send(concat(wire.copyBothResponse(), wire.copyData(0x6b, ...new Array(17).fill(0), 1)))
    await until(() => answered.length === 1)
    expect(answered).toEqual([true])
  })
})
