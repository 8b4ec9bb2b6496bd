/**
 * The listener's API against the real server: payloads and channel names that need care,
 * transaction semantics, handlers, iterators, shutdown, and the pooler self-test.
 */
import { execFileSync } from 'node:child_process'
import { describe, expect, test } from 'vitest'
import { ListenerError } from '../../src/listener/errors.ts'
import type { Notification } from '../../src/listener/subscription.ts'
import { connectSuperuser, eventually } from '../support/connect.ts'
import { collect, listener, listenerOptions, uniqueChannel } from '../support/listener.ts'
import { startFaultProxy } from '../support/fault-proxy.ts'

const payloadsOf = (items: unknown[]) => items.map((i) => (i as Notification).payload)

describe('payloads', () => {
  test.each([
    ['Unicode', 'héllo wörld ✓ 🔔 日本語 \u0000'.replace('\u0000', '')],
    ['empty', ''],
    ['7999 one-byte characters', 'x'.repeat(7999)],
    ['7999 bytes of two-byte characters and one more', 'é'.repeat(3999) + 'x'],
    ['quotes and backslashes', `it's a \\ "test" with ''doubled'' quotes\\'`],
  ])('%s round-trips', async (_, payload) => {
    const l = await listener()
    const channel = uniqueChannel()
    const heard = collect(l.notifications({ gaps: false }))
    await l.listen(channel)
    await l.notify(channel, payload)
    await eventually(() => heard.items.length === 1)
    expect(heard.items[0]).toEqual({ type: 'NotificationResponse', channel, payload, processId: await l.notifierProcessId })
  })

  test.each([
    ['8000 one-byte characters', 'x'.repeat(8000)],
    ['4000 two-byte characters (8000 bytes)', 'é'.repeat(4000)],
  ])('a payload of %s is refused before anything is sent', async (_, payload) => {
    const l = await listener()
    const channel = uniqueChannel()
    const heard = collect(l.notifications({ gaps: false }))
    await l.listen(channel)
    await expect(l.notify(channel, payload)).rejects.toBeInstanceOf(RangeError)
    await l.notify(channel, 'after') // nothing else went out: the next one is the first heard
    await eventually(() => heard.items.length === 1)
    expect(payloadsOf(heard.items)).toEqual(['after'])
  })

  test.each([
    ['a NUL', 'a\0b'],
    ['a lone surrogate (it would be sent as U+FFFD)', 'a\udc00b'],
  ])('a payload with %s is refused', async (_, payload) => {
    const l = await listener()
    await expect(l.notify('c', payload)).rejects.toBeInstanceOf(RangeError)
  })
})

describe('channel names as PostgreSQL sees them', () => {
  test.each([
    ['Mixed Case'],
    ['with  spaces'],
    ['a "quoted" name'],
    ['x'.repeat(63)],
    ['ñandú-🔔-日本'],
    ['é'.repeat(31) + 'x'], // 63 bytes of UTF-8
    ['DROP TABLE x; --'],
  ])('%j round-trips exactly', async (channel) => {
    const l = await listener()
    const heard = collect(l.notifications({ gaps: false }))
    await l.listen(channel)
    const other = await connectSuperuser()
    const quoted = `'${channel.replaceAll("'", "''")}'`
    await other.query(`SELECT pg_notify(${quoted}, 'ok')`)
    await other.close()
    await eventually(() => heard.items.length === 1)
    expect((heard.items[0] as Notification).channel).toBe(channel)
  })

  test.each([
    ['empty', ''],
    ['64 bytes', 'x'.repeat(64)],
    ['32 two-byte characters (64 bytes)', 'é'.repeat(32)],
    ['a NUL', 'a\0b'],
    ['a lone surrogate (the server would get U+FFFD, another name)', 'lone\ud800'],
  ])('a channel name that is %s is refused with a RangeError', async (_, channel) => {
    const l = await listener()
    await expect(l.listen(channel)).rejects.toBeInstanceOf(RangeError)
    expect(l.channels.size).toBe(0)
  })

  test('{ unquoted: true } hears an unquoted NOTIFY, folded as PostgreSQL folds it', async () => {
    const l = await listener()
    const heard = collect(l.notifications({ gaps: false }))
    await l.listen('Orders_ÄB', { unquoted: true })
    expect([...l.channels]).toEqual(['orders_Äb']) // ASCII letters folded, Ä kept, as the server does
    const other = await connectSuperuser()
    await other.query("NOTIFY Orders_ÄB, 'unquoted'")
    await other.close()
    await eventually(() => heard.items.length === 1)
    expect(heard.items[0]).toMatchObject({ channel: 'orders_Äb', payload: 'unquoted' })
  })
})

describe('transactions', () => {
  test('a NOTIFY inside a transaction arrives at commit, and not at all on rollback', async () => {
    const l = await listener()
    const channel = uniqueChannel()
    const heard = collect(l.notifications({ gaps: false }))
    await l.listen(channel)
    const other = await connectSuperuser()
    const q = `'${channel}'`
    await other.query(`BEGIN; SELECT pg_notify(${q}, 'committed')`)
    await new Promise((r) => setTimeout(r, 200))
    expect(heard.items).toEqual([])
    await other.query('COMMIT')
    await other.query(`BEGIN; SELECT pg_notify(${q}, 'rolled back'); ROLLBACK`)
    await other.query(`SELECT pg_notify(${q}, 'marker')`)
    await other.close()
    await eventually(() => heard.items.length === 2)
    await new Promise((r) => setTimeout(r, 100))
    expect(payloadsOf(heard.items)).toEqual(['committed', 'marker'])
  })

  test('duplicates within one transaction fold; order across transactions is kept', async () => {
    const l = await listener()
    const channel = uniqueChannel()
    const heard = collect(l.notifications({ gaps: false }))
    await l.listen(channel)
    const other = await connectSuperuser()
    const q = `'${channel}'`
    await other.query(`BEGIN; SELECT pg_notify(${q}, 'a'); SELECT pg_notify(${q}, 'a'); SELECT pg_notify(${q}, 'b'); SELECT pg_notify(${q}, 'a'); COMMIT`)
    for (let i = 1; i <= 20; i++) await other.query(`SELECT pg_notify(${q}, '${i}')`)
    await other.close()
    await eventually(() => heard.items.length === 22)
    expect(payloadsOf(heard.items)).toEqual(['a', 'b', ...Array.from({ length: 20 }, (_, i) => String(i + 1))])
  })
})

describe('consumers', () => {
  test('several iterators and handlers share one connection; a throwing handler stops nobody', async () => {
    const l = await listener()
    const channel = uniqueChannel()
    const errors: Error[] = []
    l.on('error', (e) => errors.push(e))
    const first: string[] = []
    const second: string[] = []
    l.on('notification', () => {
      throw new Error('a handler bug')
    })
    l.on('notification', (n) => void first.push(n.payload))
    l.on('notification', async (n) => {
      second.push(n.payload)
      throw new Error('an async handler bug')
    })
    const a = collect(l.notifications({ gaps: false }))
    const b = collect(l.notifications({ gaps: false, channels: [channel] }))
    await l.listen(channel)
    await l.notify(channel, 'one')
    await l.notify(channel, 'two')
    await eventually(() => a.items.length === 2 && b.items.length === 2 && second.length === 2 && errors.length === 4)
    expect([first, second, payloadsOf(a.items), payloadsOf(b.items)]).toEqual(Array(4).fill(['one', 'two']))
    expect(errors.map((e) => e.message).sort()).toEqual(['a handler bug', 'a handler bug', 'an async handler bug', 'an async handler bug'])
  })

  test('LISTEN and UNLISTEN work from inside the loop', async () => {
    const l = await listener()
    const [one, two] = [uniqueChannel('one'), uniqueChannel('two')]
    await l.listen(one)
    const iterator = l.notifications({ gaps: false }) // before the first notify: it hears only what comes after
    await l.notify(one, 'start')
    const seen: string[] = []
    for await (const item of iterator) {
      const n = item as Notification
      seen.push(`${n.channel === one ? 'one' : 'two'}:${n.payload}`)
      if (n.payload === 'start') {
        await l.listen(two)
        await l.unlisten(one)
        await l.notify(one, 'unheard')
        await l.notify(two, 'end')
      }
      if (n.payload === 'end') break
    }
    expect(seen).toEqual(['one:start', 'two:end'])
    expect([...l.channels]).toEqual([two])
  })

  test('an AbortSignal ends an iterator cleanly; the others go on', async () => {
    const l = await listener()
    const channel = uniqueChannel()
    await l.listen(channel)
    const controller = new AbortController()
    const aborted = collect(l.notifications({ signal: controller.signal }))
    const other = collect(l.notifications({ gaps: false }))
    await l.notify(channel, '1')
    await eventually(() => aborted.items.length === 1)
    controller.abort()
    await aborted.done
    await l.notify(channel, '2')
    await eventually(() => other.items.length === 2)
    expect(aborted.items).toHaveLength(1)
  })

  test('close() during iteration ends every iterator, and later calls reject', async () => {
    const l = await listener()
    const channel = uniqueChannel()
    await l.listen(channel)
    const a = collect(l.notifications())
    const b = collect(l.notifications())
    await l.close()
    await Promise.all([a.done, b.done])
    await expect(l.listen('x')).rejects.toBeInstanceOf(ListenerError)
    expect((await l.notifications().next()).done).toBe(true)
  })

  test('queueUsage() reads pg_notification_queue_usage()', async () => {
    const usage = await (await listener()).queueUsage()
    expect(usage).toBeGreaterThanOrEqual(0)
    expect(usage).toBeLessThan(1)
  })

  test('notify() runs on a second connection, whose process ID its notifications carry', async () => {
    const l = await listener()
    const channel = uniqueChannel()
    const heard = collect(l.notifications({ gaps: false }))
    await l.listen(channel)
    expect(await l.notifierProcessId).toBeUndefined() // opened only when first needed
    await l.notify(channel)
    await eventually(() => heard.items.length === 1)
    const notifier = await l.notifierProcessId
    expect(notifier).toBeGreaterThan(0)
    expect(notifier).not.toBe(l.processId)
    expect((heard.items[0] as Notification).processId).toBe(notifier)
  })

  test('a notifier connection that was lost is opened again on the next notify()', async () => {
    const l = await listener()
    const channel = uniqueChannel()
    const heard = collect(l.notifications({ gaps: false }))
    await l.listen(channel)
    await l.notify(channel, 'one')
    const admin = await connectSuperuser()
    await admin.query(`SELECT pg_terminate_backend(${await l.notifierProcessId})`)
    await admin.close()
    await new Promise((r) => setTimeout(r, 100))
    await l.notify(channel, 'two').catch(() => l.notify(channel, 'two')) // the first try may meet the dead one
    await eventually(() => heard.items.length === 2)
    expect(payloadsOf(heard.items)).toEqual(['one', 'two'])
  })
})

describe('starting and closing', () => {
  test('close() while start() is connecting leaves no connection behind', async () => {
    const { Listener } = await import('../../src/index.ts')
    const name = `close during start ${Math.random().toString(36).slice(2)}`
    const l = new Listener(listenerOptions({ applicationName: name }))
    const starting = l.start()
    await l.close()
    await expect(starting).rejects.toBeInstanceOf(ListenerError)
    const admin = await connectSuperuser()
    await new Promise((r) => setTimeout(r, 100)) // the server notices a closed socket at once; give it a moment
    const [left] = await admin.query(`SELECT count(*) FROM pg_stat_activity WHERE application_name = '${name}'`)
    await admin.close()
    expect(left!.rows).toEqual([['0']])
  })

  test('the listener says where it is connected and what the server is', async () => {
    const l = await listener()
    expect(l.endpoint).toMatchObject({ host: listenerOptions().host, port: listenerOptions().port })
    expect(l.parameters.get('server_version')).toMatch(/^\d+/)
    await l.close()
    expect(l.endpoint).toBeUndefined()
  })
})

describe('the process', () => {
  test('close() lets the process exit', () => {
    const options = JSON.stringify(listenerOptions())
    const script = `
      import { createListener } from './src/index.ts'
      const l = await createListener(${options})
      await l.listen('exit test')
      for await (const _ of l.notifications()) {}
    `.replace('for await (const _ of l.notifications()) {}', 'const loop = (async () => { for await (const _ of l.notifications()) {} })(); await l.close(); await loop; console.log("closed")')
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: new URL('../..', import.meta.url), encoding: 'utf8', timeout: 20_000 })
    expect(out.trim()).toBe('closed')
  })
})

describe('poolers', () => {
  test('when notifications never come back (as behind a transaction pooler), the first listen() says so', async () => {
    const pg = listenerOptions()
    const proxy = await startFaultProxy(pg.host as string, pg.port as number)
    proxy.dropNotifications = true
    try {
      const l = await listener({ host: '127.0.0.1', port: proxy.port, poolerCheck: { timeout: 500 } })
      const error = await l.listen('orders').catch((e) => e)
      expect(error).toBeInstanceOf(ListenerError)
      expect(error.message).toMatch(/transaction mode/)
      expect(l.channels.size).toBe(0)
    } finally {
      await proxy.close()
    }
  })

  test('with poolerCheck: false there is no self-test', async () => {
    const pg = listenerOptions()
    const proxy = await startFaultProxy(pg.host as string, pg.port as number)
    proxy.dropNotifications = true
    try {
      const l = await listener({ host: '127.0.0.1', port: proxy.port, poolerCheck: false })
      await l.listen('orders')
      expect([...l.channels]).toEqual(['orders'])
    } finally {
      await proxy.close()
    }
  })
})
