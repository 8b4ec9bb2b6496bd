/**
 * A lone Sync (src/protocol/exchange/sync.ts), the heartbeat's round trip, against scripted
 * server messages; and how the tracer shows it.
 */
import { describe, expect, test } from 'vitest'
import { DatabaseError, ProtocolViolationError } from '../../../src/protocol/errors.ts'
import { syncRoundTrip } from '../../../src/protocol/exchange/sync.ts'
import { simpleQuery } from '../../../src/protocol/exchange/query.ts'
import { decodeFrontendMessages } from '../../../src/protocol/trace/frontend.ts'
import { scriptedSession, settle } from '../../support/scripted.ts'
import { backend, bytes } from '../../support/wire.ts'

const sync = bytes(
  0x53,                   // Byte1('S')  Sync
  0x00, 0x00, 0x00, 0x04, // Int32(4)    length, including itself; no body
)

describe('a lone Sync', () => {
  test('sends Sync and resolves with the status of the ReadyForQuery that answers it', async () => {
    const { session, sent, serve } = scriptedSession()
    const done = session.run(syncRoundTrip())
    await settle()
    expect(sent).toEqual([sync])
    serve(backend.readyForQuery('I'))
    await expect(done).resolves.toBe('I')
  })

  test('notifications ahead of its answer are handed on; the session goes on with the next query', async () => {
    const heard: string[] = []
    const { session, serve } = scriptedSession({ onNotification: (n) => void heard.push(n.payload) })
    const done = session.run(syncRoundTrip())
    const after = session.run(simpleQuery('LISTEN x'))
    await settle()
    serve(backend.notificationResponse(7, 'c', 'first'), backend.readyForQuery('I'))
    await expect(done).resolves.toBe('I')
    await settle()
    serve(backend.commandComplete('LISTEN'), backend.readyForQuery('I'))
    await expect(after).resolves.toMatchObject({ results: [{ command: 'LISTEN' }] })
    expect(heard).toEqual(['first'])
  })

  test('an ErrorResponse before the ReadyForQuery rejects with it, once in step again', async () => {
    const { session, serve } = scriptedSession()
    const done = session.run(syncRoundTrip())
    await settle()
    serve(backend.errorResponse({ S: 'ERROR', V: 'ERROR', C: '57014', M: 'canceling statement' }), backend.readyForQuery('I'))
    await expect(done).rejects.toBeInstanceOf(DatabaseError)
  })

  test('anything else in answer to it is a protocol violation', async () => {
    const { session, serve } = scriptedSession()
    const done = session.run(syncRoundTrip())
    await settle()
    serve(backend.commandComplete('SELECT 1'))
    await expect(done).rejects.toBeInstanceOf(ProtocolViolationError)
  })

  test('the tracer names it', () => {
    expect(decodeFrontendMessages(sync)).toEqual([{ type: 'Sync', length: 4 }])
  })
})
