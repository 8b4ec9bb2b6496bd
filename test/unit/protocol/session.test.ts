/**
 * The session's own rules, with scripted server bytes and no socket: which error a lost
 * connection reports (a FATAL ErrorResponse the server sent before hanging up is its cause),
 * and when an exchange that fails leaves the stream out of step, so that the session must end.
 */
import { describe, expect, test } from 'vitest'
import { ConnectionLostError, DatabaseError, ProtocolViolationError } from '../../../src/protocol/errors.ts'
import { simpleQuery } from '../../../src/protocol/exchange/query.ts'
import { receive, send, type Step } from '../../../src/protocol/exchange/steps.ts'
import type { BackendMessage } from '../../../src/protocol/backend/messages.ts'
import { scriptedSession, settle } from '../../support/scripted.ts'
import { backend } from '../../support/wire.ts'

/** PostgreSQL's goodbye when pg_terminate_backend() ends a backend (SQLSTATE 57P01). */
const terminated = { S: 'FATAL', V: 'FATAL', C: '57P01', M: 'terminating connection due to administrator command' }

describe('the reason a lost connection gives', () => {
  test('a FATAL ErrorResponse read while idle becomes the cause of the close that follows', () => {
    const { session, serve } = scriptedSession()
    serve(backend.errorResponse(terminated))
    expect(session.failure).toBeUndefined() // the server has not hung up yet
    session.fail(new ConnectionLostError('the server closed the connection'))
    const failure = session.failure as ConnectionLostError
    expect(failure).toBeInstanceOf(ConnectionLostError)
    expect(failure.message).toBe('the server closed the connection: terminating connection due to administrator command')
    expect(failure.cause).toBeInstanceOf(DatabaseError)
    expect((failure.cause as DatabaseError).code).toBe('57P01')
  })

  test('any ErrorResponse read while idle is taken as a goodbye, not a protocol violation: nothing else explains it', () => {
    const { session, serve } = scriptedSession()
    serve(backend.errorResponse({ S: 'ERROR', V: 'ERROR', C: '25P03', M: 'terminating connection due to idle-in-transaction timeout' }))
    expect(session.failure).toBeUndefined()
    session.fail(new ConnectionLostError('the server closed the connection'))
    expect((session.failure!.cause as DatabaseError).code).toBe('25P03')
  })

  test.each([
    ['FATAL', { S: 'FATAL', V: 'FATAL' }],
    ['PANIC', { S: 'PANIC', V: 'PANIC' }],
    ['FATAL, localized in S, the untranslated severity in V', { S: 'SCHWERWIEGEND', V: 'FATAL' }],
    ['FATAL from a server before 9.6, which sends only S', { S: 'FATAL' }],
  ])('a %s ErrorResponse in the middle of a query is the cause too', async (_, severity) => {
    const { session, serve } = scriptedSession()
    const query = session.run(simpleQuery('SELECT 1'))
    await settle()
    serve(backend.errorResponse({ ...severity, C: '57P01', M: 'terminating connection due to administrator command' }))
    session.fail(new ConnectionLostError('the server closed the connection'))
    const error = await query.catch((e) => e)
    expect(error).toBeInstanceOf(ConnectionLostError)
    expect(error.cause).toBeInstanceOf(DatabaseError)
    expect(error.cause.code).toBe('57P01')
  })

  test('an ERROR in the middle of a query is the query\'s answer, not the reason for a later close', async () => {
    const { session, serve } = scriptedSession()
    const query = session.run(simpleQuery('SELECT 1/0'))
    await settle()
    serve(backend.errorResponse({ S: 'FEHLER', V: 'ERROR', C: '22012', M: 'division by zero' }))
    session.fail(new ConnectionLostError('the server closed the connection'))
    const error = await query.catch((e) => e)
    expect(error).toBeInstanceOf(ConnectionLostError)
    expect(error.message).toBe('the server closed the connection')
    expect(error.cause).toBeUndefined()
  })

  test('an error that is not a lost connection, or that has a cause of its own, is kept as it is', () => {
    for (const error of [new ProtocolViolationError('unexpected DataRow'), new ConnectionLostError('the connection was lost: read ECONNRESET', { cause: new Error('read ECONNRESET') })]) {
      const { session, serve } = scriptedSession()
      serve(backend.errorResponse(terminated))
      session.fail(error)
      expect(session.failure).toBe(error)
    }
  })
})

describe('an exchange that fails', () => {
  /** An exchange that throws before it has sent anything. */
  function* refusesAtOnce(): Generator<Step, void, BackendMessage | undefined> {
    throw new TypeError('the SQL holds a NUL byte')
  }

  /** An exchange that sends a message, then throws before it has read the answer. */
  function* failsAfterSending(): Generator<Step, void, BackendMessage | undefined> {
    yield send(Uint8Array.of(0x51, 0, 0, 0, 5, 0)) // Query, empty
    throw new TypeError('gave up waiting')
  }

  test('before sending anything: the stream is still in step, so the session goes on', async () => {
    const { session, serve, sent, aborted } = scriptedSession()
    await expect(session.run(refusesAtOnce())).rejects.toThrow('the SQL holds a NUL byte')
    expect(session.failure).toBeUndefined()
    expect(aborted).toEqual([])
    const next = session.run(simpleQuery('SELECT 1'))
    await settle()
    serve(backend.rowDescription('?column?'), backend.dataRow('1'), backend.commandComplete('SELECT 1'), backend.readyForQuery())
    expect((await next).results[0]!.rows).toEqual([['1']])
    expect(sent).toHaveLength(1)
  })

  test('after sending, before ReadyForQuery: the answer would be read by the next exchange, so the session ends', async () => {
    const { session, aborted } = scriptedSession()
    const error = await session.run(failsAfterSending()).catch((e) => e)
    expect(error.message).toBe('gave up waiting')
    expect(session.failure).toBe(error)
    expect(aborted).toEqual([error])
    await expect(session.run(simpleQuery('SELECT 1'))).rejects.toBe(error)
  })
})

test('a session is not paused until pause() is called', () => {
  const { session } = scriptedSession()
  expect(session.paused).toBe(false)
  session.pause()
  expect(session.paused).toBe(true)
})

describe('an async exchange when the session fails', () => {
  // fail() gives up a step still running (abort.test.ts: a password function that never
  // settles); an exchange waiting on the stream instead is ended as before: its finally has run
  // by the time run() rejects.
  test('one waiting for a message: its finally has run when run() rejects', async () => {
    const { session } = scriptedSession()
    let cleanedUp = false
    async function* waitsForAnswer(): AsyncGenerator<Step, void, BackendMessage | undefined> {
      try {
        yield send(Uint8Array.of(0x51, 0, 0, 0, 5, 0)) // Query, empty
        yield receive
      } finally {
        await new Promise((resolve) => setTimeout(resolve, 5)) // a cleanup that takes a while
        cleanedUp = true
      }
    }
    const running = session.run(waitsForAnswer())
    await settle()
    session.fail(new ConnectionLostError('the server closed the connection'))
    await expect(running).rejects.toBeInstanceOf(ConnectionLostError)
    expect(cleanedUp).toBe(true)
  })
})
