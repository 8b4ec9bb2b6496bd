/**
 * What feeds and outboxes share of a listener (src/listener/feed-support.ts) is made by the first
 * of them to ask, not by the listener (which then carries none of it: issue 13's size budget), and
 * kept: every feed's removal is one close() waits for. No server: removals are registered straight
 * on the support, and the listener is never started.
 */
import { describe, expect, test } from 'vitest'
import { Listener } from '../../../src/index.ts'
import { supportOf } from '../../../src/listener/feed-support.ts'

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

  test('a listener no feed asked of closes without one', async () => {
    await expect(new Listener().close()).resolves.toBeUndefined()
  })
})
