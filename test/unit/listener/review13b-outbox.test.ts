/**
 * The outbox's check on a read's order (97c6ff0) held to what it promises: a read that gives
 * an event after a greater one ends the iteration only when skipping it would lose it. One the
 * same read already gave (a page that repeats rows: a read that concatenates overlapping pages)
 * is a duplicate, skipped in silence, as duplicates always were.
 */
import { describe, expect, test } from 'vitest'
import { Outbox, type OutboxSource } from '../../../src/listener/outbox.ts'
import { Subscription } from '../../../src/listener/subscription.ts'

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

describe('a read that repeats, later in the same result, what it already gave', () => {
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
