/**
 * The simple-query exchange and the session that runs it, against scripted server messages.
 */
import { describe, expect, test } from 'vitest'
import { DatabaseError, ProtocolViolationError } from '../../../src/protocol/errors.ts'
import { CopyNotSupportedError, simpleQuery } from '../../../src/protocol/exchange/query.ts'
import { scriptedSession, settle } from '../../support/scripted.ts'
import { ascii, backend, bytes, message } from '../../support/wire.ts'

describe('simple query', () => {
  test('rows as text, NULLs as null, one result per statement', async () => {
    const { session, sent, serve } = scriptedSession()
    const result = session.run(simpleQuery("SELECT 1; SELECT 'a', NULL; LISTEN x"))
    await settle()
    expect(sent).toEqual([message('Q', ascii("SELECT 1; SELECT 'a', NULL; LISTEN x"), [0])])
    serve(
      backend.rowDescription('?column?'), backend.dataRow('1'), backend.commandComplete('SELECT 1'),
      backend.rowDescription('?column?', '?column?'), backend.dataRow('a', null), backend.commandComplete('SELECT 1'),
      backend.commandComplete('LISTEN'),
      backend.readyForQuery('I'),
    )
    const outcome = await result
    expect(outcome.status).toBe('I')
    expect(outcome.results.map((r) => [r.command, r.rows])).toEqual([
      ['SELECT 1', [['1']]],
      ['SELECT 1', [['a', null]]],
      ['LISTEN', []],
    ])
    expect(outcome.results[1]!.fields.map((f) => f.name)).toEqual(['?column?', '?column?'])
  })

  test('after an ErrorResponse it reads on to ReadyForQuery, then fails, and the session stays usable', async () => {
    const { session, serve, aborted } = scriptedSession()
    const failing = session.run(simpleQuery('SELECT 1; SELECT x; SELECT 3'))
    const next = session.run(simpleQuery('SELECT 4'))
    await settle()
    serve(backend.rowDescription('a'), backend.dataRow('1'), backend.commandComplete('SELECT 1'))
    serve(backend.errorResponse({ S: 'ERROR', V: 'ERROR', C: '42703', M: 'column "x" does not exist' }))
    await settle()
    serve(backend.readyForQuery('I'))
    const error = await failing.catch((e) => e)
    expect(error).toBeInstanceOf(DatabaseError)
    expect(error).toMatchObject({ code: '42703', message: 'column "x" does not exist', severity: 'ERROR' })
    await settle()
    serve(backend.rowDescription('a'), backend.dataRow('4'), backend.commandComplete('SELECT 1'), backend.readyForQuery())
    expect((await next).results[0]!.rows).toEqual([['4']])
    expect(aborted).toEqual([])
  })

  test('notifications, notices and parameter changes in the middle of a query go to their handlers', async () => {
    const seen: string[] = []
    const { session, serve } = scriptedSession({
      onNotification: (n) => seen.push(`notification ${n.channel}:${n.payload}`),
      onNotice: (n) => seen.push(`notice ${n.fields.message}`),
      onParameterStatus: (p) => seen.push(`parameter ${p.name}=${p.value}`),
    })
    const result = session.run(simpleQuery('SELECT 1'))
    await settle()
    serve(
      backend.rowDescription('a'),
      backend.notificationResponse(7, 'jobs', 'first'),
      backend.dataRow('1'),
      backend.noticeResponse({ S: 'NOTICE', M: 'careful' }),
      backend.commandComplete('SELECT 1'),
      backend.parameterStatus('TimeZone', 'UTC'),
      backend.readyForQuery(),
    )
    expect((await result).results[0]!.rows).toEqual([['1']])
    expect(seen).toEqual(['notification jobs:first', 'notice careful', 'parameter TimeZone=UTC'])
    expect(session.parameters.get('TimeZone')).toBe('UTC')
  })

  test('a throwing handler does not stop the stream; its error is reported', async () => {
    const errors: unknown[] = []
    const payloads: string[] = []
    const { session, serve } = scriptedSession({
      onNotification: (n) => {
        payloads.push(n.payload)
        if (n.payload === 'boom') throw new Error('handler bug')
      },
      onHandlerError: (e) => errors.push(e),
    })
    serve(backend.notificationResponse(1, 'c', 'boom'), backend.notificationResponse(1, 'c', 'after'))
    expect(payloads).toEqual(['boom', 'after'])
    expect(errors).toEqual([new Error('handler bug')])
    expect(session.failure).toBeUndefined()
  })

  // Found by review: an async handler's rejection went unheard, an unhandled rejection that
  // ends a Node process by default.
  test("an async handler that rejects is reported as a throwing one is; the stream goes on", async () => {
    const errors: unknown[] = []
    const seen: string[] = []
    const { session, serve } = scriptedSession({
      onNotification: async (n) => {
        seen.push(n.payload)
        throw new Error(`async bug ${n.payload}`)
      },
      onNotice: async () => {
        throw new Error('notice bug')
      },
      onHandlerError: (e) => errors.push(e),
    })
    serve(backend.notificationResponse(1, 'c', 'one'), backend.noticeResponse({ S: 'NOTICE', M: 'careful' }), backend.notificationResponse(1, 'c', 'two'))
    await settle()
    expect(seen).toEqual(['one', 'two'])
    expect(errors).toEqual([new Error('async bug one'), new Error('notice bug'), new Error('async bug two')])
    expect(session.failure).toBeUndefined()
  })

  test('a handler that returns an object with a `then` that is no function is not taken for a promise', () => {
    const errors: unknown[] = []
    const { serve } = scriptedSession({ onNotification: () => ({ then: 'not a function' }) as never, onHandlerError: (e) => errors.push(e) })
    serve(backend.notificationResponse(1, 'c', 'one'))
    expect(errors).toEqual([])
  })

  test('COPY FROM STDIN is refused with CopyFail and the session stays in step', async () => {
    const { session, sent, serve, aborted } = scriptedSession()
    const result = session.run(simpleQuery('COPY t FROM STDIN'))
    await settle()
    serve(message('G', [0], [0, 1], [0, 0])) // CopyInResponse, text, one column
    await settle()
    expect(sent[1]).toEqual(message('f', ascii('COPY is not supported by pglisten'), [0])) // CopyFail
    serve(backend.errorResponse({ V: 'ERROR', C: '57014', M: 'COPY from stdin failed' }), backend.readyForQuery())
    await expect(result).rejects.toBeInstanceOf(CopyNotSupportedError)
    expect(aborted).toEqual([])
  })

  test('COPY TO STDOUT data is skipped, then refused, in step', async () => {
    const { session, serve, aborted } = scriptedSession()
    const result = session.run(simpleQuery('COPY t TO STDOUT'))
    await settle()
    serve(message('H', [0], [0, 1], [0, 0]), message('d', ascii('1\n')), message('c'), backend.commandComplete('COPY 1'), backend.readyForQuery())
    await expect(result).rejects.toBeInstanceOf(CopyNotSupportedError)
    expect(aborted).toEqual([])
  })

  test('a DataRow before any RowDescription breaks the session', async () => {
    const { session, serve, aborted } = scriptedSession()
    const result = session.run(simpleQuery('SELECT 1'))
    const queued = session.run(simpleQuery('SELECT 2'))
    await settle()
    serve(backend.dataRow('1'))
    await expect(result).rejects.toBeInstanceOf(ProtocolViolationError)
    await expect(queued).rejects.toBeInstanceOf(ProtocolViolationError)
    expect(aborted).toHaveLength(1)
  })

  test('a message nobody asked for is a protocol violation', () => {
    const { session, serve, aborted } = scriptedSession()
    serve(backend.dataRow('1'))
    expect(session.failure).toBeInstanceOf(ProtocolViolationError)
    expect(aborted).toHaveLength(1)
  })

  test('malformed bytes fail the session, not the caller of receive()', () => {
    const { session, aborted } = scriptedSession()
    expect(() => session.receive(bytes(0x41, 0, 0, 0, 2))).not.toThrow()
    expect(session.failure).toBeInstanceOf(ProtocolViolationError)
    expect(aborted).toHaveLength(1)
  })
})

describe('client_encoding', () => {
  test('a server that switches client_encoding away from UTF8 is refused', async () => {
    const { session, serve, aborted } = scriptedSession()
    const result = session.run(simpleQuery("SET client_encoding = 'LATIN1'"))
    await settle()
    serve(backend.parameterStatus('client_encoding', 'LATIN1'), backend.commandComplete('SET'), backend.readyForQuery())
    await expect(result).rejects.toThrow(/switched client_encoding to LATIN1/)
    expect(session.failure).toBeInstanceOf(ProtocolViolationError)
    expect(aborted).toHaveLength(1)
  })

  test('UTF8 (in any case) is accepted', () => {
    const { session, serve } = scriptedSession()
    serve(backend.parameterStatus('client_encoding', 'utf8'))
    expect(session.failure).toBeUndefined()
  })
})
