/**
 * What the listener asks of its connections (src/listener/connect-options.ts): worked out from
 * its options alone, so checked here without a server.
 */
import { describe, expect, test } from 'vitest'
import { attemptTimeout, connectionOptions, listeningOptions } from '../../../src/listener/connect-options.ts'
import { nodePlatform } from '../../../src/protocol/io/node-platform.ts'
import type { ListenerOptions } from '../../../src/listener/listener-types.ts'

/** No PG* variables of this machine: only what each test gives. */
const base = { env: {}, host: '127.0.0.1', port: 5432, user: 'app' } satisfies ListenerOptions

describe('connectionOptions', () => {
  test("the listener's own options are not passed to connect()", () => {
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
    const connect = connectionOptions(options)
    for (const own of ['reconnect', 'heartbeat', 'highWaterMark', 'lowWaterMark', 'stallTimeout', 'poolerCheck']) expect(connect).not.toHaveProperty(own)
    expect(connect).toMatchObject({ host: '127.0.0.1', port: 5432, user: 'app', applicationName: 'mine' })
  })

  test("target_session_attrs 'any' (the default) becomes 'primary': LISTEN is refused on a hot standby", () => {
    expect(connectionOptions(base).targetSessionAttrs).toBe('primary')
    expect(connectionOptions({ ...base, targetSessionAttrs: 'any' }).targetSessionAttrs).toBe('primary')
    expect(connectionOptions({ ...base, env: { PGTARGETSESSIONATTRS: 'any' } }).targetSessionAttrs).toBe('primary')
  })

  test('any other target_session_attrs is kept as chosen, from the options or from PGTARGETSESSIONATTRS', () => {
    for (const attrs of ['read-write', 'read-only', 'primary', 'standby', 'prefer-standby'] as const) {
      expect(connectionOptions({ ...base, targetSessionAttrs: attrs }).targetSessionAttrs).toBe(attrs)
    }
    expect(connectionOptions({ ...base, env: { PGTARGETSESSIONATTRS: 'standby' } }).targetSessionAttrs).toBe('standby')
  })

  test('the connection keeps the keepAlive it is given, and has none by default (the notifier)', () => {
    expect(connectionOptions(base)).not.toHaveProperty('keepAlive')
    expect(connectionOptions({ ...base, keepAlive: 3000 }).keepAlive).toBe(3000)
  })
})

describe('listeningOptions', () => {
  test('the listening connection has TCP keepalive after 10 s idle unless told otherwise', () => {
    expect(listeningOptions(base).keepAlive).toBe(10_000)
    expect(listeningOptions({ ...base, keepAlive: 2500 }).keepAlive).toBe(2500)
    expect(listeningOptions(base).targetSessionAttrs).toBe('primary')
  })
})

describe('attemptTimeout', () => {
  test('reconnect.attemptTimeout wins when given, whatever connect_timeout says', () => {
    expect(attemptTimeout({ ...base, reconnect: { attemptTimeout: 1234 }, connectTimeout: 60 })).toBe(1234)
  })

  test('by default an attempt gets 10 s', () => {
    expect(attemptTimeout(base)).toBe(10_000)
    expect(attemptTimeout({ ...base, reconnect: { minDelay: 5 } })).toBe(10_000)
    expect(attemptTimeout({ ...base, connectTimeout: 4 })).toBe(10_000)
  })

  test("without the env option, PG* variables come from the platform's environment; no user is needed to count hosts", () => {
    const platform = { ...nodePlatform, env: (name: string) => ({ PGHOST: 'h1,h2,h3', PGCONNECT_TIMEOUT: '5' })[name] }
    expect(attemptTimeout({ platform })).toBe(15_000)
    expect(attemptTimeout({ platform, env: {} })).toBe(10_000) // the env option wins: nothing read from the platform
  })

  test('connect_timeout for every host in the list, when that is longer than 10 s', () => {
    expect(attemptTimeout({ ...base, connectTimeout: 11 })).toBe(11_000)
    expect(attemptTimeout({ ...base, host: '127.0.0.1,::1,127.0.0.2', port: 5432, connectTimeout: 6 })).toBe(18_000)
  })

  test('connect_timeout is read from the environment of the options (PGCONNECT_TIMEOUT), not the process', () => {
    expect(attemptTimeout({ ...base, env: { PGCONNECT_TIMEOUT: '12' } })).toBe(12_000)
    expect(attemptTimeout({ ...base, env: { PGCONNECT_TIMEOUT: '7', PGHOST: 'a,b' }, host: undefined })).toBe(14_000)
  })
})
