/**
 * TLS errors a person can act on, through the library and the built `pglisten` command:
 * sslmode=verify-ca/verify-full without a root certificate says, as libpq does, that the file
 * does not exist and what to do; sslnegotiation=direct against a server that does not speak
 * direct TLS says so, and what it takes. The test server is PostgreSQL 17 or later, which
 * accepts direct TLS, so a fake server stands in for an older one (a real one of those would
 * read the ClientHello as a startup packet of absurd length, log it, and close).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, test } from 'vitest'
import { AuthenticationRefusedError, ConnectionLostError } from '../../src/protocol/errors.ts'
import { connect as connectLibpq } from '../../src/protocol/index.ts'
import { ensureBuilt, runCli, stackTrace, superuserArgs } from '../support/cli.ts'
import { connect, isolated, server } from '../support/connect.ts'
import { fakeServersClosedAfterEach, type FakeClient } from '../support/fake-server.ts'
import { backend } from '../support/wire.ts'

beforeAll(ensureBuilt, 120_000)

const pg = server()
const users = pg.users
const serve = fakeServersClosedAfterEach()

/** libpq's words after the path (fe-secure-openssl.c), on one line. */
const rootCertificateAdvice =
  "either provide the file (or name one with sslrootcert), use the system's trusted roots with sslrootcert=system, or change sslmode to disable server certificate verification"
const missingRoot = (path: string) => `root certificate file "${path}" does not exist; ${rootCertificateAdvice}`

const directAdvice = 'sslnegotiation=direct needs PostgreSQL 17 or later with ssl on; for an older server, or one that is not PostgreSQL, use sslnegotiation=postgres'

/** Runs `body` with an empty temporary home folder, removed afterwards whatever happens. */
async function withTemporaryHome<T>(body: (home: string) => Promise<T>): Promise<T> {
  const home = await mkdtemp(join(tmpdir(), 'pglisten-tls-home-'))
  try {
    return await body(home)
  } finally {
    await rm(home, { recursive: true, force: true })
  }
}

/** As withTemporaryHome, with HOME pointing there for this process (os.homedir() reads it). */
async function inTemporaryHome<T>(body: (home: string) => Promise<T>): Promise<T> {
  return withTemporaryHome(async (home) => {
    const saved = process.env['HOME']
    process.env['HOME'] = home
    try {
      return await body(home)
    } finally {
      if (saved === undefined) delete process.env['HOME']
      else process.env['HOME'] = saved
    }
  })
}

describe.skipIf(!users || !pg.tls)('no root certificate under sslmode=verify-ca or verify-full', () => {
  test.each(['verify-ca', 'verify-full'] as const)('sslmode=%s with sslrootcert naming a file that is not there', async (sslmode) => {
    const path = '/nonexistent/pglisten-test/root.crt'
    const error = await connect(users!.scram, 'tls', { sslmode, sslrootcert: path }).catch((e) => e)
    expect(error).toBeInstanceOf(AuthenticationRefusedError)
    expect(error.message).toBe(missingRoot(path))
    expect(error.cause.code).toBe('ENOENT') // the original error, kept
  })

  test("sslmode=verify-full with libpq's default, ~/.postgresql/root.crt, in a home without it", async () => {
    await inTemporaryHome(async (home) => {
      const error = await connect(users!.scram, 'tls', { sslrootcert: undefined }).catch((e) => e)
      expect(error).toBeInstanceOf(AuthenticationRefusedError)
      expect(error.message).toBe(missingRoot(join(home, '.postgresql', 'root.crt')))
      expect(error.cause.code).toBe('ENOENT')
    })
  })

  test('…and once the file is there, the same settings connect, verified', async () => {
    await inTemporaryHome(async (home) => {
      await mkdir(join(home, '.postgresql'))
      await writeFile(join(home, '.postgresql', 'root.crt'), pg.tls!.ca)
      const c = await connect(users!.scram, 'tls', { sslrootcert: undefined })
      try {
        expect(c.encrypted).toBe(true)
      } finally {
        await c.close()
      }
    })
  })

  test('sslmode=require, which does not demand a root certificate, keeps its own words for a named file that is not there', async () => {
    const path = '/nonexistent/pglisten-test/root.crt'
    const error = await connect(users!.scram, 'tls', { sslmode: 'require', sslrootcert: path }).catch((e) => e)
    expect(error).toBeInstanceOf(AuthenticationRefusedError)
    expect(error.message).toBe(`cannot read the root certificate file "${path}"`)
  })

  test('pglisten notify: the same words on its one line, status 1, no stack trace', async () => {
    await withTemporaryHome(async (home) => {
      const { args, env } = superuserArgs()
      const result = await runCli(['notify', ...args, 'tls errors', 'x'], { env: { ...env, HOME: home, PGSSLMODE: 'verify-full' } })
      expect(result.status).toBe(1)
      const lines = result.stderr.trimEnd().split('\n')
      expect(lines).toHaveLength(1)
      expect(lines[0]).toContain(`pglisten: ${missingRoot(join(home, '.postgresql', 'root.crt'))}`)
      expect(result.stderr).not.toMatch(stackTrace)
    })
  })
})

/**
 * What a server before PostgreSQL 17 does with a direct TLS handshake: it reads the ClientHello's
 * first four bytes (0x16 0x03 0x01 ..) as a startup packet's length, finds it hundreds of
 * megabytes long, logs "invalid length of startup packet" and closes without a word.
 */
async function closesAtTheClientHello(client: FakeClient): Promise<void> {
  const length = await client.read(4)
  expect(length[0]).toBe(0x16) // a TLS handshake record, not a length
  client.end()
}

/** Something that is not PostgreSQL 17+ (an old pooler) answering the ClientHello with an ErrorResponse. */
async function answersWithAnError(client: FakeClient): Promise<void> {
  await client.read(4)
  client.write(backend.errorResponse({ S: 'FATAL', C: '08P01', M: 'invalid length of startup packet' }))
  client.end()
}

describe('sslnegotiation=direct against a server that does not speak direct TLS', () => {
  const options = (port: number) => ({ ...isolated, host: '127.0.0.1', port, user: 'ann', database: 'db', sslmode: 'require' as const, sslnegotiation: 'direct' as const, connectTimeout: 5 })

  test('a server before 17 closes at the ClientHello: the error says it did not accept direct TLS, and what it takes', async () => {
    const fake = await serve(closesAtTheClientHello)
    const error = await connectLibpq(options(fake.port)).catch((e) => e)
    expect(error).toBeInstanceOf(ConnectionLostError)
    expect(error.message).toBe(`the server at 127.0.0.1:${fake.port} did not accept direct TLS (it closed the connection at the TLS handshake): ${directAdvice}`)
    // Node's own words stay underneath, as the cause.
    expect(error.cause.message).toBe('Client network socket disconnected before secure TLS connection was established')
  })

  test('a server that answers in something that is not TLS: said so', async () => {
    const fake = await serve(answersWithAnError)
    const error = await connectLibpq(options(fake.port)).catch((e) => e)
    expect(error).toBeInstanceOf(ConnectionLostError)
    expect(error.message).toBe(`the server at 127.0.0.1:${fake.port} did not accept direct TLS (it answered the TLS handshake with something that is not TLS): ${directAdvice}`)
    expect(error.message).not.toContain('invalid length of startup packet') // the server's words are not trusted
    expect(error.cause.code).toMatch(/^ERR_SSL_/)
  })

  test('the same server with sslnegotiation=postgres is asked with an SSLRequest, and its answer is heard', async () => {
    // The advice holds: the default negotiation reaches the server's own answer ('N' here).
    const fake = await serve(async (client) => {
      const request = await client.readPacket()
      expect(request.length).toBe(8) // SSLRequest
      client.write(Uint8Array.of(0x4e)) // 'N'
      await client.closed
    })
    const error = await connectLibpq({ ...options(fake.port), sslnegotiation: 'postgres' }).catch((e) => e)
    expect(error).toBeInstanceOf(AuthenticationRefusedError)
    expect(error.message).toMatch(/does not accept TLS, and sslmode=require requires it/)
  })

  test('pglisten notify: the same words on its one line, status 1, no stack trace', async () => {
    const fake = await serve(closesAtTheClientHello)
    const url = `postgresql://ann@127.0.0.1:${fake.port}/db?sslmode=require&sslnegotiation=direct`
    const result = await runCli(['notify', url, 'tls errors', 'x'])
    expect(result.status).toBe(1)
    const lines = result.stderr.trimEnd().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain(`pglisten: the server at 127.0.0.1:${fake.port} did not accept direct TLS (it closed the connection at the TLS handshake): ${directAdvice}`)
    expect(result.stderr).not.toMatch(stackTrace)
  })
})
