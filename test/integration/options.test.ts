/**
 * libpq's connection options against the real server: every sslmode, channel binding, direct
 * TLS, several hosts, the password file, require_auth, target_session_attrs, and settings from
 * connection strings and the environment.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, onTestFinished, test } from 'vitest'
import { SaltedPasswordCache } from '../../src/protocol/auth/salted-password-cache.ts'
import { AuthenticationRefusedError, DatabaseError, ProtocolViolationError } from '../../src/protocol/errors.ts'
import { connect as connectLibpq } from '../../src/protocol/index.ts'
import type { Connection } from '../../src/protocol/io/connection.ts'
import { testCertificate } from '../support/fake-server.ts'
import { connect, isolated, server } from '../support/connect.ts'

const pg = server()
const users = pg.users
const open: Connection[] = []
async function track(connection: Promise<Connection>): Promise<Connection> {
  const c = await connection
  open.push(c)
  return c
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()))
})
const value = async (c: Connection, sql: string) => (await c.query(sql))[0]!.rows[0]![0]
const version = Number(pg.serverVersion ?? 180000)

describe.skipIf(!users || !pg.tls)('sslmode', () => {
  const ca = () => ({ pem: pg.tls!.ca })

  test.each([
    ['disable', false],
    ['allow', false], // plain first, and the server takes it
    ['prefer', true],
    ['require', true],
  ] as const)('sslmode=%s connects, encrypted: %s', async (sslmode, encrypted) => {
    const c = await track(connect(users!.scram, 'tcp', { sslmode }))
    expect(c.encrypted).toBe(encrypted)
    expect(await value(c, 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).toBe(encrypted ? 't' : 'f')
  })

  test('sslmode=allow retries with TLS when the server refuses the plain attempt', async () => {
    const c = await track(connect(users!.tlsOnly, 'tcp', { sslmode: 'allow' })) // hostnossl ... reject, then hostssl
    expect(c.encrypted).toBe(true)
  })

  test('sslmode=require without a root certificate does not verify the chain (libpq)', async () => {
    const c = await track(connect(users!.scram, 'tcp', { sslmode: 'require', sslrootcert: undefined }))
    expect(c.encrypted).toBe(true)
  })

  test('sslmode=require with a root certificate verifies the chain: an unknown CA is refused', async () => {
    const error = await connect(users!.scram, 'tcp', { sslmode: 'require', sslrootcert: { pem: testCertificate().cert } }).catch((e) => e)
    expect(error).toBeInstanceOf(AuthenticationRefusedError)
  })

  test('verify-ca accepts the right CA, whatever name we used', async () => {
    const c = await track(connect(users!.scram, 'tcp', { sslmode: 'verify-ca', sslrootcert: ca(), host: 'wrong.example', hostaddr: pg.host }))
    expect(c.encrypted).toBe(true)
  })

  test('verify-ca against an unknown CA is refused', async () => {
    const error = await connect(users!.scram, 'tcp', { sslmode: 'verify-ca', sslrootcert: { pem: testCertificate().cert } }).catch((e) => e)
    expect(error).toBeInstanceOf(AuthenticationRefusedError)
  })

  test('verify-full accepts the certificate\'s name and its IP address', async () => {
    const byName = await track(connect(users!.scram, 'tcp', { sslmode: 'verify-full', sslrootcert: ca(), host: 'localhost', hostaddr: pg.host }))
    const byIp = await track(connect(users!.scram, 'tcp', { sslmode: 'verify-full', sslrootcert: ca() }))
    expect([byName.encrypted, byIp.encrypted]).toEqual([true, true])
  })

  test('verify-full against a certificate for another host name is refused', async () => {
    const error = await connect(users!.scram, 'tcp', { sslmode: 'verify-full', sslrootcert: ca(), host: 'wrong.example', hostaddr: pg.host }).catch((e) => e)
    expect(error).toBeInstanceOf(AuthenticationRefusedError)
    expect(error.message).toMatch(/certificate/)
  })

  test('verify-full with sslrootcert=system refuses our private CA', async () => {
    const error = await connect(users!.scram, 'tcp', { sslmode: 'verify-full', sslrootcert: 'system', host: 'localhost', hostaddr: pg.host }).catch((e) => e)
    expect(error).toBeInstanceOf(AuthenticationRefusedError)
  })

  test.skipIf(version < 170000)('sslnegotiation=direct: TLS first, with ALPN', async () => {
    const c = await track(connect(users!.scram, 'tcp', { sslmode: 'verify-full', sslrootcert: ca(), sslnegotiation: 'direct' }))
    expect(c.encrypted).toBe(true)
    expect(c.authentication).toBe('SCRAM-SHA-256-PLUS')
  })

  test.skipIf(version >= 170000)('sslnegotiation=direct fails cleanly against a server before 17', async () => {
    const error = await connect(users!.scram, 'tcp', { sslmode: 'require', sslnegotiation: 'direct' }).catch((e) => e)
    expect(error).toBeInstanceOf(Error)
    expect(error.constructor.name).toMatch(/ConnectionLostError|AuthenticationRefusedError|ProtocolViolationError/)
  })
})

describe.skipIf(!users || !pg.tls)('channel binding', () => {
  test('channel_binding=require negotiates SCRAM-SHA-256-PLUS over TLS', async () => {
    const c = await track(connect(users!.scram, 'tls', { channelBinding: 'require' }))
    expect(c.authentication).toBe('SCRAM-SHA-256-PLUS')
  })

  test('channel_binding=disable uses SCRAM-SHA-256 even over TLS', async () => {
    const c = await track(connect(users!.scram, 'tls', { channelBinding: 'disable' }))
    expect(c.authentication).toBe('SCRAM-SHA-256')
  })

  test('channel_binding=require over plain TCP is refused', async () => {
    const error = await connect(users!.scram, 'tcp', { channelBinding: 'require' }).catch((e) => e)
    expect(error).toBeInstanceOf(AuthenticationRefusedError)
  })

  test.each(['md5', 'password', 'trust'] as const)('channel_binding=require refuses the %s role, even over TLS', async (role) => {
    const error = await connect(users![role], 'tls', { channelBinding: 'require' }).catch((e) => e)
    expect(error).toBeInstanceOf(AuthenticationRefusedError)
    expect(error.message).toMatch(/channel binding/)
  })
})

describe.skipIf(!users)('require_auth', () => {
  test.each([
    ['scram', 'scram-sha-256'],
    ['md5', 'md5'],
    ['password', 'password'],
    ['trust', 'none'],
    ['scram', '!password,!md5'],
  ] as const)('the %s role connects under require_auth=%s', async (role, requireAuth) => {
    await track(connect(users![role], 'tcp', { requireAuth }))
  })

  test.each([
    ['md5', 'scram-sha-256'],
    ['password', 'scram-sha-256'],
    ['trust', 'scram-sha-256'],
    ['scram', '!scram-sha-256'],
  ] as const)('the %s role is refused under require_auth=%s', async (role, requireAuth) => {
    const error = await connect(users![role], 'tcp', { requireAuth }).catch((e) => e)
    expect(error).toBeInstanceOf(AuthenticationRefusedError)
  })
})

describe('hosts', () => {
  test('several hosts: a dead one first, then the server', async () => {
    const c = await track(connectLibpq({ ...isolated, host: `${pg.host},${pg.host}`, port: `1,${pg.port}`, user: pg.superuser.user, database: pg.database, sslmode: 'disable' }))
    expect(c.endpoint.port).toBe(pg.port)
  })

  test('all hosts dead: one error naming each, caused by the last', async () => {
    const error = await connectLibpq({ ...isolated, host: '127.0.0.1,127.0.0.1,127.0.0.1', port: '1,2,3', user: 'x', sslmode: 'disable' }).catch((e) => e)
    expect(error.message).toMatch(/any of 3 hosts: 127.0.0.1:1: .*; 127.0.0.1:2: .*; 127.0.0.1:3: /)
    expect(error.cause.message).toMatch(/^cannot connect to 127.0.0.1:3: /)
  })

  test('hostaddr is where the connection goes; host, which need not resolve, only names it', async () => {
    const c = await track(connectLibpq({ ...isolated, host: 'pglisten-test.invalid', hostaddr: pg.host, port: pg.port, user: pg.superuser.user, database: pg.database, sslmode: 'disable' }))
    expect(c.endpoint).toStrictEqual({ host: 'pglisten-test.invalid', hostaddr: pg.host, port: pg.port })
  })

  test.skipIf(!pg.socketDir)('a Unix socket folder as the host, in a URL query', async () => {
    const c = await track(connectLibpq({ ...isolated, connectionString: `postgresql:///${pg.database}?host=${encodeURIComponent(pg.socketDir!)}&port=${pg.port}&user=${pg.superuser.user}` }))
    expect(c.encrypted).toBe(false)
    expect(await value(c, "SELECT coalesce(inet_client_addr()::text, 'unix')")).toBe('unix')
  })

  test('target_session_attrs=read-write takes the primary; read-only and standby refuse it', async () => {
    const base = { ...isolated, host: pg.host, port: pg.port, user: pg.superuser.user, database: pg.database, sslmode: 'disable' as const }
    await track(connectLibpq({ ...base, targetSessionAttrs: 'read-write' }))
    await track(connectLibpq({ ...base, targetSessionAttrs: 'primary' }))
    await expect(connectLibpq({ ...base, targetSessionAttrs: 'read-only' })).rejects.toThrow(/session is not read-only/)
    await expect(connectLibpq({ ...base, targetSessionAttrs: 'standby' })).rejects.toThrow(/not in hot standby/)
    // prefer-standby settles for a primary when no standby answers.
    await track(connectLibpq({ ...base, targetSessionAttrs: 'prefer-standby' }))
  })

  test('target_session_attrs=read-only accepts a session made read-only by its options', async () => {
    const c = await track(connectLibpq({ ...isolated, host: pg.host, port: pg.port, user: pg.superuser.user, database: pg.database, sslmode: 'disable', options: '-c default_transaction_read_only=on', targetSessionAttrs: 'read-only' }))
    expect(await value(c, 'SHOW default_transaction_read_only')).toBe('on')
  })
})

describe("connect()'s own options", () => {
  const base = () => ({ ...isolated, host: pg.host, port: pg.port, user: pg.superuser.user, database: pg.database, sslmode: 'disable' as const })

  test.skipIf(version < 180000)('protocolVersion is the version asked for (from PostgreSQL 18, which agrees to 3.2 by default)', async () => {
    const byDefault = await track(connectLibpq(base()))
    expect(byDefault.protocolVersion).toBe((3 << 16) | 2)
    const c = await track(connectLibpq({ ...base(), protocolVersion: 3 << 16 }))
    expect(c.protocolVersion).toBe(3 << 16)
  })

  test('maxMessageLength refuses a longer message from the server, which ends the connection', async () => {
    const c = await connectLibpq({ ...base(), maxMessageLength: 1000 })
    const error = await c.query("SELECT repeat('x', 5000)").catch((e) => e)
    expect(error).toBeInstanceOf(ProtocolViolationError)
    expect(error.message).toMatch(/1000/)
    expect(await c.closed).toBe(error)
  })
})

describe('where settings come from', () => {
  test('application_name and options reach the server', async () => {
    const c = await track(connectLibpq({ ...isolated, host: pg.host, port: pg.port, user: pg.superuser.user, database: pg.database, sslmode: 'disable', applicationName: 'pglisten tests', options: '-c search_path=pg_catalog' }))
    expect(await value(c, 'SHOW application_name')).toBe('pglisten tests')
    expect(await value(c, 'SHOW search_path')).toBe('pg_catalog')
  })

  test.skipIf(!users)('a URL with a percent-encoded password', async () => {
    const u = users!.scram
    const url = `postgresql://${u.user}:${encodeURIComponent(u.password!)}@${pg.host}:${pg.port}/${pg.database}?sslmode=disable`
    const c = await track(connectLibpq({ ...isolated, connectionString: url }))
    expect(await value(c, 'SELECT current_user')).toBe(u.user)
  })

  test.skipIf(!users)('a keyword=value string with a quoted password', async () => {
    const u = users!.md5
    const quoted = u.password!.replaceAll('\\', '\\\\').replaceAll("'", "\\'")
    const c = await track(connectLibpq({ ...isolated, connectionString: `host=${pg.host} port=${pg.port} dbname=${pg.database} user=${u.user} password='${quoted}' sslmode=disable` }))
    expect(await value(c, 'SELECT current_user')).toBe(u.user)
  })

  test.skipIf(!users)('PG* environment variables, and explicit options winning over them', async () => {
    const u = users!.password
    const env = { PGHOST: pg.host, PGPORT: String(pg.port), PGUSER: u.user, PGPASSWORD: u.password!, PGDATABASE: pg.database, PGSSLMODE: 'disable', PGAPPNAME: 'from env' }
    const c = await track(connectLibpq({ env, passfile: isolated.passfile }))
    expect(await value(c, 'SELECT current_user')).toBe(u.user)
    const d = await track(connectLibpq({ env, passfile: isolated.passfile, applicationName: 'explicit' }))
    expect(await value(d, 'SHOW application_name')).toBe('explicit')
  })
})

describe.skipIf(!users)('the password file', () => {
  /** A password file holding `line`, removed when the test ends, passed or failed: it holds a role's password. */
  async function passfile(line: string, mode: number): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'pglisten-pgpass-'))
    onTestFinished(() => rm(dir, { recursive: true, force: true }))
    const file = join(dir, 'pgpass')
    await writeFile(file, `# a comment\n${line}\n`)
    await chmod(file, mode)
    return file
  }
  const u = () => users!.scram
  const escaped = () => u().password!.replaceAll('\\', '\\\\').replaceAll(':', '\\:')

  test('a matching line supplies the password', async () => {
    const file = await passfile(`${pg.host}:${pg.port}:*:${u().user}:${escaped()}`, 0o600)
    const c = await track(connectLibpq({ env: {}, passfile: file, host: pg.host, port: pg.port, user: u().user, database: pg.database, sslmode: 'disable' }))
    expect(await value(c, 'SELECT current_user')).toBe(u().user)
  })

  test('a file others can read is ignored, with libpq\'s warning', async () => {
    const warnings: string[] = []
    const file = await passfile(`*:*:*:${u().user}:${escaped()}`, 0o644)
    const error = await connectLibpq({ env: {}, passfile: file, host: pg.host, port: pg.port, user: u().user, database: pg.database, sslmode: 'disable', onWarning: (w) => warnings.push(w) }).catch((e) => e)
    expect(error).toBeInstanceOf(AuthenticationRefusedError)
    expect(warnings.join('\n')).toMatch(/group or world access/)
    expect(warnings.join('\n')).not.toContain(u().password!)
  })

  test.skipIf(!pg.socketDir)('"localhost" in the file does not match a socket folder other than libpq\'s default', async () => {
    const file = await passfile(`localhost:${pg.port}:*:${u().user}:${escaped()}`, 0o600)
    const error = await connectLibpq({ env: {}, passfile: file, host: pg.socketDir!, port: pg.port, user: u().user, database: pg.database }).catch((e) => e)
    expect(error).toBeInstanceOf(AuthenticationRefusedError)
  })
})

describe.skipIf(!users)('SCRAM salted password cache', () => {
  test('a reconnect with the same cache reuses the salted password', async () => {
    const cache = new SaltedPasswordCache()
    await track(connect(users!.scram, 'tcp', { scram: { cache } }))
    expect(cache.size).toBe(1)
    const subtle = globalThis.crypto.subtle
    const original = subtle.deriveBits.bind(subtle)
    let pbkdf2 = 0
    subtle.deriveBits = ((...args: Parameters<typeof original>) => {
      if ((args[0] as { name?: string }).name === 'PBKDF2') pbkdf2++
      return original(...args)
    }) as typeof subtle.deriveBits
    try {
      await track(connect(users!.scram, 'tcp', { scram: { cache } }))
    } finally {
      subtle.deriveBits = original
    }
    expect(pbkdf2).toBe(0)
    expect(cache.size).toBe(1)
  })

  test('a wrong password is still refused by the server with 28P01 when the cache holds the right one', async () => {
    const cache = new SaltedPasswordCache()
    await track(connect(users!.scram, 'tcp', { scram: { cache } }))
    const error = await connect({ ...users!.scram, password: 'wrong' }, 'tcp', { scram: { cache } }).catch((e) => e)
    expect(error).toBeInstanceOf(DatabaseError)
    expect(error.code).toBe('28P01')
  })
})
