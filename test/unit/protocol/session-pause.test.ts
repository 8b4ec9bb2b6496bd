/**
 * Session.pause() stops routing at a message boundary, even in the middle of a chunk, and
 * resume() routes what waited: scripted server bytes, no socket.
 */
import { fc, test as property } from '@fast-check/vitest'
import { describe, expect, test } from 'vitest'
import type { BackendMessage } from '../../../src/protocol/backend/messages.ts'
import { ConnectionLostError } from '../../../src/protocol/errors.ts'
import { simpleQuery } from '../../../src/protocol/exchange/query.ts'
import { decodeLatin1Fast, decodeUtf8Fast } from '../../../src/protocol/io/node-bytes.ts'
import { ShortStrings } from '../../../src/protocol/bytes/short-strings.ts'
import type { Session, SessionOptions } from '../../../src/protocol/session.ts'
import { scriptedSession, settle } from '../../support/scripted.ts'
import { backend, concat } from '../../support/wire.ts'

/** `count` NotificationResponses on channel "jobs", payloads "1" to "count", in one array. */
function notifications(count: number): Uint8Array {
  return concat(...Array.from({ length: count }, (_, i) => backend.notificationResponse(7, 'jobs', String(i + 1))))
}

const numbers = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i))

/** A session whose onNotification records payloads and then runs `then(payload, session)`. */
function listening(then: (payload: string, session: Session) => void = () => {}, options: SessionOptions = {}) {
  const heard: string[] = []
  const scripted = scriptedSession({
    ...options,
    onNotification: (n) => {
      heard.push(n.payload)
      then(n.payload, scripted.session)
    },
  })
  return { ...scripted, heard }
}

describe('pausing a session', () => {
  test('a pause inside the 5th of 100 notifications in one chunk stops routing after the 5th; resume() routes the rest in order', () => {
    const { session, serve, heard } = listening((payload, s) => {
      if (payload === '5') s.pause()
    })
    serve(notifications(100))
    expect(heard).toEqual(numbers(1, 5))
    expect(session.paused).toBe(true)
    session.resume()
    expect(heard).toEqual(numbers(1, 100))
    expect(session.paused).toBe(false)
  })

  test('a handler may pause again during resume(): routing stops there, and the next resume() goes on', () => {
    const { session, serve, heard } = listening((payload, s) => {
      if (payload === '5' || payload === '20') s.pause()
    })
    serve(notifications(100))
    session.resume()
    expect(heard).toEqual(numbers(1, 20))
    expect(session.paused).toBe(true)
    session.resume()
    expect(heard).toEqual(numbers(1, 100))
  })

  test('the rest of a paused chunk is copied: the caller may overwrite the chunk once receive() returns', () => {
    // Short ASCII payloads from a read buffer the edge refills, as io/node-link.ts does,
    // with Node's decoders so that ShortStrings cuts payloads from a decoded window.
    const { session, heard } = listening((payload, s) => {
      if (payload === '5') s.pause()
    }, { decodeText: decodeUtf8Fast, shortStrings: () => new ShortStrings(decodeLatin1Fast!) })
    const chunk = notifications(100)
    session.receive(chunk)
    chunk.fill(0xee)
    session.resume()
    expect(heard).toEqual(numbers(1, 100))
  })

  test('bytes received while paused wait in the framer, unrouted, and are routed in order on resume()', () => {
    const { session, serve, heard } = listening()
    session.pause()
    serve(notifications(3))
    const more = notifications(6).subarray(notifications(3).length)
    serve(more.subarray(0, 7)) // half a message
    serve(more.subarray(7))
    expect(heard).toEqual([])
    session.resume()
    expect(heard).toEqual(numbers(1, 6))
  })

  test('notices and parameter changes wait too', () => {
    const seen: string[] = []
    const { session, serve } = scriptedSession({
      onNotification: (n) => {
        seen.push(`notification ${n.payload}`)
        session.pause()
      },
      onNotice: (n) => seen.push(`notice ${n.fields.message}`),
      onParameterStatus: (p) => seen.push(`parameter ${p.name}=${p.value}`),
    })
    serve(backend.notificationResponse(1, 'c', 'x'), backend.noticeResponse({ S: 'NOTICE', M: 'hi' }), backend.parameterStatus('TimeZone', 'UTC'))
    expect(seen).toEqual(['notification x'])
    expect(session.parameters.has('TimeZone')).toBe(false)
    session.resume()
    expect(seen).toEqual(['notification x', 'notice hi', 'parameter TimeZone=UTC'])
    expect(session.parameters.get('TimeZone')).toBe('UTC')
  })

  test('the running exchange gets no message while paused; its promise settles after resume()', async () => {
    const { session, serve } = listening((_, s) => s.pause())
    let settled = false
    const result = session.run(simpleQuery('SELECT 1')).then((outcome) => {
      settled = true
      return outcome
    })
    await settle()
    serve(backend.notificationResponse(1, 'c', 'x'), backend.rowDescription('a'), backend.dataRow('1'), backend.commandComplete('SELECT 1'), backend.readyForQuery())
    await settle()
    expect(settled).toBe(false)
    session.resume()
    expect((await result).results[0]!.rows).toEqual([['1']])
  })

  test('pause() and resume() inside every one of 20,000 handlers route each message once, in order, without growing the stack', () => {
    const { session, serve, heard } = listening((_, s) => {
      s.pause()
      s.resume()
    })
    serve(notifications(20_000))
    expect(heard).toEqual(numbers(1, 20_000))
    expect(session.paused).toBe(false)
  })

  test('paused by every handler, resumed from outside 20,000 times: each message once, in order', () => {
    const { session, serve, heard } = listening((_, s) => s.pause())
    serve(notifications(20_000))
    while (session.paused) session.resume()
    expect(heard).toEqual(numbers(1, 20_000))
  })

  test('a session that fails while paused drops what was buffered: nothing is routed after the failure', () => {
    const { session, serve, heard } = listening((payload, s) => {
      if (payload === '2') s.pause()
    })
    serve(notifications(10))
    session.fail(new ConnectionLostError('the server closed the connection'))
    serve(notifications(3))
    session.resume()
    expect(heard).toEqual(['1', '2'])
    expect(session.paused).toBe(false)
  })

  test('resume() without a pause does nothing; a protocol error found on resume() fails the session and does not throw', () => {
    const { session, serve, heard, aborted } = listening()
    session.resume()
    session.pause()
    serve(backend.notificationResponse(1, 'c', 'ok'), Uint8Array.of(0x41, 0, 0, 0, 2)) // a length under 4
    expect(() => session.resume()).not.toThrow()
    expect(heard).toEqual(['ok'])
    expect(aborted).toHaveLength(1)
  })
})

/** What a handler does on the message it is handed. */
type Action = 'nothing' | 'pause' | 'pause and resume'

/** Messages that reach a handler while no exchange runs; short ASCII payloads exercise ShortStrings. */
const asyncMessage: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.nat(), fc.constantFrom('jobs', 'é'), fc.string({ unit: fc.constantFrom('a', '7', ' ', 'é'), maxLength: 14 }))
    .map(([pid, channel, payload]) => backend.notificationResponse(pid, channel, payload)) },
  fc.string({ maxLength: 20 }).filter((m) => !m.includes('\0')).map((m) => backend.noticeResponse({ S: 'NOTICE', M: m })),
  fc.tuple(fc.constantFrom('TimeZone', 'application_name'), fc.string({ unit: fc.constantFrom('a', 'b', '/'), maxLength: 10 }))
    .map(([name, value]) => backend.parameterStatus(name, value)),
)

/** Every message a session routes to its handlers, in order, as comparable values. */
function routedBy(options: SessionOptions, record: (m: BackendMessage) => void): SessionOptions {
  return { ...options, onNotification: record, onNotice: record, onParameterStatus: record }
}

describe('pause laws', () => {
  property.prop([
    fc.array(asyncMessage, { minLength: 1, maxLength: 40 }),
    fc.array(fc.nat(), { maxLength: 20 }),
    fc.array(fc.constantFrom<Action>('nothing', 'nothing', 'pause', 'pause and resume'), { maxLength: 40 }),
    fc.array(fc.boolean(), { maxLength: 20 }),
  ])(
    'pausing and resuming at arbitrary points, with arbitrary chunking and a reused, overwritten chunk buffer, routes exactly the same message sequence',
    (messages, cuts, actions, resumeAfterChunk) => {
      const wire = concat(...messages)
      const nodeDecoders = { decodeText: decodeUtf8Fast, shortStrings: () => new ShortStrings(decodeLatin1Fast!) }

      const expected: BackendMessage[] = []
      scriptedSession(routedBy(nodeDecoders, (m) => expected.push(m))).session.receive(wire.slice())

      const routed: BackendMessage[] = []
      const { session, aborted } = scriptedSession(routedBy(nodeDecoders, (m) => {
        const action = actions[routed.length] ?? 'nothing'
        routed.push(m)
        if (action !== 'nothing') session.pause()
        if (action === 'pause and resume') session.resume()
      }))
      // One read buffer, refilled for every chunk and scribbled over once receive() returns.
      const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b)
      const buffer = new Uint8Array(wire.length)
      let from = 0
      ;[...points, wire.length].forEach((to, i) => {
        const chunk = buffer.subarray(0, to - from)
        chunk.set(wire.subarray(from, to))
        session.receive(chunk)
        buffer.fill(0xee)
        if (resumeAfterChunk[i]) session.resume()
        from = to
      })
      while (session.paused) session.resume()

      expect(aborted).toEqual([])
      expect(routed).toEqual(expected)
      expect(routed).toHaveLength(messages.length)
    },
  )
})
