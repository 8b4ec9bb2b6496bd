/**
 * The outbox (src/listener/outbox.ts) on a real server, held to each sentence of its README
 * section ("Nothing missed: the outbox"): two outboxes on one channel, writers that commit
 * behind the documented lock while a reader pages through, a backlog read in pages while the
 * query connection is lost mid-read, a read that hangs past readTimeout, a loop that throws, and
 * close() or the signal during a read. Each held on a real server; what broke is in
 * test/unit/listener/outbox-hunt.test.ts.
 */
import { describe, expect, test } from 'vitest'
import { outbox } from '../../src/outbox.ts'
import type { Listener } from '../../src/listener/listener.ts'
import type { Connection } from '../../src/protocol/io/connection.ts'
import { eventually } from '../support/connect.ts'
import { within } from '../support/listener-world.ts'
import { admin, listener, uniqueChannel } from '../support/listener.ts'

/** A table of its own, as in the README: a bigserial id (CACHE 1) and a body. */
async function table(a: Connection): Promise<string> {
  const name = `outbox_hunt_${Math.random().toString(36).slice(2, 10)}`
  await a.query(`CREATE TABLE ${name} (id bigserial PRIMARY KEY, body text)`)
  return name
}

/** The README's read: a page of ids after `after`, on the listener's query connection. */
function reader(l: Listener, t: string, page: number, reads: Array<string | undefined> = []) {
  return async (after: string | undefined, signal: AbortSignal) => {
    reads.push(after)
    const [result] = await l.query(`SELECT id FROM ${t} WHERE id > ${BigInt(after ?? 0)} ORDER BY id LIMIT ${page}`, { signal })
    return result!.rows.map(([id]) => id!)
  }
}

/** Until the read is seen waiting on the table's lock: its backend's pid. */
async function blockedRead(a: Connection, t: string): Promise<number> {
  let pid: number | undefined
  await eventually(async () => {
    const [waiting] = await a.query(`SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'SELECT id FROM ${t} %'`)
    pid = waiting!.rows.length === 1 ? Number(waiting!.rows[0]![0]) : undefined
    return pid !== undefined
  }, 10_000)
  return pid!
}

/**
 * A table holding events 1..`events`, and a listener; `lock` takes the table's ACCESS EXCLUSIVE
 * lock in a transaction of a connection of its own, which `unlock` commits.
 */
async function world(events: number) {
  const a = await admin()
  let locker: Connection | undefined
  const t = await table(a)
  if (events > 0) await a.query(`INSERT INTO ${t} (body) SELECT 'e' FROM generate_series(1, ${events})`)
  const l = await listener()
  const lock = async () => {
    locker ??= await admin()
    await locker.query(`BEGIN; LOCK TABLE ${t} IN ACCESS EXCLUSIVE MODE`)
  }
  const unlock = () => locker!.query('COMMIT')
  return { a, t, l, lock, unlock }
}

/** With the table locked, starts a next() and waits until its read is seen waiting on the lock: the next(), and the read's backend's pid. */
async function nextBehindLock<E>(w: Awaited<ReturnType<typeof world>>, events: AsyncIterator<E>) {
  await w.lock()
  const next = events.next()
  const pid = await blockedRead(w.a, w.t)
  return { next, pid }
}

describe('two outboxes on one channel', () => {
  test('one that ends leaves the other woken by NOTIFY: the channel stays LISTENed', async () => {
    const { a, t, l } = await world(0)
    const channel = uniqueChannel('outbox')
    const make = () => outbox<string, string>(l, { channel, read: reader(l, t, 100), cursor: (id) => id })
    const [first, second] = [make(), make()]
    await a.query(`INSERT INTO ${t} (body) VALUES ('one'); NOTIFY "${channel}"`)
    expect(await within(first.next(), 10_000, 'the first outbox')).toEqual({ value: '1', done: false })
    expect(await within(second.next(), 10_000, 'the second outbox')).toEqual({ value: '1', done: false })
    await first.return?.()
    // An UNLISTEN sent when the first ended is answered before this LISTEN is.
    await l.listen(uniqueChannel())
    const next = second.next()
    await a.query(`INSERT INTO ${t} (body) VALUES ('two'); NOTIFY "${channel}"`)
    expect(await within(next, 10_000, 'the wake-up of the outbox left')).toEqual({ value: '2', done: false })
    await second.return?.()
    await l.close()
  })
})

describe('writers behind the README lock', () => {
  test('four writers at once, each event yielded once and in id order while the reader pages through', async () => {
    const setup = await admin()
    const t = await table(setup)
    const channel = uniqueChannel('outbox')
    const writers = await Promise.all([admin(), admin(), admin(), admin()])
    const l = await listener()
    const events = outbox<string, string>(l, { channel, read: reader(l, t, 7), cursor: (id) => id })
    const seen: string[] = []
    const reading = (async () => {
      for await (const id of events) {
        seen.push(id)
        if (seen.length === 200) break
      }
    })()
    // Each writer draws its id only once it holds the lock: no id commits after a greater one.
    await Promise.all(writers.map(async (w) => {
      for (let i = 0; i < 50; i++) {
        await w.query(`BEGIN; SELECT pg_advisory_xact_lock(7001); INSERT INTO ${t} (body) VALUES ('e'); NOTIFY "${channel}"; COMMIT`)
      }
    }))
    await within(reading, 30_000, 'the 200 events')
    expect(seen).toEqual(Array.from({ length: 200 }, (_, i) => String(i + 1)))
    await l.close()
  })
})

describe('a backlog, read while the query connection is lost', () => {
  test('comes in pages of the read\'s LIMIT, each event once and in order; the lost read is reported and tried again', async () => {
    const w = await world(1200)
    const { a, t, l } = w
    const errors: Error[] = []
    l.on('error', (error) => void errors.push(error))
    const reads: Array<string | undefined> = []
    const events = outbox<string, string>(l, { channel: uniqueChannel('outbox'), read: reader(l, t, 500, reads), cursor: (id) => id, retry: { minDelay: 10, maxDelay: 10 } })
    const { next: first, pid: notifier } = await nextBehindLock(w, events)
    await a.query(`SELECT pg_terminate_backend(${notifier})`)
    await eventually(() => errors.length >= 1, 10_000)
    await w.unlock()
    const seen = [(await within(first, 10_000, 'the first event')).value as string]
    while (seen.length < 1200) {
      const r = await within(events.next(), 10_000, 'the next event')
      if (r.done) break
      seen.push(r.value)
    }
    expect(seen).toEqual(Array.from({ length: 1200 }, (_, i) => String(i + 1)))
    // The lost read, its retry, then a page at a time (and the query connection back).
    expect(reads.slice(0, 2)).toEqual([undefined, undefined])
    expect(reads.slice(-2)).toEqual(['500', '1000'])
    expect(errors).toHaveLength(1)
    await events.return?.()
    const [alive] = await l.query('SELECT 1')
    expect(alive!.rows).toEqual([['1']])
    await l.close()
  })
})

describe('the end during a read', () => {
  test('close() while a read waits on a lock ends the next() (done), and saves nothing', async () => {
    const w = await world(1)
    const { t, l } = w
    const saved: string[] = []
    const events = outbox<string, string>(l, { channel: uniqueChannel('outbox'), read: reader(l, t, 10), cursor: (id) => id, save: (id) => void saved.push(id) })
    const { next } = await nextBehindLock(w, events)
    await l.close()
    expect(await within(next, 10_000, 'the end')).toEqual({ value: undefined, done: true })
    await w.unlock()
    expect(saved).toEqual([])
  })

  test('the signal aborting while a read waits on a lock ends the next() (done); the listener reads on', async () => {
    const w = await world(1)
    const { t, l } = w
    const stop = new AbortController()
    const events = outbox<string, string>(l, { channel: uniqueChannel('outbox'), read: reader(l, t, 10), cursor: (id) => id, signal: stop.signal })
    const { next } = await nextBehindLock(w, events)
    stop.abort()
    expect(await within(next, 10_000, 'the end')).toEqual({ value: undefined, done: true })
    await w.unlock()
    expect(await events.next()).toEqual({ value: undefined, done: true })
    const [alive] = await l.query(`SELECT count(*) FROM ${t}`)
    expect(alive!.rows).toEqual([['1']])
    await l.close()
  })
})

describe('a read that hangs', () => {
  test('is given up after readTimeout, reported, and tried again on a new query connection; the event then comes', async () => {
    const w = await world(1)
    const { a, t, l } = w
    const errors: Error[] = []
    l.on('error', (error) => void errors.push(error))
    const events = outbox<string, string>(l, { channel: uniqueChannel('outbox'), read: reader(l, t, 10), cursor: (id) => id, readTimeout: 200, retry: { minDelay: 10, maxDelay: 10 } })
    const { next: first, pid: stuck } = await nextBehindLock(w, events)
    // Held until the outbox has given the read up: no clock decides the outcome.
    await eventually(() => errors.length >= 1, 10_000)
    expect(errors[0]!.message).toBe('the outbox read took longer than 200 ms; it is tried again')
    await w.unlock()
    expect(await within(first, 10_000, 'the event')).toEqual({ value: '1', done: false })
    // The connection it was stuck on was dropped, not left to answer later.
    expect(await l.notifierProcessId).not.toBe(stuck)
    await eventually(async () => {
      const [left] = await a.query(`SELECT count(*) FROM pg_stat_activity WHERE pid = ${stuck}`)
      return left!.rows[0]![0] === '0'
    }, 10_000)
    await events.return?.()
    await l.close()
  })
})

describe('a loop that throws', () => {
  test('leaves the event it was handling unsaved: an outbox made again from the saved cursor yields it again, then the rest', async () => {
    const { t, l } = await world(3)
    let saved: string | undefined
    const make = () => outbox<string, string>(l, { channel: uniqueChannel('outbox'), read: reader(l, t, 10), cursor: (id) => id, load: () => saved, save: (id) => void (saved = id) })
    const handled: string[] = []
    await expect((async () => {
      for await (const id of make()) {
        if (id === '2') throw new Error('the handler failed')
        handled.push(id)
      }
    })()).rejects.toThrow('the handler failed')
    expect(saved).toBe('1')
    for await (const id of make()) {
      handled.push(id)
      if (id === '3') break
    }
    expect(handled).toEqual(['1', '2', '3'])
    expect(saved).toBe('2') // 3 was being handled when the loop was left by break
    await l.close()
  })
})
