/**
 * The outbox (src/listener/outbox.ts) on a real server, where a read and a save fail: a Gap that
 * comes while a read is failing retries it without the backoff's wait, and a save that fails
 * after the listener's close() is thrown, not dropped. Both were found by a review of the outbox
 * against its README promise; each test failed before its fix.
 */
import { afterEach, describe, expect, test } from 'vitest'
import { outbox } from '../../src/outbox.ts'
import type { Connection } from '../../src/protocol/io/connection.ts'
import { connectSuperuser, eventually } from '../support/connect.ts'
import { within } from '../support/listener-world.ts'
import { listener, uniqueChannel } from '../support/listener.ts'

/** A backoff no test outlives: a retry that comes at all came because something cut the wait. */
const forever = { minDelay: 3_600_000, maxDelay: 3_600_000 }

const admins: Connection[] = []
afterEach(async () => {
  await Promise.all(admins.splice(0).map((a) => a.close()))
})

async function admin(): Promise<Connection> {
  const a = await connectSuperuser()
  admins.push(a)
  return a
}

/** A table of its own holding events 1..n. */
async function table(a: Connection, n: number): Promise<string> {
  const name = `outbox_faults_${Math.random().toString(36).slice(2, 10)}`
  await a.query(`CREATE TABLE ${name} (id int PRIMARY KEY); INSERT INTO ${name} SELECT generate_series(1, ${n})`)
  return name
}

describe('a read that fails', () => {
  test('while a Gap comes is tried again at once, not after the backoff (the Gap said the connection is back)', async () => {
    const a = await admin()
    const locker = await admin()
    const t = await table(a, 1)
    const l = await listener({ reconnect: { minDelay: 50, maxDelay: 1000 } })
    const errors: Error[] = []
    l.on('error', (error) => void errors.push(error))
    const reconnected = new Promise<void>((resolve) => l.on('reconnected', () => resolve()))
    let reads = 0
    const events = outbox<number, number>(l, {
      channel: uniqueChannel('outbox'),
      read: async (after, signal) => {
        reads++
        const [result] = await l.query(`SELECT id FROM ${t} WHERE id > ${after ?? 0} ORDER BY id`, { signal })
        return result!.rows.map(([id]) => Number(id))
      },
      cursor: (id) => id,
      retry: forever,
    })
    // The first read waits on a lock; meanwhile the listening connection is cut and comes back
    // (a Gap), and only then is the read cancelled: it fails after the Gap has come.
    await locker.query(`BEGIN; LOCK TABLE ${t} IN ACCESS EXCLUSIVE MODE`)
    const first = events.next()
    // The read runs on the notifier, opened by the first query: found by what it waits for.
    let notifier: number | undefined
    await eventually(async () => {
      const [waiting] = await a.query(`SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'SELECT id FROM ${t} %'`)
      notifier = waiting!.rows.length === 1 ? Number(waiting!.rows[0]![0]) : undefined
      return notifier !== undefined
    }, 10_000)
    expect(await l.notifierProcessId).toBe(notifier)
    await a.query(`SELECT pg_terminate_backend(${l.processId})`)
    await within(reconnected, 10_000, 'the reconnect')
    await a.query(`SELECT pg_cancel_backend(${notifier})`)
    await eventually(() => errors.length === 1, 10_000)
    expect(errors[0]!.message).toMatch(/canceling statement due to user request/)
    await locker.query('COMMIT')
    // Before: the retry waited the whole backoff (here an hour), as if the Gap had not come.
    expect(await within(first, 10_000, 'the retry after the Gap')).toEqual({ value: 1, done: false })
    expect(reads).toBe(2)
    await events.return?.()
  })
})

describe('a save that fails after close()', () => {
  test('is thrown by the next(), as it is before close(): the event was not saved and will come again', async () => {
    const a = await admin()
    const t = await table(a, 1)
    const l = await listener()
    const events = outbox<number, number>(l, {
      channel: uniqueChannel('outbox'),
      read: async (after, signal) => {
        const [result] = await l.query(`SELECT id FROM ${t} WHERE id > ${after ?? 0} ORDER BY id`, { signal })
        return result!.rows.map(([id]) => Number(id))
      },
      cursor: (id) => id,
      // The cursor kept where the events are: on the listener's own connection, which close() ends.
      save: async (id) => void (await l.query(`SELECT ${id}`)),
    })
    expect(await events.next()).toEqual({ value: 1, done: false })
    await l.close()
    // Before: { done: true }, and nobody heard that event 1 was never saved.
    await expect(events.next()).rejects.toThrow('the listener is closed')
    expect(await events.next()).toEqual({ value: undefined, done: true }) // thrown once, then over
  })
})

describe('close() during the outbox start', () => {
  test('a load() that fails because close() ended its query ends the iteration: done, not thrown', async () => {
    const a = await admin()
    const locker = await admin()
    const t = await table(a, 1)
    const l = await listener()
    let reads = 0
    const events = outbox<number, number>(l, {
      channel: uniqueChannel('outbox'),
      read: async () => (reads++, [1]),
      cursor: (id) => id,
      // The cursor kept on the listener's own connection, here behind a lock: the load is under way when close() comes.
      load: async () => Number((await l.query(`SELECT max(id) FROM ${t}`))[0]!.rows[0]![0]),
    })
    await locker.query(`BEGIN; LOCK TABLE ${t} IN ACCESS EXCLUSIVE MODE`)
    const first = events.next()
    await eventually(async () => {
      const [waiting] = await a.query(`SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'SELECT max(id) FROM ${t}'`)
      return waiting!.rows.length === 1
    }, 10_000)
    await l.close()
    await locker.query('COMMIT')
    // Before: it threw "the listener is closed". Nothing was yielded, so nothing is to be saved
    // or told; the README: "Ends with the listener (its close(), even during the outbox's start)".
    expect(await first).toEqual({ value: undefined, done: true })
    expect(reads).toBe(0)
  })
})
