/**
 * A tcn feed after its table is renamed (src/listener/feed-parts.ts): a payload naming another
 * table is placed by looking up what the feed's table is called now; one it cannot place is
 * yielded as a PayloadError, never dropped. The look-up is a stand-in here; the real one is in
 * test/integration/changes-rename.test.ts.
 */
import { describe, expect, test, vi } from 'vitest'
import { PayloadError, type QualifiedTable } from '../../../src/listener/changes/index.ts'
import { tableFeed } from '../../../src/listener/feed-parts.ts'
import type { Notification } from '../../../src/listener/subscription.ts'

const notification = (table: string): Notification => ({ type: 'NotificationResponse', processId: 7, channel: 'tcn', payload: `"${table}",I,"id"='1'` })
const named = (table: string): QualifiedTable => ({ schema: 's', table, quoted: `"s"."${table}"` })

/** What the feed does with each payload in turn, the table being called `now()` at each look-up. */
async function verdicts(now: () => Promise<QualifiedTable | undefined>, ...tables: string[]) {
  const lookups: string[] = []
  const { decode, accept } = tableFeed({ schema: 's', table: 'orders' }, 'tcn', () => {
    lookups.push('lookup')
    return now()
  })
  const out: unknown[] = []
  for (const table of tables) {
    const n = notification(table)
    const kept = await accept(decode(n) as never, n)
    out.push(kept instanceof PayloadError ? kept.message : kept)
  }
  return { out, lookups: lookups.length }
}

describe('a tcn feed whose table is renamed', () => {
  test('a payload under the new name is kept, and from then on that is its name; the old name is then another table', async () => {
    const { out, lookups } = await verdicts(async () => named('orders_old'), 'orders', 'orders_old', 'orders_old', 'orders')
    expect(out).toEqual([true, true, true, false])
    expect(lookups).toBe(2) // the first payload under the new name, and the old name once it is another's
  })

  test("another table's payload, the feed's table still called as it was: dropped", async () => {
    expect((await verdicts(async () => named('orders'), 'other')).out).toEqual([false])
  })

  test('renamed again (or dropped) before the look-up: a name it may have had is a PayloadError, not dropped', async () => {
    const again = await verdicts(async () => named('orders_older'), 'orders_old', 'orders_older')
    expect(again.out).toEqual([expect.stringContaining(`names table "orders_old", which this feed's table (now "orders_older") may have been called then`), true])
    const dropped = await verdicts(async () => undefined, 'orders_old')
    expect(dropped.out).toEqual([expect.stringContaining('(now dropped)')])
  })

  test("another table's name is trusted for a second: a busy table on a shared channel costs a look-up a second, not one a change", async () => {
    vi.useFakeTimers({ now: 0 })
    try {
      const { out, lookups } = await verdicts(async () => named('orders'), 'other', 'other', 'other', 'orders')
      expect(out).toEqual([false, false, false, true])
      expect(lookups).toBe(1)
    } finally {
      vi.useRealTimers()
    }
  })

  test("the feed's table takes another table's name (a swap): after that second it is followed, and what may have been passed by is said", async () => {
    vi.useFakeTimers({ now: 0 })
    try {
      const names = ['orders', 'other', 'other']
      const lookups: string[] = []
      const { decode, accept } = tableFeed({ schema: 's', table: 'orders' }, 'tcn', async () => (lookups.push('lookup'), named(names.shift()!)))
      const verdict = async (table: string) => {
        const n = notification(table)
        const kept = await accept(decode(n) as never, n)
        return kept instanceof PayloadError ? kept.message : kept
      }
      expect(await verdict('other')).toBe(false) // another table's: looked up
      expect(await verdict('other')).toBe(false) // within the second: trusted, passed by (this table may have taken it)
      vi.setSystemTime(999)
      expect(await verdict('other')).toBe(false)
      expect(lookups).toHaveLength(1)
      vi.setSystemTime(1000)
      expect(await verdict('other')).toEqual(expect.stringContaining('names table "other"; this feed\'s table is now called "other", another table\'s name a moment before, and its changes under it until now may have been passed by'))
      expect(await verdict('other')).toBe(true) // followed from then on, with no look-up
      expect(await verdict('orders')).toBe(false) // its old name: now another table's
      expect(lookups).toHaveLength(3)
    } finally {
      vi.useRealTimers()
    }
  })

  test("a look-up for another name finds the feed's table under a name trusted as another's: that is said at once, and the name is followed", async () => {
    vi.useFakeTimers({ now: 0 })
    try {
      const names = ['orders', 'other', 'other']
      const { decode, accept } = tableFeed({ schema: 's', table: 'orders' }, 'tcn', async () => named(names.shift()!))
      const verdict = async (table: string) => {
        const n = notification(table)
        const kept = await accept(decode(n) as never, n)
        return kept instanceof PayloadError ? kept.message : kept
      }
      expect(await verdict('other')).toBe(false)
      // The swap: "other" is renamed away to "third", this table to "other"; a change to "third" is read first.
      expect(await verdict('third')).toEqual(expect.stringContaining('names table "third", which this feed\'s table (now "other") may have been called then; this feed\'s table is now called "other", another table\'s name a moment before, and its changes under it until now may have been passed by'))
      expect(await verdict('other')).toBe(true) // within the second, but no longer trusted as another's: looked up, and followed
      expect(names).toHaveLength(0)
    } finally {
      vi.useRealTimers()
    }
  })

  test('once the table is dropped, a name it may have had is told once, then dropped', async () => {
    const { out, lookups } = await verdicts(async () => undefined, 'orders_old', 'orders_old')
    expect(out).toEqual([expect.stringContaining('(now dropped)'), false])
    expect(lookups).toBe(1)
  })

  test('renamed again: each change under a name it may have had is a PayloadError, none dropped unseen', async () => {
    const { out, lookups } = await verdicts(async () => named('orders_older'), 'orders_old', 'orders_old')
    expect(out).toEqual([expect.stringContaining('may have been called then'), expect.stringContaining('may have been called then')])
    expect(lookups).toBe(2)
  })

  test('a look-up that fails: a PayloadError with its cause', async () => {
    const failure = new Error('connection lost')
    const { decode, accept } = tableFeed({ schema: 's', table: 'orders' }, 'tcn', () => Promise.reject(failure))
    const n = notification('orders_old')
    const kept = await accept(decode(n) as never, n)
    expect(kept).toBeInstanceOf(PayloadError)
    expect(kept).toMatchObject({ payload: n.payload, cause: failure })
  })
})

// Found by a focused Stryker run (2026-12-07): the bound on the names kept, the second counted
// from the look-up's own time, the words of each PayloadError, and a feed with no look-up.
describe('a tcn feed, what it keeps of other tables', () => {
  /** The feed's verdicts on `tables` in turn, each at the time `at` gives (fake time), the table still called "orders". */
  async function timed(tables: readonly string[], at: (i: number) => number = () => 0) {
    let lookups = 0
    const { decode, accept } = tableFeed({ schema: 's', table: 'orders' }, 'tcn', async () => (lookups++, named('orders')))
    const out: unknown[] = []
    vi.useFakeTimers()
    try {
      for (const [i, table] of tables.entries()) {
        vi.setSystemTime(at(i))
        const n = notification(table)
        out.push(await accept(decode(n) as never, n))
      }
    } finally {
      vi.useRealTimers()
    }
    return { out, lookups }
  }

  test('each name another table had is kept for its second, not only the last one', async () => {
    expect((await timed(['a', 'b', 'a', 'b'])).lookups).toBe(2)
  })

  test('the second is counted from the look-up: trusted 999 ms after it, looked up again at 1000 ms, whatever the clock reads', async () => {
    const times = [5_000, 5_999, 6_000]
    const { out, lookups } = await timed(['other', 'other', 'other'], (i) => times[i]!)
    expect(out).toEqual([false, false, false])
    expect(lookups).toBe(2)
  })

  test('at most 1024 names are kept: the 1025th look-up forgets them, so the first is looked up again', async () => {
    const names = Array.from({ length: 1025 }, (_, i) => `other ${i}`)
    expect((await timed([...names, 'other 0'])).lookups).toBe(1026)
    expect((await timed([...names.slice(0, 1024), 'other 0'])).lookups).toBe(1024) // 1024 kept: the first still is
  })

  test('without a look-up (a feed on a listener that cannot make one), another name is dropped, as before renames were followed', async () => {
    const { decode, accept } = tableFeed({ schema: 's', table: 'orders' }, 'tcn')
    const n = notification('other')
    expect(await accept(decode(n) as never, n)).toBe(false)
  })

  test('the words of each PayloadError, whole', async () => {
    const failed = tableFeed({ schema: 's', table: 'orders' }, 'tcn', () => Promise.reject(new Error('connection lost')))
    const lost = notification('orders_old')
    expect(((await failed.accept(failed.decode(lost) as never, lost)) as PayloadError).message).toContain(
      'names table "orders_old", not "orders", and finding what that table is called now failed',
    )
    const again = tableFeed({ schema: 's', table: 'orders' }, 'tcn', async () => named('orders_older'))
    const n = notification('orders_old')
    const message = ((await again.accept(again.decode(n) as never, n)) as PayloadError).message
    expect(message).toContain('names table "orders_old", which this feed\'s table (now "orders_older") may have been called then: ') // nothing between it and the payload
  })
})
