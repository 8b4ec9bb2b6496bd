/**
 * The files Node's platform reads for a connection, through nodePlatform as connect() calls it:
 * the password file (its reader, io/password-file.ts, is loaded by dynamic import when a
 * password is asked of it) and the root certificate under sslmode=verify-* (libpq's words for
 * one that is missing, io/tls-failures.ts, are loaded when a read fails). Same answers, same
 * errors, same warnings as libpq (fe-connect.c passwordFromFile, fe-secure-openssl.c).
 */
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { AuthenticationRefusedError } from '../../src/protocol/errors.ts'
import { nodePlatform } from '../../src/protocol/io/node-platform.ts'
import { resolveSettings, type ConnectionOptions } from '../../src/protocol/options/index.ts'

let folder: string
beforeEach(async () => {
  folder = await mkdtemp(join(tmpdir(), 'pglisten-node-files-'))
})
afterEach(async () => {
  await rm(folder, { recursive: true, force: true })
})

/** A password file with `lines`, readable as `mode` says. */
async function passfile(lines: string, mode: number): Promise<string> {
  const path = join(folder, 'pgpass')
  await writeFile(path, lines)
  await chmod(path, mode) // writeFile's mode is filtered by the umask; chmod is not
  return path
}

const target = { host: 'db.example', port: 5432, database: 'app', user: 'ann' }

describe.skipIf(process.platform === 'win32')('the password file', () => {
  test('the first entry that matches the host, port, database and user gives the password', async () => {
    const path = await passfile('other.example:5432:app:ann:wrong\ndb.example:5432:*:ann:s3cret\n*:*:*:*:fallback\n', 0o600)
    const warnings: string[] = []
    expect(await nodePlatform.passwordFromFile(path, target, (w) => warnings.push(w))).toBe('s3cret')
    expect(warnings).toEqual([])
  })

  test('no matching entry: no password', async () => {
    const path = await passfile('db.example:5433:app:ann:other-port\n', 0o600)
    expect(await nodePlatform.passwordFromFile(path, target, () => {})).toBeUndefined()
  })

  test('a file that is not there: no password, and no warning (libpq says nothing either)', async () => {
    const warnings: string[] = []
    expect(await nodePlatform.passwordFromFile(join(folder, 'absent'), target, (w) => warnings.push(w))).toBeUndefined()
    expect(warnings).toEqual([])
  })

  test('a file others can read is ignored, with a warning', async () => {
    const path = await passfile('*:*:*:*:s3cret\n', 0o644)
    const warnings: string[] = []
    expect(await nodePlatform.passwordFromFile(path, target, (w) => warnings.push(w))).toBeUndefined()
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain(path)
    expect(warnings[0]).toMatch(/group or world access/)
  })

  test('a folder is not a plain file: ignored, with a warning', async () => {
    const warnings: string[] = []
    expect(await nodePlatform.passwordFromFile(folder, target, (w) => warnings.push(w))).toBeUndefined()
    expect(warnings).toEqual([`password file "${folder}" is not a plain file`])
  })
})

/** libpq's words after the path (fe-secure-openssl.c), on one line. */
const advice =
  "either provide the file (or name one with sslrootcert), use the system's trusted roots with sslrootcert=system, or change sslmode to disable server certificate verification"

/** Settings as connect() resolves them, with no environment. */
const settings = (options: ConnectionOptions) => resolveSettings({ user: 'ann', password: 'pw', ...options }, { env: {} })

describe('the root certificate', () => {
  test.each(['verify-ca', 'verify-full'] as const)('sslmode=%s, sslrootcert naming a file that is not there: libpq\'s message, the read as its cause', async (sslmode) => {
    const path = join(folder, 'absent', 'root.crt')
    const error = await nodePlatform.loadTlsMaterial(settings({ sslmode, sslrootcert: path }), () => folder).catch((e) => e)
    expect(error).toBeInstanceOf(AuthenticationRefusedError)
    expect(error.message).toBe(`root certificate file "${path}" does not exist; ${advice}`)
    expect(error.cause).toMatchObject({ code: 'ENOENT' })
  })

  test("sslmode=verify-full, libpq's default file in a home that lacks it: the same message, with that path", async () => {
    const error = await nodePlatform.loadTlsMaterial(settings({ sslmode: 'verify-full' }), () => folder).catch((e) => e)
    expect(error).toBeInstanceOf(AuthenticationRefusedError)
    expect(error.message).toBe(`root certificate file "${join(folder, '.postgresql', 'root.crt')}" does not exist; ${advice}`)
  })

  test('sslmode=verify-full with no home folder known: the message names ~/.postgresql/root.crt', async () => {
    const error = await nodePlatform.loadTlsMaterial(settings({ sslmode: 'verify-full' }), () => undefined).catch((e) => e)
    expect(error).toBeInstanceOf(AuthenticationRefusedError)
    expect(error.message).toBe(`root certificate file "~/.postgresql/root.crt" does not exist; ${advice}`)
    expect(error.cause).toBeInstanceOf(Error)
    expect(error.cause.message).toBe('the home folder is not known')
  })

  test('a root certificate that is there but cannot be read is not called missing', async () => {
    // A folder: the read fails with EISDIR, which is not "does not exist".
    const error = await nodePlatform.loadTlsMaterial(settings({ sslmode: 'verify-full', sslrootcert: folder }), () => undefined).catch((e) => e)
    expect(error).toBeInstanceOf(AuthenticationRefusedError)
    expect(error.message).toBe(`cannot read the root certificate file "${folder}"`)
    expect(error.cause).toMatchObject({ code: 'EISDIR' })
  })

  test('sslmode=require, sslrootcert naming a file that is not there: a read error, not the verify-* advice', async () => {
    const path = join(folder, 'absent.crt')
    const error = await nodePlatform.loadTlsMaterial(settings({ sslmode: 'require', sslrootcert: path }), () => undefined).catch((e) => e)
    expect(error).toBeInstanceOf(AuthenticationRefusedError)
    expect(error.message).toBe(`cannot read the root certificate file "${path}"`)
  })

  test('the default file, when there, is read; when not, prefer goes without one', async () => {
    await mkdir(join(folder, '.postgresql'))
    await writeFile(join(folder, '.postgresql', 'root.crt'), 'PEM')
    const found = await nodePlatform.loadTlsMaterial(settings({ sslmode: 'verify-full' }), () => folder)
    expect(new TextDecoder().decode(found.ca as Uint8Array)).toBe('PEM')
    expect(await nodePlatform.loadTlsMaterial(settings({ sslmode: 'prefer' }), () => join(folder, 'nowhere'))).toEqual({})
  })
})
