/**
 * Where each setting comes from: explicit options, then the connection string, then the PG*
 * environment, then libpq's defaults; empty values as libpq treats them; multiple hosts; and
 * the database option read as a connection string (libpq's expand_dbname).
 */
import { describe, expect, test } from 'vitest'
import { resolveSettings, type ResolveContext } from '../../../src/protocol/options/index.ts'

const context: ResolveContext = { osUser: 'osann', homeDir: '/home/osann' }
const withEnv = (env: Record<string, string>): ResolveContext => ({ ...context, env })

describe('defaults', () => {
  test('nothing given: a Unix socket in /tmp, port 5432, the OS user, database = user, libpq\'s modes', () => {
    const settings = resolveSettings({}, context)
    expect(settings).toEqual({
      hosts: [{ host: '/tmp', port: 5432 }],
      user: 'osann',
      database: 'osann',
      passfile: '/home/osann/.pgpass',
      sslmode: 'prefer',
      sslcertmode: 'allow',
      sslnegotiation: 'postgres',
      sslsni: true,
      channelBinding: 'prefer',
      targetSessionAttrs: 'any',
    })
    expect(settings.password).toBeUndefined()
    expect(settings.connectTimeout).toBeUndefined()
  })

  test('unset optional settings are left out, not set to undefined; no password property without a password', () => {
    const settings = resolveSettings({}, context)
    expect(Object.entries(settings).filter(([, value]) => value === undefined)).toEqual([])
    for (const key of ['applicationName', 'options', 'connectTimeout', 'sslrootcert', 'sslcert', 'sslkey', 'requireAuth', 'password']) expect(key in settings).toBe(false)
    expect('password' in resolveSettings({ password: 'pw' }, context)).toBe(true)
  })

  test('the database defaults to the resolved user, wherever the user came from', () => {
    expect(resolveSettings('user=bob', context).database).toBe('bob')
    expect(resolveSettings({}, withEnv({ PGUSER: 'carol' })).database).toBe('carol')
  })

  test('no user anywhere is a TypeError', () => {
    expect(() => resolveSettings({}, {})).toThrow(TypeError)
    expect(() => resolveSettings({}, {})).toThrow(/no user name/)
    expect(resolveSettings({ user: 'ann' }, {}).user).toBe('ann')
  })

  test('no home folder and no passfile: no password file ("")', () => {
    expect(resolveSettings({ user: 'ann' }, {}).passfile).toBe('')
  })

  test('Windows: localhost instead of a socket, %APPDATA%\\postgresql\\pgpass.conf', () => {
    const settings = resolveSettings({}, { ...context, homeDir: 'C:\\Users\\ann\\AppData\\Roaming\\postgresql', platform: 'win32' })
    expect(settings.hosts).toEqual([{ host: 'localhost', port: 5432 }])
    expect(settings.passfile).toBe('C:\\Users\\ann\\AppData\\Roaming\\postgresql/pgpass.conf')
  })

  test('a string argument is a connection string', () => {
    expect(resolveSettings('postgres://h:6000/db', context)).toMatchObject({ hosts: [{ host: 'h', port: 6000 }], database: 'db' })
  })
})

describe('priority: explicit > connection string > environment > default', () => {
  const env = { PGHOST: 'envhost', PGPORT: '7000', PGUSER: 'envuser', PGDATABASE: 'envdb', PGAPPNAME: 'envapp', PGSSLMODE: 'disable' }

  test('the environment fills what nothing else sets', () => {
    expect(resolveSettings({}, withEnv(env))).toMatchObject({
      hosts: [{ host: 'envhost', port: 7000 }], user: 'envuser', database: 'envdb', applicationName: 'envapp', sslmode: 'disable',
    })
  })

  test('the connection string beats the environment', () => {
    expect(resolveSettings({ connectionString: 'postgres://csuser@cshost/csdb?sslmode=require' }, withEnv(env))).toMatchObject({
      hosts: [{ host: 'cshost', port: 7000 }], user: 'csuser', database: 'csdb', applicationName: 'envapp', sslmode: 'require',
    })
  })

  test('explicit options beat both', () => {
    const settings = resolveSettings(
      { connectionString: 'postgres://csuser@cshost/csdb?sslmode=require', host: 'opthost', port: 8000, sslmode: 'verify-full' },
      withEnv(env),
    )
    expect(settings).toMatchObject({ hosts: [{ host: 'opthost', port: 8000 }], user: 'csuser', database: 'csdb', sslmode: 'verify-full' })
  })

  test('an explicit empty string counts as not given (PQconnectdbParams skips empty values)', () => {
    expect(resolveSettings({ connectionString: 'host=cshost', host: '' }, withEnv(env)).hosts[0]?.host).toBe('cshost')
    expect(resolveSettings({ host: '', user: '' }, withEnv(env))).toMatchObject({ hosts: [{ host: 'envhost' }], user: 'envuser' })
  })

  test('an empty value in a connection string is set: it hides the environment and means the default', () => {
    expect(resolveSettings("host='' port=''", withEnv(env)).hosts).toEqual([{ host: '/tmp', port: 5432 }])
  })

  test('URI parts left empty are not set, so the environment still applies', () => {
    expect(resolveSettings('postgres:///', withEnv(env))).toMatchObject({ hosts: [{ host: 'envhost', port: 7000 }], database: 'envdb' })
  })

  test('a URI host list stores an empty port list, which hides PGPORT (as in libpq)', () => {
    expect(resolveSettings('postgres://a,b', withEnv(env)).hosts).toEqual([{ host: 'a', port: 5432 }, { host: 'b', port: 5432 }])
  })

  test('password: explicit, then the connection string, then PGPASSWORD', () => {
    expect(resolveSettings({ password: 'opt', connectionString: 'password=cs' }, withEnv({ PGPASSWORD: 'env' })).password).toBe('opt')
    expect(resolveSettings({ connectionString: 'password=cs' }, withEnv({ PGPASSWORD: 'env' })).password).toBe('cs')
    expect(resolveSettings({}, withEnv({ PGPASSWORD: 'env' })).password).toBe('env')
  })

  test('a password function is kept as given', () => {
    const ask = () => 'from a vault'
    expect(resolveSettings({ password: ask }, context).password).toBe(ask)
  })
})

describe('the environment', () => {
  test('each PG* variable sets its libpq keyword', () => {
    const settings = resolveSettings({}, withEnv({
      PGHOST: 'h1,h2', PGHOSTADDR: '10.0.0.1,10.0.0.2', PGPORT: '6001,6002', PGUSER: 'u', PGPASSWORD: 'pw', PGDATABASE: 'd',
      PGAPPNAME: 'a', PGOPTIONS: '-c geqo=off', PGCONNECT_TIMEOUT: '7', PGSSLMODE: 'verify-ca', PGSSLROOTCERT: '/ca.pem',
      PGSSLCERT: '/c.pem', PGSSLKEY: '/k.pem', PGSSLNEGOTIATION: 'direct', PGSSLSNI: '0', PGCHANNELBINDING: 'require',
      PGREQUIREAUTH: 'scram-sha-256', PGTARGETSESSIONATTRS: 'read-write', PGPASSFILE: '/pgpass', PGSSLCERTMODE: 'disable',
    }))
    expect(settings).toEqual({
      hosts: [{ host: 'h1', hostaddr: '10.0.0.1', port: 6001 }, { host: 'h2', hostaddr: '10.0.0.2', port: 6002 }],
      user: 'u', database: 'd', passfile: '/pgpass', applicationName: 'a', options: '-c geqo=off', connectTimeout: 7,
      sslmode: 'verify-ca', sslrootcert: '/ca.pem', sslcert: '/c.pem', sslkey: '/k.pem', sslcertmode: 'disable', sslnegotiation: 'direct', sslsni: false,
      channelBinding: 'require', requireAuth: 'scram-sha-256', targetSessionAttrs: 'read-write',
    })
    expect(settings.password).toBe('pw')
  })

  test('empty variables that mean "unset" in libpq: host, port, user, database, password, texts and files', () => {
    const settings = resolveSettings({}, withEnv({
      PGHOST: '', PGPORT: '', PGUSER: '', PGDATABASE: '', PGPASSWORD: '', PGAPPNAME: '', PGOPTIONS: '', PGSSLROOTCERT: '', PGREQUIREAUTH: '', PGPASSFILE: '',
    }))
    expect(settings).toEqual(resolveSettings({}, context))
    expect(settings.password).toBeUndefined()
  })

  test.each(['PGSSLMODE', 'PGSSLNEGOTIATION', 'PGCHANNELBINDING', 'PGTARGETSESSIONATTRS', 'PGCONNECT_TIMEOUT'])(
    'an empty %s is an invalid value, as in libpq',
    (variable) => {
      expect(() => resolveSettings({}, withEnv({ [variable]: '' }))).toThrow(RangeError)
      expect(() => resolveSettings({}, withEnv({ [variable]: '' }))).toThrow(`from ${variable}`)
    },
  )

  test('the obsolete PGREQUIRESSL=1 means sslmode=require, unless PGSSLMODE is set', () => {
    expect(resolveSettings({}, withEnv({ PGREQUIRESSL: '1' })).sslmode).toBe('require')
    expect(resolveSettings({}, withEnv({ PGREQUIRESSL: '0' })).sslmode).toBe('prefer')
    expect(resolveSettings({}, withEnv({ PGREQUIRESSL: '1', PGSSLMODE: 'disable' })).sslmode).toBe('disable')
  })

  test('variables libpq does not read are ignored', () => {
    expect(resolveSettings({}, withEnv({ PGHOSTNAME: 'x', DATABASE_URL: 'postgres://elsewhere' }))).toEqual(resolveSettings({}, context))
  })
})

describe('application_name', () => {
  test('fallback_application_name applies only when application_name is set nowhere', () => {
    expect(resolveSettings({ fallbackApplicationName: 'fb' }, context).applicationName).toBe('fb')
    expect(resolveSettings({ fallbackApplicationName: 'fb' }, withEnv({ PGAPPNAME: 'env' })).applicationName).toBe('env')
    expect(resolveSettings({ fallbackApplicationName: 'fb', connectionString: "application_name=''" }, context).applicationName).toBe('fb')
  })
})

describe('the database option as a connection string (libpq\'s expand_dbname)', () => {
  test('a URI or text with "=" in database is read as a connection string', () => {
    expect(resolveSettings({ database: 'postgres://u@h:6000/realdb' }, context)).toMatchObject({ hosts: [{ host: 'h', port: 6000 }], user: 'u', database: 'realdb' })
    expect(resolveSettings({ database: 'dbname=realdb user=u' }, context)).toMatchObject({ database: 'realdb', user: 'u' })
  })

  test('other options override it; it overrides connectionString', () => {
    const settings = resolveSettings({ database: 'host=h1 user=u1', user: 'u2', connectionString: 'host=h0 dbname=d0' }, context)
    expect(settings).toMatchObject({ hosts: [{ host: 'h1' }], user: 'u2', database: 'd0' })
  })

  test('a plain name is a name; a dbname inside a connection string is never expanded', () => {
    expect(resolveSettings({ database: 'my db' }, context).database).toBe('my db')
    expect(resolveSettings("dbname='host=x'", context)).toMatchObject({ database: 'host=x', hosts: [{ host: '/tmp' }] })
  })
})

describe('multiple hosts', () => {
  test('one port applies to every host; a list pairs up', () => {
    expect(resolveSettings({ host: 'a,b,c', port: 6000 }, context).hosts.map((h) => h.port)).toEqual([6000, 6000, 6000])
    expect(resolveSettings({ host: 'a,b', port: '1,2' }, context).hosts).toEqual([{ host: 'a', port: 1 }, { host: 'b', port: 2 }])
  })

  test('an empty entry means the default host or port', () => {
    expect(resolveSettings({ host: 'a,,/run/pg', port: '1,,' }, context).hosts).toEqual([
      { host: 'a', port: 1 }, { host: '/tmp', port: 5432 }, { host: '/run/pg', port: 5432 },
    ])
  })

  test('hostaddr pairs with host; without a host the target\'s host is ""', () => {
    expect(resolveSettings({ host: 'a,', hostaddr: '10.0.0.1,::1' }, context).hosts).toEqual([
      { host: 'a', hostaddr: '10.0.0.1', port: 5432 }, { host: '', hostaddr: '::1', port: 5432 },
    ])
  })

  test('an empty hostaddr entry falls back to the host, or the default', () => {
    expect(resolveSettings({ host: 'a,', hostaddr: ',' }, context).hosts).toEqual([{ host: 'a', port: 5432 }, { host: '/tmp', port: 5432 }])
  })
})
