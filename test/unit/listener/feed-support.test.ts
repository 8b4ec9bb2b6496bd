/**
 * What feeds and outboxes share of a listener (src/listener/feed-support.ts) is made by the first
 * of them to ask, not by the listener (which then carries none of it: issue 13's size budget), and
 * kept: every feed's removal is one close() waits for, and close() stops an install under way.
 * No PostgreSQL: removals are registered straight on the support, the listener is never started,
 * and the install's connection goes to a scripted server that never answers.
 */
import { describe, expect, test } from 'vitest'
import { Listener } from '../../../src/index.ts'
import { supportOf } from '../../../src/listener/feed-support.ts'
import { ConnectionLostError } from '../../../src/protocol/errors.ts'
import { fakeServersClosedAfterEach, type FakeClient } from '../../support/fake-server.ts'

const serve = fakeServersClosedAfterEach()

/** The messages of an error and of its causes, outermost first. */
function causes(error: unknown): string[] {
  const messages: string[] = []
  for (let e = error; e instanceof Error; e = e.cause) messages.push(e.message)
  return messages
}

describe('a listener keeps the support its feeds bring', () => {
  test('one support per listener, whoever asks first; another listener has its own', () => {
    const listener = new Listener()
    const first = supportOf(listener, 'changes()')
    expect(supportOf(listener, 'outbox()')).toBe(first)
    expect(supportOf(new Listener(), 'changes()')).not.toBe(first)
  })

  test("close() runs the removals of every feed, whichever asked first, and waits for them", async () => {
    const listener = new Listener()
    const ran: string[] = []
    let finish!: () => void
    const slow = new Promise<void>((resolve) => (finish = resolve))
    expect(supportOf(listener, 'changes()').feedSource().onClose(async () => void ran.push('first'))).toBeTypeOf('function')
    expect(supportOf(listener, 'ddlChanges()').feedSource().onClose(async () => { ran.push('second'); await slow })).toBeTypeOf('function')
    let closed = false
    const closing = listener.close().then(() => (closed = true))
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(ran).toEqual(['first', 'second'])
    expect(closed).toBe(false) // the second removal still runs
    finish()
    await closing
    expect(closed).toBe(true)
  })

  test('a feed that asks once close() has begun is refused a removal and an install', async () => {
    const listener = new Listener()
    const closing = listener.close()
    const source = supportOf(listener, 'changes()').feedSource()
    expect(source.onClose(async () => undefined)).toBe(false)
    await expect(source.install(async () => undefined)).rejects.toThrow('the listener is closed')
    await closing
  })

  test('close() stops an install under way: its connection is cut and the install rejects', async () => {
    const server = await serve(async (client: FakeClient) => void (await client.closed)) // accepts, never answers
    const listener = new Listener({ host: '127.0.0.1', port: server.port, user: 'ann', password: 'pw', sslmode: 'disable', env: {}, passfile: '/nonexistent' })
    let worked = false
    const install = supportOf(listener, 'changes()').feedSource().install(async () => void (worked = true))
    await expect.poll(() => server.clients.length).toBe(1)
    await listener.close()
    // Stopped by close(), not by the attempt's own time limit (10 s), which would end it too.
    const error = await install.then(() => undefined, (e: unknown) => e)
    expect(error).toBeInstanceOf(ConnectionLostError)
    expect(causes(error)).toContain('the listener is closed')
    await server.clients[0]!.closed // the install's socket is gone
    expect(worked).toBe(false)
  })

  test('a listener no feed asked of closes without one', async () => {
    await expect(new Listener().close()).resolves.toBeUndefined()
  })
})
