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

describe('a read that repeats, later in the same result, what it already gave', () => {
  // Found in review (d631c94): the check on a read's order above ends the iteration only when
  // skipping would lose an event. One the same read already gave (a read that concatenates
  // overlapping pages) is a duplicate, skipped in silence as duplicates always were; it was
  // thrown as a TypeError.
  test('the repeat is skipped as a duplicate, not thrown: nothing would be lost', async () => {
    // Two overlapping pages, joined: 2 and 3 come twice, the second time after 4.
    const outbox = new Outbox<number, number>(source(), {
      channel: 'outbox',
      read: async (after) => (after === undefined ? [1, 2, 3, 4, 2, 3] : []),
      cursor: (id) => id,
    })
    const ids: number[] = []
    for (let i = 0; i < 4; i++) ids.push((await outbox.next()).value as number)
    expect(ids).toEqual([1, 2, 3, 4])
    await outbox.return()
  })

  test('after a loaded cursor too; and one new event among the repeats still ends it with a TypeError', async () => {
    let reads = 0
    const outbox = new Outbox<number, number>(source(), {
      channel: 'outbox',
      read: async () => (++reads === 1 ? [6, 7, 6] : [8, 10, 9]),
      cursor: (id) => id,
      load: async () => 5,
    })
    expect((await outbox.next()).value).toBe(6)
    expect((await outbox.next()).value).toBe(7)
    await expect(outbox.next()).rejects.toThrow(new TypeError("the outbox read returned cursor 9 after 10, though compare() orders it before: read must return events in compare()'s order (give a compare() that matches the read's ORDER BY)"))
  })
})
