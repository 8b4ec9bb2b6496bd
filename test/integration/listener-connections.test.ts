/**
 * The connections a listener opens besides its listening one, against the real server: a
 * feed's install gets one of its own and closes it, giving up closes the notifier's too, a
 * query's signal has no say once the query has answered, and an outbox on a real listener wakes
 * on NOTIFY, keeps its channel to itself and reports a failed read. Each was found unguarded by
 * mutation testing (test/mutation/survivors.md, the listener split).
 */
import { describe, expect, test } from 'vitest'
import { changes } from '../../src/changes.ts'
import { outbox } from '../../src/outbox.ts'
import type { Connection } from '../../src/protocol/io/connection.ts'
import { connectSuperuser, eventually } from '../support/connect.ts'
import { within } from '../support/listener-world.ts'
import { collect, listener, uniqueChannel } from '../support/listener.ts'

/** The backends of `applicationName` (a name this file made: letters, digits and '-'), with what each waits for. */
async function backends(admin: Connection, applicationName: string): Promise<Array<{ pid: number; waitsFor: string | null }>> {
  const [result] = await admin.query(`SELECT pid, wait_event_type FROM pg_stat_activity WHERE application_name = '${applicationName}' ORDER BY pid`)
  return result!.rows.map((row) => ({ pid: Number(row[0]), waitsFor: row[1] ?? null }))
}

const appName = () => `pglisten-test-${Math.random().toString(36).slice(2, 10)}`

describe("a feed's install", () => {
  test('runs on a connection of its own, closed once the feed is set up', async () => {
    const applicationName = appName()
    const l = await listener({ applicationName })
    const table = `conn_${Math.random().toString(36).slice(2, 10)}`
    const admin = await connectSuperuser()
    const locker = await connectSuperuser()
    try {
      await admin.query(`CREATE TABLE ${table} (id int PRIMARY KEY)`)
      // The table locked: the install (CREATE TRIGGER) waits, so its connection can be seen.
      await locker.query(`BEGIN; LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`)
      const feed = changes(l, `public.${table}`, { removeOnClose: true })
      await eventually(async () => (await backends(admin, applicationName)).some((b) => b.pid !== l.processId && b.waitsFor === 'Lock'), 10_000)
      await locker.query('COMMIT')
      await within(feed.ready, 10_000, 'the feed being set up')
      // Only the listening connection is left: the install's is closed (not kept, not leaked).
      await eventually(async () => {
        const left = await backends(admin, applicationName)
        return left.length === 1 && left[0]!.pid === l.processId
      }, 10_000)
      await feed.return?.()
    } finally {
      await locker.close()
      await admin.query(`DROP TABLE IF EXISTS ${table} CASCADE`)
      await admin.close()
    }
  })
})

describe('giving up', () => {
  test("closes the notifier's connection too, as close() would", async () => {
    const applicationName = appName()
    const l = await listener({ applicationName, reconnect: false })
    l.on('error', () => undefined)
    await l.notify(uniqueChannel())
    const notifier = await l.notifierProcessId
    expect(notifier).toBeTypeOf('number')
    const admin = await connectSuperuser()
    try {
      await admin.query(`SELECT pg_terminate_backend(${l.processId})`)
      await eventually(() => l.stats.state === 'closed', 10_000)
      await eventually(async () => !(await backends(admin, applicationName)).some((b) => b.pid === notifier), 10_000)
    } finally {
      await admin.close()
    }
  })
})

describe("a query's signal", () => {
  test('aborted after the query answered, it leaves the notifier connection alone', async () => {
    const l = await listener()
    const controller = new AbortController()
    const [result] = await l.query('SELECT 1', { signal: controller.signal })
    expect(result!.rows).toEqual([['1']])
    const before = await l.notifierProcessId
    controller.abort()
    const [after] = await l.query('SELECT pg_backend_pid()')
    expect(Number(after!.rows[0]![0])).toBe(before)
    expect(await l.notifierProcessId).toBe(before)
  })
})

describe('an outbox on a real listener', () => {
  test('wakes on NOTIFY, keeps its channel from other consumers, and reports a failed read', async () => {
    const l = await listener()
    const channel = uniqueChannel('outbox')
    const errors: Error[] = []
    l.on('error', (error) => errors.push(error))
    const everything = collect(l.notifications())
    let rows = [1]
    let failing = true
    const reads: Array<number | undefined> = []
    const events = outbox<number, number>(l, {
      channel,
      read: async (after) => {
        reads.push(after)
        if (failing) {
          failing = false
          throw new Error('the table is locked')
        }
        return rows.filter((id) => after === undefined || id > after)
      },
      cursor: (id) => id,
      retry: { minDelay: 10, maxDelay: 10 },
    })
    const first = await events.next()
    expect(first).toEqual({ value: 1, done: false })
    // The failed first read went to the listener's 'error' handlers, as it is.
    expect(errors.map((e) => e.message)).toContain('the table is locked')
    // Reads: the failed one, its retry, and one after 1 that finds nothing new. Then only a
    // wake-up makes it read again.
    const second = events.next()
    await eventually(() => reads.length === 3, 10_000)
    rows = [1, 2]
    await new Promise((r) => setTimeout(r, 100))
    expect(reads).toHaveLength(3)
    await l.notify(channel, 'look')
    expect(await within(second, 10_000, 'the wake-up')).toEqual({ value: 2, done: false })
    expect(reads.slice(3)).toEqual([1])
    await events.return?.()
    // Ended, it UNLISTENs its channel: the LISTEN below is answered after that UNLISTEN, so from
    // then on a NOTIFY on it reaches nobody, not even the listener's count.
    const other = uniqueChannel()
    await l.listen(other)
    const counted = l.stats.notifications
    await l.notify(channel, 'too late')
    await l.notify(other, 'after')
    await eventually(() => everything.items.length >= 1, 10_000)
    expect(l.stats.notifications - counted).toBe(1)
    // Its wake-up was for the outbox alone: not among what other iterators saw.
    expect(everything.items.map((item) => (item.type === 'Gap' ? 'Gap' : item.channel))).toEqual([other])
    await l.close()
    await everything.done
  })
})
