/**
 * The outbox reader (src/listener/outbox.ts) held to its README promise ("Nothing missed: the
 * outbox") where its own logic decides: an iteration ended while its start waits on a load() that
 * never answers, and a read whose order its compare() does not share. Each failed before its fix.
 */
import { describe, expect, test } from 'vitest'
import { Outbox, type OutboxSource } from '../../../src/listener/outbox.ts'
import { Subscription } from '../../../src/listener/subscription.ts'

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0))

/** A listener stand-in whose wake-ups end with the outbox, as the listener's do. */
function source(errors: Error[] = []): OutboxSource {
  const wakeUps = new Subscription({ gaps: true })
  return {
    async listen() {},
    release: () => undefined,
    wakeUps: (_, signal) => (signal.addEventListener('abort', () => wakeUps.end()), wakeUps),
    reportError: (error) => void errors.push(error),
  }
}

describe('ended while its start waits on load()', () => {
  // options.signal: "Ends the iteration when aborted"; a load() on a connection that went
  // silent must not hold the next() that started it.
  test('an aborted signal ends the pending next() (done), though load() never answers', async () => {
    const stop = new AbortController()
    const outbox = new Outbox<number, number>(source(), {
      channel: 'outbox',
      read: async () => [1],
      cursor: (id) => id,
      load: () => new Promise(() => {}),
      signal: stop.signal,
    })
    const next = outbox.next()
    await tick()
    stop.abort()
    expect(await next).toEqual({ done: true, value: undefined })
  })

  test('return() ends the pending next() (done), though load() never answers', async () => {
    const outbox = new Outbox<number, number>(source(), {
      channel: 'outbox',
      read: async () => [1],
      cursor: (id) => id,
      load: () => new Promise(() => {}),
    })
    const next = outbox.next()
    await tick()
    await outbox.return()
    expect(await next).toEqual({ done: true, value: undefined })
  })
})

describe('a read in an order its compare() does not share', () => {
  // A numeric id read as text: the database orders '9.5' before '10.5', the default compare
  // (strings other than digits by code unit) the other way round. Skipping '10.5' as "not after
  // the last" would lose it, and every event after it, without a word: before the fix the
  // first next() yielded '9.5', and the next one waited for ever.
  test('ends the iteration with a TypeError naming both cursors, never skipping in silence', async () => {
    const table = ['9.5', '10.5', '11.5']
    const outbox = new Outbox<string, string>(source(), {
      channel: 'outbox',
      read: async (after) => table.filter((id) => after === undefined || Number(id) > Number(after)),
      cursor: (id) => id,
    })
    const error = await outbox.next().then(() => undefined, (e: unknown) => e)
    expect(error).toBeInstanceOf(TypeError)
    expect((error as Error).message).toContain('cursor 10.5 after 9.5')
    await expect(outbox.next()).resolves.toEqual({ done: true, value: undefined })
  })

  test('equal cursors in one read are one event: the second is skipped, as documented', async () => {
    const outbox = new Outbox<{ id: number; n: number }, number>(source(), {
      channel: 'outbox',
      read: async (after) => (after === undefined ? [{ id: 1, n: 1 }, { id: 1, n: 2 }, { id: 2, n: 3 }] : []),
      cursor: (e) => e.id,
    })
    expect((await outbox.next()).value).toEqual({ id: 1, n: 1 })
    expect((await outbox.next()).value).toEqual({ id: 2, n: 3 })
  })
})

describe('a read that overlaps what was yielded, out of order', () => {
  test('what it gives before the last yielded is skipped, as documented: nothing is lost, so nothing is thrown', async () => {
    let reads = 0
    const outbox = new Outbox<number, number>(source(), {
      channel: 'outbox',
      read: async () => (++reads === 1 ? [1, 2] : reads === 2 ? [3, 2, 1] : []),
      cursor: (id) => id,
    })
    const ids: number[] = []
    for (let i = 0; i < 3; i++) ids.push((await outbox.next()).value as number)
    expect(ids).toEqual([1, 2, 3])
    expect(reads).toBe(2)
  })
})
