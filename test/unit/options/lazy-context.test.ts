/**
 * Least privilege (Deno grants --allow-env per variable, --allow-sys for the user name): the
 * facts of the process are asked for only when a setting needs them, each environment variable
 * one by one and only the PG* ones libpq reads, and a getter that throws (NotCapable,
 * PermissionDenied) counts as "not known", with a warning, never as a failure.
 */
import { describe, expect, test, vi } from 'vitest'
import { ConnectionLostError } from '../../../src/protocol/errors.ts'
import { connect, connectWith } from '../../../src/protocol/io/connect.ts'
import { Connection, type OpenOptions } from '../../../src/protocol/io/connection.ts'
import { nodePlatform } from '../../../src/protocol/io/node-platform.ts'
import { createWorkersPlatform } from '../../../src/protocol/io/workers-platform.ts'
import { environmentReader, lazyFact, onceEach } from '../../../src/protocol/options/context.ts'
import type { Platform } from '../../../src/protocol/io/platform.ts'
import { resolveSettings, type ResolveContext } from '../../../src/protocol/options/index.ts'
import { KEYWORDS } from '../../../src/protocol/options/keywords.ts'

/** What Deno throws for a permission not granted. */
class NotCapable extends Error {
  override name = 'NotCapable'
}
const refused = (what: string) => () => {
  throw new NotCapable(`Requires ${what} access`)
}

describe('resolveSettings asks only for what it needs', () => {
  test('with a user and a password given, neither the OS user nor the home folder is asked for', () => {
    const osUser = vi.fn(refused('sys'))
    const homeDir = vi.fn(refused('env'))
    const warn = vi.fn()
    const settings = resolveSettings({ user: 'ann', password: 'pw' }, { osUser, homeDir, warn })
    expect(settings.user).toBe('ann')
    expect(settings.passfile).toBe('') // no password file would be read
    expect(osUser).not.toHaveBeenCalled()
    expect(homeDir).not.toHaveBeenCalled()
    expect(warn).not.toHaveBeenCalled()
  })

  test('a named passfile needs no home folder either', () => {
    const homeDir = vi.fn(refused('env'))
    expect(resolveSettings({ user: 'ann', passfile: '/etc/pgpass' }, { homeDir }).passfile).toBe('/etc/pgpass')
    expect(homeDir).not.toHaveBeenCalled()
  })

  test('without a password, the home folder is asked for, once, for the default password file', () => {
    const homeDir = vi.fn(() => '/home/ann')
    expect(resolveSettings({ user: 'ann' }, { homeDir }).passfile).toBe('/home/ann/.pgpass')
    expect(homeDir).toHaveBeenCalledOnce()
  })

  test('a home folder that cannot be read is a warning, and no password file: not a failure', () => {
    const warn = vi.fn()
    const settings = resolveSettings({ user: 'ann' }, { homeDir: refused('env'), warn })
    expect(settings.passfile).toBe('')
    expect(warn).toHaveBeenCalledOnce()
    expect(warn.mock.calls[0]![0]).toMatch(/^the home folder is not available \(NotCapable: Requires env access\)/)
  })

  test('without a user, the OS user is asked for; refused, it is a warning, then the usual TypeError for no user', () => {
    const warn = vi.fn()
    expect(resolveSettings({}, { osUser: () => 'osann', homeDir: '/h' }).user).toBe('osann')
    expect(() => resolveSettings({ password: 'pw' }, { osUser: refused('sys'), warn })).toThrow(/no user name/)
    expect(warn.mock.calls[0]![0]).toMatch(/^the operating system's user name is not available \(NotCapable/)
  })

  test('the environment is read one variable at a time, only the PG* ones libpq reads; one refused is unset, with one warning', () => {
    const asked: string[] = []
    const env = (name: string) => {
      asked.push(name)
      if (name === 'PGHOST') return 'envhost'
      if (name === 'PGUSER') return 'envuser'
      throw new NotCapable(`Requires env access to "${name}"`)
    }
    const warn = vi.fn()
    const settings = resolveSettings({ password: 'pw' }, { env, warn } satisfies ResolveContext)
    expect(settings.hosts).toEqual([{ host: 'envhost', port: 5432 }])
    expect(settings.user).toBe('envuser')
    expect(asked.every((name) => name.startsWith('PG'))).toBe(true)
    expect(asked).not.toContain('PGPASSWORD') // given as an option: its variable is never read
    expect(asked).toContain('PGPORT')
    expect(new Set(asked).size).toBe(asked.length) // each once
    expect(warn).toHaveBeenCalledOnce()
    expect(warn.mock.calls[0]![0]).toMatch(/^the environment variable PG\w+ cannot be read \(NotCapable/)
  })

  test('with every option a variable could set given, no variable is read (libpq reads one only for an unset keyword)', () => {
    const env = vi.fn((name: string): string | undefined => refused(`env ${name}`)())
    const warn = vi.fn()
    // Every keyword with a variable, set in the connection string (empty where empty means the
    // default), but service and servicefile, which pglisten refuses or ignores.
    const text = [
      "user=u password=p passfile='' channel_binding=disable connect_timeout=5 dbname=d host=h hostaddr='' port=5432",
      "client_encoding=UTF8 options='' application_name=a sslmode=disable sslnegotiation=postgres sslcompression=0",
      "sslcert='' sslkey='' sslcertmode=allow sslrootcert='' sslcrl='' sslcrldir='' sslsni=1 requirepeer='' require_auth=''",
      "min_protocol_version=3.0 max_protocol_version=3.2 ssl_min_protocol_version=tlsv1.2 ssl_max_protocol_version=''",
      "gssencmode=disable krbsrvname=postgres gsslib=gssapi gssdelegation=0 target_session_attrs=any load_balance_hosts=disable",
    ].join(' ')
    const settings = resolveSettings(text, { env, warn })
    expect(settings.user).toBe('u')
    const withVariables = Object.entries(KEYWORDS).filter(([, k]) => k.env !== undefined).map(([keyword]) => keyword)
    expect(withVariables.filter((keyword) => !new RegExp(`(^| )${keyword}=`).test(text))).toEqual(['service', 'servicefile'])
    expect(env.mock.calls.map(([name]) => name).sort()).toEqual(['PGSERVICE', 'PGSERVICEFILE'])
  })
})

describe('connect() on a platform that refuses everything', () => {
  /** Node's platform with every fact refused, and no socket: the attempt fails where the link would open. */
  function refusing(): { platform: Platform; asked: string[]; opened: number } {
    const state = { asked: [] as string[], opened: 0 }
    const platform: Platform = {
      ...nodePlatform,
      env: (name) => (state.asked.push(`env ${name}`), refused('env')()),
      homeDir: () => (state.asked.push('homeDir'), refused('sys')()),
      osUser: () => (state.asked.push('osUser'), refused('sys')()),
      openLink: async () => {
        state.opened++
        throw new ConnectionLostError('no socket in this test')
      },
    }
    return Object.assign(state, { platform })
  }

  test('with the env option, a user and a password: nothing of the process is asked for, and no warning', async () => {
    const { platform, asked } = refusing()
    const onWarning = vi.fn()
    const error = await connectWith(platform, { env: {}, host: 'h', user: 'u', password: 'p', sslmode: 'disable', onWarning }).catch((e: unknown) => e)
    expect(error).toEqual(new ConnectionLostError('no socket in this test'))
    expect(asked).toEqual([])
    expect(onWarning).not.toHaveBeenCalled()
  })

  test('over TLS with the root certificate given and sslcertmode=disable, the home folder is never asked for', async () => {
    const state = refusing()
    const onWarning = vi.fn()
    await connectWith(state.platform, { env: {}, host: 'h', user: 'u', password: 'p', sslmode: 'verify-full', sslrootcert: { pem: 'PEM' }, sslcertmode: 'disable', onWarning }).catch(() => undefined)
    expect(state.asked).toEqual([])
    expect(state.opened).toBe(1) // it got as far as the socket
    expect(onWarning).not.toHaveBeenCalled()
    // The same without sslcertmode=disable: libpq's default client certificate needs the home folder.
    const other = refusing()
    await connectWith(other.platform, { env: {}, host: 'h', user: 'u', password: 'p', sslmode: 'verify-full', sslrootcert: { pem: 'PEM' }, onWarning }).catch(() => undefined)
    expect(other.asked).toEqual(['homeDir'])
  })

  test('refusals are warnings (one per fact), and the attempt goes on to the socket', async () => {
    const state = refusing()
    const onWarning = vi.fn()
    await connectWith(state.platform, { host: 'h', user: 'u', sslmode: 'prefer', onWarning }).catch(() => undefined)
    expect(state.opened).toBe(1) // not a failed connection: the refusals did not stop it
    expect(state.asked.filter((what) => what === 'homeDir')).toHaveLength(1) // asked once for pgpass and root.crt
    expect(state.asked).not.toContain('osUser')
    const warnings = onWarning.mock.calls.map(([message]) => message as string)
    expect(warnings).toHaveLength(2)
    expect(warnings[0]).toMatch(/^the environment variable PG\w+ cannot be read/)
    expect(warnings[1]).toMatch(/^the home folder is not available/)
  })
})

describe('what a refusal is called in the warning', () => {
  test("its name and message; only the message for a plain Error; the value itself for a throw that is not an Error", () => {
    const warnings: string[] = []
    const warn = (message: string) => void warnings.push(message)
    lazyFact(refused('sys'), 'the home folder', warn)()
    lazyFact(() => { throw new Error('plain') }, 'the home folder', warn)()
    lazyFact(() => { throw 'a string' }, 'the home folder', warn)()
    expect(warnings).toEqual([
      'the home folder is not available (NotCapable: Requires sys access); going on without it',
      'the home folder is not available (plain); going on without it',
      'the home folder is not available (a string); going on without it',
    ])
    // Without a sink, a refusal is still only "not available".
    expect(lazyFact(refused('sys'), 'x')()).toBeUndefined()
    const env = environmentReader((name) => { throw new Error(`no ${name}`) })
    expect(env('PGHOST')).toBeUndefined()
  })
})

describe("the platforms' own warnings: each message once, however often the listener reconnects", () => {
  test("Node's: process.emitWarning once per message (Deno's refusals came again at every reconnect)", async () => {
    const emitted = vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
    try {
      const platform: Platform = {
        ...nodePlatform,
        homeDir: refused('sys'),
        openLink: async () => {
          throw new ConnectionLostError('no socket in this test')
        },
      }
      // No onWarning: the platform's warn is used, as a listener without one uses it at every attempt.
      for (let attempt = 0; attempt < 3; attempt++) await connectWith(platform, { env: {}, host: 'h', user: 'u', sslmode: 'prefer' }).catch(() => undefined)
      const told = emitted.mock.calls.filter(([message]) => String(message).startsWith('the home folder is not available (NotCapable: Requires sys access)'))
      expect(told).toHaveLength(1)
      expect(told[0]![1]).toBe('PgListenWarning')
      nodePlatform.warn('another message')
      nodePlatform.warn('another message')
      expect(emitted.mock.calls.filter(([message]) => message === 'another message')).toHaveLength(1)
    } finally {
      emitted.mockRestore()
    }
  })

  test("a Worker's: console.warn once per message and platform", () => {
    const warned = vi.spyOn(console, 'warn').mockImplementation(() => {})
    try {
      const platform = createWorkersPlatform(() => {
        throw new Error('no socket in this test')
      })
      platform.warn('the same thing')
      platform.warn('the same thing')
      platform.warn('something else')
      expect(warned.mock.calls).toEqual([['pglisten: the same thing'], ['pglisten: something else']])
    } finally {
      warned.mockRestore()
    }
  })

  test('onceEach remembers up to its limit, then lets new messages repeat rather than grow', () => {
    const emit = vi.fn()
    const warn = onceEach(emit, 2)
    for (const message of ['a', 'b', 'a', 'b', 'c', 'c']) warn(message)
    expect(emit.mock.calls.map(([m]) => m)).toEqual(['a', 'b', 'c', 'c'])
  })
})

describe('connect() and its platform', () => {
  test('connect() without a platform, and Connection.open() without one, are TypeErrors that say where one comes from', async () => {
    await expect(connect({ host: 'h', user: 'u' })).rejects.toThrow(new TypeError("no platform: import connect() from 'pglisten' or 'pglisten/protocol', whose entry point supplies this runtime's"))
    const options = { host: 'h', port: 5432, user: 'u', tls: { mode: 'disable' }, useTls: false } as unknown as OpenOptions
    await expect(Connection.open(options)).rejects.toThrow(TypeError)
    await expect(Connection.open(options)).rejects.toThrow(/needs options\.platform/)
  })

  test("replication other than 'database' is a RangeError, before any socket opens", async () => {
    let opened = 0
    const platform: Platform = {
      ...nodePlatform,
      openLink: async () => {
        opened++
        throw new ConnectionLostError('no socket in this test')
      },
    }
    for (const replication of ['true', 'physical', '']) {
      const error = await connectWith(platform, { env: {}, host: 'h', user: 'u', password: 'p', replication: replication as 'database' }).catch((e: unknown) => e)
      expect(error).toEqual(new RangeError(`replication must be 'database' (logical replication) or absent, not ${JSON.stringify(replication)}`))
    }
    expect(opened).toBe(0)
    // 'database' itself goes on to the socket.
    await connectWith(platform, { env: {}, host: 'h', user: 'u', password: 'p', sslmode: 'disable', replication: 'database' }).catch(() => undefined)
    expect(opened).toBe(1)
  })

  test('the options object is read as given: a handler on its prototype is called', async () => {
    const warnings: string[] = []
    class Options {
      env = {}
      host = 'h'
      user = 'u'
      sslmode = 'prefer' as const
      onWarning(message: string): void {
        warnings.push(message)
      }
    }
    const platform: Platform = {
      ...nodePlatform,
      homeDir: refused('sys'),
      openLink: async () => {
        throw new ConnectionLostError('no socket in this test')
      },
    }
    await connectWith(platform, new Options()).catch(() => undefined)
    expect(warnings).toEqual([expect.stringMatching(/^the home folder is not available/)])
  })
})
