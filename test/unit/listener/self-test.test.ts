/** The pooler self-test against a scripted connection: its own channel each time, never leaked, always UNLISTENed. */
import { afterEach, describe, expect, test, vi } from 'vitest'
import { ListenerError } from '../../../src/listener/errors.ts'
import { SelfTests, selfTestPrefix, selfTestTimeout } from '../../../src/listener/self-test.ts'
import { Listener } from '../../../src/index.ts'
import type { Notification } from '../../../src/listener/subscription.ts'

/** A connection that records SQL and, if `echo`, sends each pg_notify back through `tests.take`. */
function scripted(tests: SelfTests, echo: boolean) {
  const sql: string[] = []
  const leaked: Notification[] = []
  const connection = {
    async query(text: string) {
      sql.push(text)
      const notify = /^SELECT pg_catalog\.pg_notify\('([^']+)', '([^']+)'\)$/.exec(text)
      if (notify && echo) {
        const n: Notification = { type: 'NotificationResponse', processId: 1, channel: notify[1]!, payload: notify[2]! }
        setTimeout(() => {
          if (!tests.take(n)) leaked.push(n)
        }, 1)
      }
      return []
    },
  }
  return { connection, sql, leaked }
}

describe('SelfTests', () => {
  afterEach(() => vi.restoreAllMocks())

  test('the channel and payload carry a token of 16 hex digits, two per random byte, small bytes zero-padded', async () => {
    // Fixed width, so two different byte strings never make the same token (1,17 and 17,1 would both be "111").
    vi.spyOn(globalThis.crypto, 'getRandomValues').mockImplementation((array) => {
      ;(array as Uint8Array).set([0x00, 0x01, 0x02, 0x0a, 0x0f, 0x10, 0x7f, 0xff])
      return array
    })
    const tests = new SelfTests()
    const { connection, sql } = scripted(tests, true)
    await tests.run(connection, 1000)
    expect(sql).toEqual([
      'LISTEN "pglisten.self-test.0001020a0f107fff"',
      "SELECT pg_catalog.pg_notify('pglisten.self-test.0001020a0f107fff', '0001020a0f107fff')",
      'UNLISTEN "pglisten.self-test.0001020a0f107fff"',
    ])
  })

  test('a notification that comes back passes; the channel is LISTENed, then UNLISTENed', async () => {
    const tests = new SelfTests()
    const { connection, sql, leaked } = scripted(tests, true)
    await tests.run(connection, 1000)
    expect(sql).toHaveLength(3)
    expect(sql[0]).toMatch(new RegExp(`^LISTEN "${selfTestPrefix.replaceAll('.', '\\.')}[0-9a-f]{16}"$`))
    expect(sql[2]).toBe(sql[0]!.replace('LISTEN', 'UNLISTEN'))
    expect(leaked).toEqual([])
    expect(tests.size).toBe(0)
  })

  test('two tests at once use two channels, and each hears its own', async () => {
    const tests = new SelfTests()
    const { connection, sql, leaked } = scripted(tests, true)
    await Promise.all([tests.run(connection, 1000), tests.run(connection, 1000)])
    const listened = sql.filter((s) => s.startsWith('LISTEN'))
    expect(new Set(listened).size).toBe(2)
    expect(leaked).toEqual([])
  })

  test('no answer: a ListenerError naming poolers, and the channel is UNLISTENed all the same', async () => {
    const tests = new SelfTests()
    const { connection, sql } = scripted(tests, false)
    await expect(tests.run(connection, 20)).rejects.toThrow(ListenerError)
    await expect(tests.run(connection, 20)).rejects.toThrow(/transaction mode/)
    expect(sql.filter((s) => s.startsWith('UNLISTEN'))).toHaveLength(2)
    expect(tests.size).toBe(0)
  })

  test('the error for no answer says how long it waited, what does this, and what to do instead', async () => {
    const tests = new SelfTests()
    const { connection } = scripted(tests, false)
    await expect(tests.run(connection, 20)).rejects.toThrow(new ListenerError(
      'LISTEN does not work on this connection: a test notification did not come back within 20 ms. ' +
        'A connection pooler in transaction mode (PgBouncer, Odyssey, RDS Proxy, ...) does this; ' +
        'connect to PostgreSQL directly or through a pooler in session mode.',
    ))
  })

  test('while a test runs its notifications are taken; anything else is not', async () => {
    const tests = new SelfTests()
    let release!: () => void
    const held = new Promise<void>((r) => (release = r))
    let channel = ''
    const connection = {
      async query(text: string) {
        if (text.startsWith('LISTEN')) channel = JSON.parse(text.slice('LISTEN '.length)) as string
        if (text.startsWith('SELECT')) await held
        return []
      },
    }
    const run = tests.run(connection, 50)
    await new Promise((r) => setTimeout(r, 0))
    expect(tests.size).toBe(1)
    expect(tests.take({ type: 'NotificationResponse', processId: 1, channel, payload: 'wrong token' })).toBe(true)
    expect(tests.take({ type: 'NotificationResponse', processId: 1, channel: 'orders', payload: 'x' })).toBe(false)
    release()
    await expect(run).rejects.toThrow(ListenerError) // the wrong token did not pass it
  })
})

describe('poolerCheck.timeout', () => {
  test('2 s by default; positive and at most what a timer keeps, or a RangeError, at the call', () => {
    expect(selfTestTimeout()).toBe(2_000)
    expect(selfTestTimeout(1)).toBe(1)
    for (const timeout of [0, -5, Number.NaN]) expect(() => selfTestTimeout(timeout)).toThrow(new RangeError(`poolerCheck.timeout must be positive, not ${timeout}`))
    // Past 2^31 - 1 ms a timer fires at once, and the check would fail on every working server.
    expect(() => selfTestTimeout(2 ** 31)).toThrow(new RangeError('poolerCheck.timeout must be at most 2147483647 ms (about 24.8 days, the longest a timer waits), not 2147483648'))
    expect(() => new Listener({ poolerCheck: { timeout: 2 ** 31 }, env: {} })).toThrow(RangeError)
    expect(() => new Listener({ poolerCheck: { timeout: -1 }, env: {} })).toThrow(RangeError)
  })
})
