/**
 * Change feeds as iterators (src/listener/feeds.ts), over a stand-in for the listener: which
 * channel a feed listens on, what it installs and removes and when, and how it maps what its
 * iterator reads. What the triggers do on a real server is tested in test/integration.
 */
import { getEventListeners } from 'node:events'
import { describe, expect, test, vi } from 'vitest'
import { NoPrimaryKeyError, rowChangeChannel, tcnDefaultChannel, type RowChange } from '../../../src/listener/changes/index.ts'
import { ConnectionLostError, DatabaseError } from '../../../src/protocol/errors.ts'
import { tableFeed } from '../../../src/listener/feed-parts.ts'
import { ddlChanges, feed, tableChanges, type FeedSource } from '../../../src/listener/feeds.ts'
import type { NotificationsOptions } from '../../../src/listener/listener-types.ts'
import { Subscription, type Notification } from '../../../src/listener/subscription.ts'

/** A listener stand-in that records what a feed asks of it; SQL "runs" by being recorded. */
function fakeListener(options: { closing?: boolean } = {}) {
  const sql: string[] = []
  const listened: string[] = []
  const released: string[] = []
  const asked: NotificationsOptions[] = []
  const cleanups = new Set<() => Promise<void>>()
  const subscriptions: Subscription[] = []
  const source: FeedSource = {
    notifications(o) {
      asked.push(o)
      const subscription = new Subscription({ channels: new Set(o.channels), gaps: o.gaps ?? true })
      if (o.signal?.aborted) subscription.end() // as the listener's notifications() does
      o.signal?.addEventListener('abort', () => subscription.end(), { once: true })
      subscriptions.push(subscription)
      return subscription
    },
    async listen(channel) {
      listened.push(channel)
    },
    release: (channel) => void released.push(channel),
    install: (work) => work({ query: async (text: string) => void sql.push(text) } as never),
    remove: (work) => work({ query: async (text: string) => void sql.push(text) } as never),
    onClose(cleanup) {
      if (options.closing) return false
      cleanups.add(cleanup)
      return () => cleanups.delete(cleanup)
    },
  }
  /** What close() would do: run every cleanup still registered. */
  const close = () => Promise.all([...cleanups].map((cleanup) => cleanup()))
  return { source, sql, listened, released, asked, cleanups, subscriptions, close }
}

/** The DROP statements run after the first `from` statements (an install drops before it creates). */
const drops = (sql: string[], from = 0) => sql.slice(from).filter((s) => s.startsWith('DROP'))
const notification = (channel: string, payload: string): Notification => ({ type: 'NotificationResponse', processId: 7, channel, payload })
const rowPayload = (schema: string, table: string, id: number) =>
  JSON.stringify({ schema, table, operation: 'INSERT', seq: 1, truncated: false, key: { id }, row: { id } })

describe('which channel, and what is installed', () => {
  test("a rows feed listens on the table's own channel, a tcn feed on tcn's, unless a channel is given", async () => {
    for (const [options, channel] of [
      [{}, rowChangeChannel('public.t')],
      [{ feed: 'tcn' }, tcnDefaultChannel],
      [{ channel: 'mine' }, 'mine'],
      [{ feed: 'tcn', channel: 'mine' }, 'mine'],
    ] as const) {
      const l = fakeListener()
      const changes = tableChanges(l.source, 'public.t', options)
      await changes.ready
      expect(changes.channel).toBe(channel)
      expect(l.listened).toEqual([channel])
      expect(l.asked[0]!.channels).toEqual([channel])
    }
  })

  test('the trigger is installed first, notifying the chosen channel; not at all with install: false', async () => {
    const l = fakeListener()
    await tableChanges(l.source, 'public.t', { channel: 'the channel' }).ready
    expect(l.sql.some((s) => s.includes("'the channel'"))).toBe(true)
    const tcn = fakeListener()
    await tableChanges(tcn.source, 'public.t', { feed: 'tcn', channel: 'the channel' }).ready
    expect(tcn.sql.some((s) => s.includes('the channel'))).toBe(true)
    const none = fakeListener()
    await tableChanges(none.source, 'public.t', { install: false }).ready
    expect(none.sql).toEqual([])
    const ddl = fakeListener()
    expect(ddlChanges(ddl.source, { install: false, name: 'audit' }).channel).toBe('audit')
    await ddlChanges(ddl.source, { install: false }).ready
    expect(ddl.sql).toEqual([])
    await ddlChanges(ddl.source, {}).ready
    expect(ddl.sql.some((s) => s.startsWith('CREATE EVENT TRIGGER'))).toBe(true)
  })

  test('Gap items are asked for unless gaps: false', async () => {
    const l = fakeListener()
    tableChanges(l.source, 'public.t', {})
    tableChanges(l.source, 'public.t', { gaps: false })
    ddlChanges(l.source, {})
    ddlChanges(l.source, { gaps: false })
    expect(l.asked.map((o) => o.gaps)).toEqual([true, false, true, false])
  })
})

describe('what happens at the call, before the feed is set up', () => {
  // The setup (install, LISTEN) runs after the call returns; the subscription and the argument
  // checks must not wait for it, or a notification sent meanwhile would be missed.
  test('a feed subscribes at the call, and a notification that comes before it is set up is yielded', async () => {
    const l = fakeListener()
    const changes = tableChanges(l.source, 's.t', { install: false })
    const ddl = ddlChanges(l.source, { install: false, name: 'audit' })
    expect(l.asked.map((o) => o.channels)).toEqual([[rowChangeChannel('s.t')], ['audit']])
    l.subscriptions[0]!.offer(notification(changes.channel, rowPayload('s', 't', 1)))
    expect(l.listened).toEqual([]) // not yet set up
    const first = await changes.next()
    expect(first.value).toMatchObject({ type: 'RowChange', key: { id: 1 } })
    void ddl.return!()
  })

  test('next() called twice at once, before the setup is done: each waits for it, and each gets a notification, in order', async () => {
    // A shared channel, already listened on: notifications can come before this feed is set up.
    const l = fakeListener()
    let listened!: () => void
    l.source.listen = () => new Promise<void>((resolve) => (listened = resolve))
    const changes = tableChanges(l.source, 's.t', { install: false, channel: 'shared' })
    const seen: unknown[] = []
    const a = changes.next().then((r) => seen.push(['a', (r.value as RowChange).key]))
    const b = changes.next().then((r) => seen.push(['b', (r.value as RowChange).key]))
    l.subscriptions[0]!.offer(notification('shared', rowPayload('s', 't', 1)))
    l.subscriptions[0]!.offer(notification('shared', rowPayload('s', 't', 2)))
    await vi.waitFor(() => expect(listened).toBeTypeOf('function'))
    expect(seen).toEqual([])
    listened()
    await Promise.all([a, b])
    expect(seen).toEqual([['a', { id: 1 }], ['b', { id: 2 }]])
  })

  test('next() called twice at once, with a notification the feed skips first: each gets a change, in order', async () => {
    const l = fakeListener()
    const changes = tableChanges(l.source, 's.t', { install: false, channel: 'shared' })
    await changes.ready
    const seen: unknown[] = []
    const a = changes.next().then((r) => seen.push(['a', (r.value as RowChange).key]))
    const b = changes.next().then((r) => seen.push(['b', (r.value as RowChange).key]))
    const source = l.subscriptions[0]!
    source.offer(notification('shared', rowPayload('s', 'other', 1))) // another table's: the first read skips it and reads again
    source.offer(notification('shared', rowPayload('s', 't', 2)))
    source.offer(notification('shared', rowPayload('s', 't', 3)))
    await Promise.all([a, b])
    expect(seen).toEqual([['a', { id: 2 }], ['b', { id: 3 }]])
  })

  test('a failed setup is thrown once, to the first of two next() calls made at once; the other ends', async () => {
    const source = new Subscription()
    const broken = feed({ channel: 'c', source, ready: Promise.reject(new Error('no primary key')) })
    const [first, second] = await Promise.allSettled([broken.next(), broken.next()])
    expect(first).toMatchObject({ status: 'rejected', reason: new Error('no primary key') })
    expect(second).toEqual({ status: 'fulfilled', value: { value: undefined, done: true } })
  })

  test('a bad table name or DDL name throws at the call, with nothing subscribed or installed', async () => {
    for (const options of [{}, { feed: 'tcn' as const }, { channel: 'mine' }, { feed: 'tcn' as const, channel: 'mine' }]) {
      const l = fakeListener()
      expect(() => tableChanges(l.source, 'a.b.c', options)).toThrow(RangeError)
      await new Promise((resolve) => setTimeout(resolve, 10))
      expect([l.asked, l.sql, l.listened]).toEqual([[], [], []])
    }
    const l = fakeListener()
    expect(() => ddlChanges(l.source, { name: 'x'.repeat(59) })).toThrow(RangeError)
    expect(() => ddlChanges(l.source, { schema: '' })).toThrow(RangeError)
    expect(() => ddlChanges(l.source, { name: 1 as never })).toThrow(TypeError)
    expect(() => ddlChanges(l.source, { channel: '' })).toThrow()
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect([l.asked, l.sql, l.listened]).toEqual([[], [], []])
  })
})

describe('what a feed yields', () => {
  test("a rows feed keeps only its own table's changes (schema and name) from a shared channel", () => {
    const { decode, accept } = tableFeed({ schema: 's', table: 't' }, 'rows')
    const accepted = (schema: string, table: string) => accept(decode(notification('c', rowPayload(schema, table, 1))) as never)
    expect([accepted('s', 't'), accepted('s', 'other'), accepted('other', 't'), accepted('other', 'other')]).toEqual([true, false, false, false])
    const rows = tableFeed({ schema: 's', table: 't' }, 'rows')
    expect(rows.accept({ kind: 'tcn', schema: 's', table: 't' } as never)).toBe(false)
  })

  test("a tcn feed keeps only its own table's changes, and no row change", () => {
    const { decode, accept } = tableFeed({ schema: 's', table: 't' }, 'tcn')
    expect(accept(decode(notification('c', '"t",I,"id"=\'1\'')) as never)).toBe(true)
    expect(accept(decode(notification('c', '"u",I,"id"=\'1\'')) as never)).toBe(false)
    expect(accept({ kind: 'row', schema: 's', table: 't' } as never)).toBe(false)
  })

  test('a setup error is thrown by the first next() only; the feed has ended after it', async () => {
    const source = new Subscription()
    const broken = feed({ channel: 'c', source, ready: Promise.reject(new Error('no primary key')) })
    await expect(broken.next()).rejects.toThrow('no primary key')
    expect(source.ended).toBe(true)
    await expect(broken.next()).resolves.toEqual({ value: undefined, done: true })
  })

  test('a setup that failed because the listener was closed (not given up) ends the feed: done, not thrown; ready still rejects', async () => {
    const source = new Subscription()
    const setUp = Promise.reject(new Error('the listener is closed'))
    const closed = feed({ channel: 'c', source, ready: setUp, closed: () => true })
    expect(await closed.next()).toEqual({ value: undefined, done: true }) // before: it threw
    await expect(closed.ready).rejects.toThrow('the listener is closed')
    expect(source.ended).toBe(true)
  })

  test('return() answers done, and ends the source', async () => {
    const source = new Subscription()
    const f = feed({ channel: 'c', source, ready: Promise.resolve({ decode: () => 'x' }) })
    expect(await f.return!()).toEqual({ value: undefined, done: true })
    expect(source.ended).toBe(true)
  })
})

describe('what a feed yields, read through its iterator', () => {
  test("a rows feed: its table's changes and a Gap, as items (done: false); another table's skipped; an undecodable payload as a PayloadError", async () => {
    const l = fakeListener()
    const changes = tableChanges(l.source, 's.t', { install: false, channel: 'shared' })
    await changes.ready
    const source = l.subscriptions[0]!
    source.offer(notification('shared', rowPayload('s', 'other', 1))) // another table's: skipped
    source.offer(notification('shared', rowPayload('s', 't', 2)))
    source.offer(notification('shared', '{not json'))
    source.cut(new Date(0), new Error('connection lost'))
    expect(await changes.next()).toMatchObject({ done: false, value: { type: 'RowChange', table: 't', key: { id: 2 } } })
    expect(await changes.next()).toMatchObject({ done: false, value: { type: 'PayloadError' } })
    expect(await changes.next()).toMatchObject({ done: false, value: { type: 'Gap' } })
    await changes.return!()
  })

  test('a tcn feed yields a PayloadError though it names no table (an undecodable payload is never dropped)', async () => {
    const l = fakeListener()
    const changes = tableChanges(l.source, 's.t', { install: false, feed: 'tcn' })
    await changes.ready
    l.subscriptions[0]!.offer(notification('tcn', 'not tcn'))
    expect(await changes.next()).toMatchObject({ done: false, value: { type: 'PayloadError' } })
    await changes.return!()
  })

  test('a DDL feed, whose decoder keeps everything, yields its changes', async () => {
    const l = fakeListener()
    const changes = ddlChanges(l.source, { install: false, name: 'audit' })
    await changes.ready
    const payload = { event: 'ddl_command_end', seq: 1, truncated: false, tag: 'CREATE TABLE', objectType: 'table', schema: 'public', identity: 'public.t' }
    l.subscriptions[0]!.offer(notification('audit', JSON.stringify(payload)))
    for await (const change of changes) {
      expect(change).toMatchObject({ type: 'DdlChange', tag: 'CREATE TABLE', identity: 'public.t' })
      break // for await calls return(): the source ends
    }
    expect(l.subscriptions[0]!.ended).toBe(true)
  })

  test("a tcn feed installs tcn's trigger, a rows feed the JSON row trigger", async () => {
    const tcn = fakeListener()
    await tableChanges(tcn.source, 'public.t', { feed: 'tcn' }).ready
    expect(tcn.sql.some((s) => s.includes('triggered_change_notification'))).toBe(true)
    const rows = fakeListener()
    await tableChanges(rows.source, 'public.t', {}).ready
    expect(rows.sql.some((s) => s.includes('triggered_change_notification'))).toBe(false)
    expect(rows.sql.some((s) => s.includes('json'))).toBe(true)
  })
})

describe('its channel, released when it ends', () => {
  test('ended once listening: released once', async () => {
    const l = fakeListener()
    const changes = tableChanges(l.source, 'public.t', { install: false })
    await changes.ready
    await changes.return!()
    await changes.return!()
    expect(l.released).toEqual([changes.channel])
  })

  test('ended while its LISTEN is under way: released when the LISTEN is done, not before', async () => {
    const l = fakeListener()
    let listened!: () => void
    l.source.listen = () => new Promise<void>((resolve) => (listened = resolve))
    const changes = tableChanges(l.source, 'public.t', { install: false })
    await vi.waitFor(() => expect(listened).toBeTypeOf('function'))
    await changes.return!()
    expect(l.released).toEqual([])
    listened()
    await changes.ready
    expect(l.released).toEqual([changes.channel])
  })

  test('a failed install: nothing listened, nothing released, and removeOnClose removes nothing', async () => {
    const l = fakeListener()
    l.source.install = () => Promise.reject(new Error('no privilege'))
    const changes = tableChanges(l.source, 'public.t', { removeOnClose: true })
    await expect(changes.ready).rejects.toThrow('no privilege')
    await expect(changes.next()).rejects.toThrow('no privilege')
    await changes.return!()
    await l.close()
    expect([l.listened, l.released, l.sql]).toEqual([[], [], []])
  })

  // The server may have committed an install whose COMMIT was sent but never answered (the
  // connection cut by close() or the network, a pooler's FATAL): with removeOnClose, the trigger
  // is removed all the same. An install the server refused (an ERROR), or one cut before its
  // COMMIT, rolled back: nothing to remove, and close() does not wait on a lock for it.
  const cut = () => new ConnectionLostError('the listener is closed', { cause: new Error('the listener is closed') })
  const fatal = () => new ConnectionLostError('the server ended the session', { cause: new DatabaseError({ severity: 'FATAL', code: '08P01', message: 'server conn crashed?' }) })
  const refused = () => new DatabaseError({ severity: 'ERROR', code: '40001', message: 'could not serialize' })
  test.each([
    ['the connection is cut as COMMIT is sent', 'COMMIT', cut, 2],
    ["a pooler's FATAL answers COMMIT", 'COMMIT', fatal, 2],
    ['a FATAL (not an ERROR) is the answer to COMMIT', 'COMMIT', () => new DatabaseError({ severity: 'FATAL', code: '57P01', message: 'terminating connection' }), 2],
    ['the server refuses COMMIT (an ERROR)', 'COMMIT', refused, 0],
    ['the connection is cut before COMMIT', 'BEGIN ISOLATION LEVEL READ COMMITTED', cut, 0],
    ['the server refuses a statement (an error made from its answer)', 'SET LOCAL client_min_messages = warning', () => new NoPrimaryKeyError({ quoted: 'public.t' } as never, { cause: refused() }), 0],
  ] as const)('an install that fails when %s: the removal runs if the trigger may be there', async (_, at, failure, removed) => {
    const l = fakeListener()
    l.source.install = (work) =>
      work({
        query: async (text: string) => {
          l.sql.push(text)
          if (text === at) throw failure()
        },
      } as never)
    const changes = tableChanges(l.source, 'public.t', { removeOnClose: true })
    await expect(changes.ready).rejects.toThrow()
    await changes.return!()
    await l.close()
    expect(drops(l.sql, l.sql.indexOf('ROLLBACK') + 1)).toHaveLength(removed) // the trigger, then its function
  })

  test("a removal under way (its install failed in doubt, with no close()) is one close() waits for", async () => {
    const l = fakeListener()
    l.source.install = (work) =>
      work({
        query: async (text: string) => {
          if (text === 'COMMIT') throw cut()
        },
      } as never)
    let letGo!: () => void
    const held = new Promise<void>((resolve) => (letGo = resolve))
    const remove = l.source.remove
    l.source.remove = async (work) => {
      await held
      return remove(work)
    }
    const changes = tableChanges(l.source, 'public.t', { removeOnClose: true })
    await expect(changes.ready).rejects.toThrow('the listener is closed')
    expect(l.cleanups.size).toBe(1) // still close()'s to wait for
    let closed = false
    const closing = l.close().then(() => (closed = true))
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(closed).toBe(false)
    letGo()
    await closing
    expect(drops(l.sql)).toHaveLength(2)
    expect(l.cleanups.size).toBe(0)
  })
})

describe('removeOnClose', () => {
  test('without it, nothing is removed, however the feed ends', async () => {
    const l = fakeListener()
    const changes = tableChanges(l.source, 'public.t', {})
    await changes.ready
    const installed = l.sql.length
    await changes.return!()
    await l.close()
    expect(drops(l.sql, installed)).toEqual([])
    expect(l.cleanups.size).toBe(0)
  })

  test("return() removes the trigger once, and takes the removal off close()'s list", async () => {
    const l = fakeListener()
    const changes = tableChanges(l.source, 'public.t', { removeOnClose: true })
    await changes.ready
    const installed = l.sql.length
    expect(l.cleanups.size).toBe(1)
    await changes.return!()
    expect(drops(l.sql, installed)).toHaveLength(2) // the trigger, then its function
    expect(l.cleanups.size).toBe(0)
    await changes.return!()
    expect(drops(l.sql, installed)).toHaveLength(2)
  })

  test("the listener's close() removes it, and the feed's end after that removes nothing more", async () => {
    const l = fakeListener()
    const changes = ddlChanges(l.source, { removeOnClose: true })
    await changes.ready
    const installed = l.sql.length
    await l.close()
    expect(drops(l.sql, installed).filter((s) => s.startsWith('DROP EVENT TRIGGER'))).toHaveLength(2)
    const count = l.sql.length
    l.subscriptions[0]!.end()
    await expect(changes.next()).resolves.toMatchObject({ done: true })
    expect(l.sql).toHaveLength(count)
  })

  test('its signal removes it at once, with nobody reading; no abort listener is left', async () => {
    const l = fakeListener()
    const stop = new AbortController()
    const changes = tableChanges(l.source, 'public.t', { feed: 'tcn', removeOnClose: true, signal: stop.signal })
    await changes.ready
    const installed = l.sql.length
    stop.abort()
    await expect.poll(() => drops(l.sql, installed)).toHaveLength(1) // tcn's trigger; the extension stays
    expect(l.cleanups.size).toBe(0)
    const other = new AbortController()
    const second = tableChanges(l.source, 'public.u', { removeOnClose: true, signal: other.signal })
    await second.ready
    await second.return!()
    expect(getEventListeners(other.signal, 'abort').length).toBe(1) // only the iterator's own, not the removal's
  })

  test('a signal that aborts before the setup (or had already): nothing installed, listened on or removed, and the iterator ends', async () => {
    for (const when of ['right after the call', 'before the call'] as const) {
      const l = fakeListener()
      const stop = new AbortController()
      if (when === 'before the call') stop.abort()
      const changes = tableChanges(l.source, 'public.t', { removeOnClose: true, signal: stop.signal })
      if (when === 'right after the call') stop.abort()
      await changes.ready
      expect(l.sql, when).toEqual([])
      expect(l.listened, when).toEqual([])
      await expect(changes.next()).resolves.toEqual({ value: undefined, done: true })
      await l.close()
      expect(l.sql, when).toEqual([]) // close() removes no trigger this feed never installed
      const ddl = fakeListener()
      const ddlChanges_ = ddlChanges(ddl.source, { signal: AbortSignal.abort() })
      await ddlChanges_.ready
      expect([ddl.sql, ddl.listened]).toEqual([[], []])
    }
  })

  test('return() before the install has begun: nothing installed or listened on; once it has begun, it finishes, and nothing is listened on', async () => {
    for (const turns of [0, 1, 2, 3, 4, 10]) {
      const l = fakeListener()
      const changes = tableChanges(l.source, 'public.t', {})
      for (let i = 0; i < turns; i++) await Promise.resolve()
      const begun = l.sql.length > 0
      await changes.return!()
      await changes.ready
      if (turns <= 1) expect(begun, 'the install begins only after the call has returned and a turn has passed').toBe(false)
      if (!begun) expect(l.sql, `return() after ${turns} turns`).toEqual([])
      expect(l.listened, `return() after ${turns} turns`).toEqual([])
    }
  })

  test('a DDL feed ends on its signal, and removes its event triggers then', async () => {
    const l = fakeListener()
    const stop = new AbortController()
    const changes = ddlChanges(l.source, { removeOnClose: true, signal: stop.signal })
    await changes.ready
    const installed = l.sql.length
    stop.abort()
    await expect(changes.next()).resolves.toEqual({ value: undefined, done: true })
    expect(drops(l.sql, installed).filter((s) => s.startsWith('DROP EVENT TRIGGER'))).toHaveLength(2)
  })

  test('a feed made while the listener closes removes nothing', async () => {
    const l = fakeListener({ closing: true })
    const changes = tableChanges(l.source, 'public.t', { removeOnClose: true, install: false })
    await changes.ready
    await changes.return!()
    expect(l.sql).toEqual([])
  })
})
