/**
 * What the listener asks of its connections (src/listener/connect-options.ts): worked out from
 * its options alone, so checked here without a server.
 */
import { describe, expect, test } from 'vitest'
import { attemptPlan, attemptTimeout as attemptTimeoutOf, listeningOptions, quietContext } from '../../../src/listener/connect-options.ts'
import { resolveSettings } from '../../../src/protocol/options/resolve-settings.ts'
import { nodePlatform } from '../../../src/protocol/io/node-platform.ts'
import type { ListenerOptions } from '../../../src/listener/listener-types.ts'

/** No PG* variables of this machine: only what each test gives. */
const base = { env: {}, host: '127.0.0.1', port: 5432, user: 'app' } satisfies ListenerOptions

/** The plan's parts, each on its own, as the tests below ask for them. */
const connectionOptions = async (options: ListenerOptions) => (await attemptPlan(options)).connect
const attemptTimeout = async (options: ListenerOptions) => (await attemptPlan(options)).timeout

describe('connectionOptions', () => {
  test("the listener's own options are not passed to connect()", async () => {
    const options: ListenerOptions = {
      ...base,
      reconnect: { minDelay: 1 },
      heartbeat: false,
      highWaterMark: 10,
      lowWaterMark: 2,
      stallTimeout: false,
      poolerCheck: false,
      applicationName: 'mine',
    }
    const connect = await connectionOptions(options)
    for (const own of ['reconnect', 'heartbeat', 'highWaterMark', 'lowWaterMark', 'stallTimeout', 'poolerCheck']) expect(connect).not.toHaveProperty(own)
    expect(connect).toMatchObject({ host: '127.0.0.1', port: 5432, user: 'app', applicationName: 'mine' })
  })

  test("target_session_attrs 'any' (the default) becomes 'primary': LISTEN is refused on a hot standby", async () => {
    expect((await connectionOptions(base)).targetSessionAttrs).toBe('primary')
    expect((await connectionOptions({ ...base, targetSessionAttrs: 'any' })).targetSessionAttrs).toBe('primary')
    expect((await connectionOptions({ ...base, env: { PGTARGETSESSIONATTRS: 'any' } })).targetSessionAttrs).toBe('primary')
  })

  test('any other target_session_attrs is kept as chosen, from the options or from PGTARGETSESSIONATTRS', async () => {
    for (const attrs of ['read-write', 'read-only', 'primary', 'standby', 'prefer-standby'] as const) {
      expect((await connectionOptions({ ...base, targetSessionAttrs: attrs })).targetSessionAttrs).toBe(attrs)
    }
    expect((await connectionOptions({ ...base, env: { PGTARGETSESSIONATTRS: 'standby' } })).targetSessionAttrs).toBe('standby')
  })

  test('the connection keeps the keepAlive it is given, and has none by default (the notifier)', async () => {
    expect(await connectionOptions(base)).not.toHaveProperty('keepAlive')
    expect((await connectionOptions({ ...base, keepAlive: 3000 })).keepAlive).toBe(3000)
  })
})

describe('listeningOptions', () => {
  test('the listening connection has TCP keepalive after 10 s idle unless told otherwise', async () => {
    expect(listeningOptions(await attemptPlan(base)).keepAlive).toBe(10_000)
    expect(listeningOptions(await attemptPlan({ ...base, keepAlive: 2500 })).keepAlive).toBe(2500)
    expect(listeningOptions(await attemptPlan(base)).targetSessionAttrs).toBe('primary')
  })
})

describe('attemptTimeout', () => {
  test('reconnect.attemptTimeout wins when given, whatever connect_timeout says', async () => {
    expect(await attemptTimeout({ ...base, reconnect: { attemptTimeout: 1234 }, connectTimeout: 60 })).toBe(1234)
  })

  test('by default an attempt gets 10 s', async () => {
    expect(await attemptTimeout(base)).toBe(10_000)
    expect(await attemptTimeout({ ...base, reconnect: { minDelay: 5 } })).toBe(10_000)
    expect(await attemptTimeout({ ...base, connectTimeout: 4 })).toBe(10_000)
  })

  test("without the env option, PG* variables come from the platform's environment; no user is needed to count hosts", async () => {
    const platform = { ...nodePlatform, env: (name: string) => ({ PGHOST: 'h1,h2,h3', PGCONNECT_TIMEOUT: '5' })[name] }
    expect(await attemptTimeout({ platform })).toBe(15_000)
    expect(await attemptTimeout({ platform, env: {} })).toBe(10_000) // the env option wins: nothing read from the platform
  })

  test('connect_timeout for every host in the list, when that is longer than 10 s', async () => {
    expect(await attemptTimeout({ ...base, connectTimeout: 11 })).toBe(11_000)
    expect(await attemptTimeout({ ...base, host: '127.0.0.1,::1,127.0.0.2', port: 5432, connectTimeout: 6 })).toBe(18_000)
  })

  test('connect_timeout is read from the environment of the options (PGCONNECT_TIMEOUT), not the process', async () => {
    expect(await attemptTimeout({ ...base, env: { PGCONNECT_TIMEOUT: '12' } })).toBe(12_000)
    expect(await attemptTimeout({ ...base, env: { PGCONNECT_TIMEOUT: '7', PGHOST: 'a,b' }, host: undefined })).toBe(14_000)
  })

  test('a connection string counts as the options do: its hosts, connect_timeout and target_session_attrs', async () => {
    const options = { env: {}, user: 'app', connectionString: 'postgresql://h1,h2,h3/db?connect_timeout=5&target_session_attrs=standby' }
    expect(await attemptTimeout(options)).toBe(15_000)
    expect((await connectionOptions(options)).targetSessionAttrs).toBe('standby')
    expect(await attemptTimeout({ env: {}, user: 'app', connectionString: 'host=a,b connect_timeout=6' })).toBe(12_000)
    // A database name that is a connection string is one too (libpq's expand_dbname).
    expect(await attemptTimeout({ env: {}, user: 'app', database: 'host=a,b,c connect_timeout=4' })).toBe(12_000)
  })

  test('a malformed connection string rejects, as connect() would', async () => {
    await expect(attemptTimeout({ ...base, connectionString: 'host=a bogus=1' })).rejects.toThrow(/unknown option "bogus"/)
  })
})

describe('attemptTimeout, from settings resolved at once', () => {
  test("gives the plan's timeout (replicate() resolves at the call, to refuse a bad option there)", async () => {
    const cases: ListenerOptions[] = [
      base,
      { ...base, reconnect: { attemptTimeout: 1234 }, connectTimeout: 60 },
      { ...base, host: '127.0.0.1,::1,127.0.0.2', connectTimeout: 6 },
      { env: { PGCONNECT_TIMEOUT: '7', PGHOST: 'a,b' }, user: 'app' },
      { env: {}, user: 'app', connectionString: 'postgres://h1,h2,h3?connect_timeout=5' },
    ]
    const now = (options: ListenerOptions) => attemptTimeoutOf(options, resolveSettings(options, quietContext(options)))
    for (const options of cases) expect(now(options)).toBe(await attemptTimeout(options))
    expect(now(cases[1]!)).toBe(1234)
    expect(now(cases[3]!)).toBe(14_000)
    expect(now(cases[4]!)).toBe(15_000)
  })

  test("quietContext reads PG* variables from the options' env, else the platform's, and never the OS user", () => {
    const platform = { ...nodePlatform, env: (name: string) => ({ PGHOST: 'from-platform' })[name] }
    expect(resolveSettings({ user: 'app' }, quietContext({ platform })).hosts[0]).toMatchObject({ host: 'from-platform' })
    expect(resolveSettings({ user: 'app' }, quietContext({ platform, env: { PGHOST: 'from-env' } })).hosts[0]).toMatchObject({ host: 'from-env' })
    expect(quietContext({}).osUser).toBe('unknown')
  })
})
