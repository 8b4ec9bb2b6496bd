/**
 * loadSettings (src/protocol/options/resolve.ts), what connect() and the listener resolve with:
 * resolveSettings, but with the connection-string parser loaded only when a connection string
 * is given. It must agree with resolveSettings on every input: the same Settings, or the same
 * error, first complaint first. (That the parser is left out of bundles that pass objects is
 * test/unit/bundle-split.test.ts's to check.)
 */
import { fc, test as property } from '@fast-check/vitest'
import { describe, expect, test } from 'vitest'
import { resolveSettings, type ConnectionOptions, type ResolveContext } from '../../../src/protocol/options/index.ts'
import { loadSettings } from '../../../src/protocol/options/resolve.ts'

const defaultContext: ResolveContext = { osUser: 'osann', homeDir: '/home/osann', env: { PGHOST: 'envhost', PGPORT: '6000' } }

/** What each resolver makes of `options`: its settings, or its error's class and message. */
async function outcomes(options: ConnectionOptions | string, context = defaultContext): Promise<{ now: unknown; loaded: unknown }> {
  const describe = (error: unknown) => ({ error: (error as Error).constructor.name, message: (error as Error).message })
  let now: unknown
  try {
    now = resolveSettings(options, context)
  } catch (error) {
    now = describe(error)
  }
  const loaded = await loadSettings(options, context).catch(describe)
  return { now, loaded }
}

describe('loadSettings gives what resolveSettings gives', () => {
  test.each<[string, ConnectionOptions | string]>([
    ['an options object', { host: 'h', port: 5433, user: 'u', password: 'pw', sslmode: 'require' }],
    ['nothing: the environment and the defaults', {}],
    ['a URI', 'postgresql://u:pw@h1:5433,h2/db?sslmode=verify-full&connect_timeout=5'],
    ['keyword=value settings', "host=h user=u dbname='my db' target_session_attrs=standby"],
    ['a database option that is a connection string (expand_dbname)', { database: 'host=dbhost dbname=real user=u', port: 5999 }],
    ['both: the database option\'s string wins over connectionString, the explicit options over both', { user: 'explicit', database: 'host=a user=b', connectionString: 'host=c user=d dbname=e port=7000' }],
    ['a database name that is not a connection string', { user: 'u', database: 'plain' }],
    // hostaddr's check loads only when a hostaddr is set (numeric-address.ts): with one, and without.
    ['hostaddr lists, IPv4 and IPv6, with an empty entry', { host: 'a,b,c', hostaddr: '10.0.0.1,,fe80::1%eth0' }],
    ['hostaddr in a connection string', 'host=h hostaddr=127.0.0.1 port=5433'],
    ['an empty hostaddr: no address to check', { host: 'h', hostaddr: '' }],
  ])('%s', async (_, options) => {
    const { now, loaded } = await outcomes(options)
    expect(now).not.toHaveProperty('error')
    expect(loaded).toEqual(now)
    // The password stays hidden in both: not enumerable, the same value.
    expect((loaded as { password?: unknown }).password).toBe((now as { password?: unknown }).password)
  })

  test.each<[string, ConnectionOptions | string, RegExp]>([
    ['a malformed connection string', 'host=h bogus=1', /unknown option "bogus"/],
    ['a malformed URI', 'postgresql://h:notaport/db', /invalid integer value "notaport"|port/],
    ['a bad explicit option before a malformed string: the option is named first', { port: 70000, connectionString: 'host=h bogus=1' }, /invalid port number 70000/],
    ['a malformed string before a value libpq refuses: the string is named first', { sslmode: 'sometimes' as never, connectionString: 'host=h bogus=1' }, /"bogus"/],
    ['two malformed strings: the database option\'s first', { database: 'host=h one=1', connectionString: 'host=h two=2' }, /"one"/],
    ['a connection string that is not a string', { connectionString: 5 as never }, /connectionString must be a string/],
    ['options that are neither an object nor a string', 42 as never, /options must be an object or a connection string/],
    ['null options', null as never, /options must be an object or a connection string/],
    ['a value refused in the database option\'s connection string: the source is named', { database: 'host=h sslmode=sometimes' }, /"sometimes" from the connection string in the database option;/],
    ['a value refused in connectionString: the source is named', { connectionString: 'host=h sslmode=sometimes' }, /"sometimes" from the connection string;/],
    ['a value libpq refuses, in the string', 'host=h sslmode=sometimes', /sslmode/],
    ['a hostaddr that is a name', { host: 'h', hostaddr: 'localhost' }, /invalid hostaddr "localhost" from the hostaddr option/],
    ['a hostaddr that is a name, in the string', 'hostaddr=127.1', /invalid hostaddr "127.1"/],
    ['a bad port on the first host before a bad hostaddr on the second', { host: 'a,b', hostaddr: '10.0.0.1,nope', port: 'x,5432' }, /invalid integer value "x"/],
    ['an unsupported setting before a bad hostaddr', 'hostaddr=nope requirepeer=postgres', /does not support the libpq setting requirepeer=postgres/],
  ])('%s: the same error', async (_, options, message) => {
    const { now, loaded } = await outcomes(options)
    expect(now).toMatchObject({ message: expect.stringMatching(message) })
    expect(loaded).toEqual(now)
  })

  test.each<[string, string]>([
    ['a numeric PGHOSTADDR', '10.1.2.3'],
    ['a PGHOSTADDR that is a name', 'db.example'],
  ])('%s: the same outcome', async (_, address) => {
    const { now, loaded } = await outcomes({ user: 'u' }, { ...defaultContext, env: { PGHOST: 'h', PGHOSTADDR: address } })
    expect(loaded).toEqual(now)
    expect(JSON.stringify(now)).toContain(address)
  })

  property.prop([fc.string({ maxLength: 40 }), fc.option(fc.string({ maxLength: 20 }), { nil: undefined })])(
    'on any connection string and database option, the same settings or the same error',
    async (connectionString, database) => {
      const options: ConnectionOptions = { connectionString, ...(database !== undefined ? { database } : {}) }
      const { now, loaded } = await outcomes(options)
      expect(loaded).toEqual(now)
    },
  )

  property.prop([fc.constantFrom('host', 'hostaddr', 'port', 'user', 'dbname', 'sslmode', 'connect_timeout', 'application_name', 'bogus'), fc.string({ maxLength: 12 })])(
    'on keyword=value settings built from libpq keywords, the same settings or the same error',
    async (keyword, value) => {
      const text = `${keyword}='${value.replace(/[\\']/g, '\\$&')}' user=u`
      const { now, loaded } = await outcomes(text)
      expect(loaded).toEqual(now)
    },
  )
})
