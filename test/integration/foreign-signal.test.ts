/**
 * A signal from another realm (a vm context's polyfill: test/support/foreign-signal.ts) against
 * the real server: connect(), a listener's query() waiting for its connection, and
 * notifications() take it, and answer its abort, before and during, exactly as a native
 * signal's: the same error, caused by its reason, and no listener left on it. It is no
 * instanceof AbortSignal, which pglisten once required.
 */
import { getEventListeners } from 'node:events'
import { describe, expect, test } from 'vitest'
import { ConnectionLostError } from '../../src/protocol/errors.ts'
import type { Tracer } from '../../src/protocol/session.ts'
import { connectSuperuser } from '../support/connect.ts'
import { foreignAbortController, type ForeignAbortController } from '../support/foreign-signal.ts'
import { listener } from '../support/listener.ts'

/** A native controller, with the foreign one's listenerCount(). */
function nativeAbortController(): ForeignAbortController {
  const controller = new AbortController()
  return { signal: controller.signal, abort: (reason) => controller.abort(reason), listenerCount: () => getEventListeners(controller.signal, 'abort').length }
}

const realms = [
  ['a native signal', nativeAbortController],
  ['a signal from another realm', foreignAbortController],
] as const

/**
 * A tracer of what the server sends that aborts `controller` at the first message it sees once
 * armed: an abort in the middle of an attempt, wherever the server's first answer finds it.
 */
function abortAtFirstAnswer(controller: ForeignAbortController, reason: Error): { trace: Partial<Tracer>; arm(): void } {
  let armed = false
  return {
    trace: {
      received: () => {
        if (!armed) return
        armed = false
        controller.abort(reason)
      },
    },
    arm: () => (armed = true),
  }
}

describe.each(realms)('%s', (_, make) => {
  test('connect(): one aborted before rejects with its reason', async () => {
    const controller = make()
    const reason = new Error('given up before')
    controller.abort(reason)
    const error = await connectSuperuser({ signal: controller.signal }).then(() => undefined, (e: unknown) => e)
    expect(error).toBeInstanceOf(ConnectionLostError)
    expect((error as Error).message).toBe('the connection attempt was aborted')
    expect((error as Error).cause).toBe(reason)
  })

  test('connect(): one aborted during startup rejects with its reason, and is left with no listener', async () => {
    const controller = make()
    const reason = new Error('given up during')
    const { trace, arm } = abortAtFirstAnswer(controller, reason)
    arm()
    const error = await connectSuperuser({ signal: controller.signal, trace }).then(() => undefined, (e: unknown) => e)
    expect(controller.signal.aborted).toBe(true) // the server did answer: the abort came mid-attempt
    expect(error).toBeInstanceOf(ConnectionLostError)
    expect((error as Error).message).toBe('the connection attempt was aborted')
    expect((error as Error).cause).toBe(reason)
    expect(controller.listenerCount()).toBe(0)
  })

  test('connect(): one never aborted is let go once connected', async () => {
    const controller = make()
    const connection = await connectSuperuser({ signal: controller.signal })
    try {
      expect(controller.listenerCount()).toBe(0)
      expect((await connection.query('SELECT 1'))[0]!.rows).toEqual([['1']])
    } finally {
      await connection.close()
    }
  })

  test("a listener's query(): aborted before, it rejects and opens nothing; aborted while the connection opens, it rejects and drops it", async () => {
    const controller = make()
    const { trace, arm } = abortAtFirstAnswer(controller, new Error('unused'))
    const l = await listener({ trace, heartbeat: false })
    expect(await l.notifierProcessId).toBeUndefined() // the premise: query() has a connection to wait for

    const before = make()
    const early = new Error('given up before the call')
    before.abort(early)
    const refused = await l.query('SELECT 1', { signal: before.signal }).then(() => undefined, (e: unknown) => e)
    expect(refused).toBeInstanceOf(ConnectionLostError)
    expect((refused as Error).message).toBe('the query was aborted before it was sent')
    expect((refused as Error).cause).toBe(early)
    expect(await l.notifierProcessId).toBeUndefined()

    arm() // the notifier's first answer from the server aborts `controller`
    const dropped = await l.query('SELECT 1', { signal: controller.signal }).then(() => undefined, (e: unknown) => e)
    expect(dropped).toBeInstanceOf(ConnectionLostError)
    expect((dropped as Error).message).toBe('the query was aborted while its connection was opening, which is dropped')
    expect((dropped as Error).cause).toBe(controller.signal.reason)
    expect(controller.listenerCount()).toBe(0)
    expect((await l.query('SELECT 2'))[0]!.rows).toEqual([['2']]) // the next call opens another
  })

  test('notifications(): one aborted while next() waits ends the iteration, and is left with no listener', async () => {
    const l = await listener({ heartbeat: false })
    const controller = make()
    const iterator = l.notifications({ signal: controller.signal })
    const next = iterator.next()
    controller.abort(new Error('done reading'))
    expect(await next).toEqual({ done: true, value: undefined })
    expect(controller.listenerCount()).toBe(0)
  })
})
