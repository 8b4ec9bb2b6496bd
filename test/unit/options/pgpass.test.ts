/**
 * The password file as libpq reads it (passwordFromFile in fe-connect.c): fields, escapes,
 * wildcards, comments, which host name is looked up, and when the file is not trusted.
 */
import { fc, test as propertyTest } from '@fast-check/vitest'
import { describe, expect, test } from 'vitest'
import { DEFAULT_SOCKET_DIR } from '../../../src/protocol/options/index.ts'
import { findPgpassPassword, parsePgpass, pgpassPermissionProblem } from '../../../src/protocol/options/pgpass.ts'

const target = { host: 'db.example', port: 5432, database: 'app', user: 'ann' }

describe('parsePgpass', () => {
  test('fields, a bare * as a wildcard (null), and line numbers', () => {
    expect(parsePgpass('db.example:5432:app:ann:s3cret\n*:*:*:bob:hunter2\n')).toEqual([
      { host: 'db.example', port: '5432', database: 'app', user: 'ann', password: 's3cret', line: 1 },
      { host: null, port: null, database: null, user: 'bob', password: 'hunter2', line: 2 },
    ])
  })

  test('\\: and \\\\ escape in every field; \\* is a literal star, not a wildcard', () => {
    expect(parsePgpass(String.raw`h\:1:5432:d\\b:\*:p\:w\\d`)).toEqual([
      { host: 'h:1', port: '5432', database: 'd\\b', user: '*', password: 'p:w\\d', line: 1 },
    ])
  })

  test('the password ends at the next unescaped ":"; a trailing lone backslash is kept', () => {
    expect(parsePgpass('h:1:d:u:pass:extra:fields')[0]?.password).toBe('pass')
    expect(parsePgpass('h:1:d:u:pass\\')[0]?.password).toBe('pass\\')
  })

  test('an empty password field is an empty password', () => {
    expect(parsePgpass('h:1:d:u:')[0]?.password).toBe('')
  })

  test('comments only in column one, blank lines, CRLF endings', () => {
    expect(parsePgpass('# h:1:d:u:no\r\n\r\n  # h:1:d:u:yes\r\nh:2:d:u:crlf\r\n').map((e) => [e.host, e.password, e.line])).toEqual([
      ['  # h', 'yes', 3],
      ['h', 'crlf', 4],
    ])
  })

  test('a line with fewer than four ":"-terminated fields can never match and is left out', () => {
    expect(parsePgpass('h:1:d:u\nh:1:d\n*:*:*:*\nh:1:d:u\\')).toEqual([])
  })

  test('a host starting with "#" makes the line a comment unless the "#" is escaped', () => {
    expect(parsePgpass('#host:1:d:u:p')).toEqual([])
    expect(parsePgpass('\\#host:1:d:u:p')[0]?.host).toBe('#host')
  })

  test('a star followed by more text is literal: only a bare * is a wildcard', () => {
    expect(parsePgpass('*x:*:*:*:p')[0]).toMatchObject({ host: '*x', port: null })
  })
})

describe('findPgpassPassword', () => {
  const find = (file: string, overrides: Partial<typeof target> & { hostaddr?: string } = {}) =>
    findPgpassPassword(parsePgpass(file), { ...target, ...overrides })

  test('the first matching line wins: put specific lines first', () => {
    expect(find('*:*:*:ann:general\ndb.example:5432:app:ann:specific')).toBe('general')
    expect(find('db.example:5432:app:ann:specific\n*:*:*:ann:general')).toBe('specific')
  })

  test('every field must match exactly, case included', () => {
    expect(find('DB.example:5432:app:ann:x')).toBeUndefined()
    expect(find('db.example:5433:app:ann:x')).toBeUndefined()
    expect(find('db.example:5432:app2:ann:x')).toBeUndefined()
    expect(find('db.example:5432:app:anna:x')).toBeUndefined()
    expect(find('db.example:5432:app:ann:x')).toBe('x')
  })

  test('the default socket folder and an empty host are looked up as localhost', () => {
    expect(find('localhost:5432:app:ann:local', { host: '/tmp' })).toBe('local')
    expect(find('localhost:5432:app:ann:local', { host: '' })).toBe('local')
  })

  test('another socket folder is looked up as itself, not as localhost', () => {
    expect(find('localhost:5432:app:ann:local', { host: '/var/run/postgresql' })).toBeUndefined()
    expect(find('/var/run/postgresql:5432:app:ann:sock', { host: '/var/run/postgresql' })).toBe('sock')
  })

  test('without a host name, hostaddr is looked up (libpq: "otherwise to the hostaddr parameter")', () => {
    expect(find('10.0.0.5:5432:app:ann:by-address', { host: '', hostaddr: '10.0.0.5' })).toBe('by-address')
    expect(find('db.example:5432:app:ann:by-name\n10.0.0.5:5432:app:ann:by-address', { hostaddr: '10.0.0.5' })).toBe('by-name')
  })

  test('an escaped colon in the file matches a colon in the host (an IPv6 address)', () => {
    expect(find(String.raw`\:\:1:5432:app:ann:v6`, { host: '::1' })).toBe('v6')
  })

  test('no lookup without a database or user name', () => {
    expect(find('*:*:*:*:x', { database: '' })).toBeUndefined()
    expect(find('*:*:*:*:x', { user: '' })).toBeUndefined()
  })
})

describe('pgpassPermissionProblem', () => {
  const FILE = 0o100000
  const DIRECTORY = 0o040000

  test('u=rw or less is fine', () => {
    expect(pgpassPermissionProblem(FILE | 0o600, 'linux')).toBeUndefined()
    expect(pgpassPermissionProblem(FILE | 0o400, 'darwin')).toBeUndefined()
  })

  test.each([0o640, 0o604, 0o660, 0o644, 0o610, 0o601])('mode %o gives libpq\'s warning', (mode) => {
    expect(pgpassPermissionProblem(FILE | mode, 'linux')).toBe('has group or world access; permissions should be u=rw (0600) or less')
  })

  test('with a path, the whole warning as libpq prints it', () => {
    expect(pgpassPermissionProblem(FILE | 0o644, 'linux', '/home/ann/.pgpass'))
      .toBe('password file "/home/ann/.pgpass" has group or world access; permissions should be u=rw (0600) or less')
  })

  test('not a regular file', () => {
    expect(pgpassPermissionProblem(DIRECTORY | 0o700, 'linux')).toBe('is not a plain file')
  })

  test('Windows: no check at all', () => {
    expect(pgpassPermissionProblem(FILE | 0o777, 'win32')).toBeUndefined()
    expect(pgpassPermissionProblem(DIRECTORY | 0o777, 'win32')).toBeUndefined()
  })

  test('a mode that is not a non-negative integer is API misuse', () => {
    expect(() => pgpassPermissionProblem(-1, 'linux')).toThrow(TypeError)
    expect(() => pgpassPermissionProblem(1.5, 'linux')).toThrow(TypeError)
  })
})

/** Escapes a field as the libpq docs ask: ':' and '\' get a backslash. */
const escape = (field: string): string => field.replace(/[\\:]/g, (char) => `\\${char}`)
/** ...and a line must not start with '#', which the docs do not say: escape that one too. */
const escapeLine = (line: string): string => (line.startsWith('#') ? `\\${line}` : line)
const field = fc.string({ unit: 'grapheme', minLength: 1 }).filter((value) => !/[\r\n]/.test(value))
/** A host that is looked up as itself: libpq looks up its default socket folder as "localhost". */
const plainHost = field.filter((value) => value !== DEFAULT_SOCKET_DIR)
/** A user field that is not the wildcard: `*` matches every user, and escaping leaves it bare. */
const notWildcard = field.filter((value) => value !== '*')

describe('laws', () => {
  propertyTest.prop([plainHost, fc.integer({ min: 1, max: 65535 }), field, field, field])(
    'an escaped line matches its own connection and yields its password',
    (host, port, database, user, password) => {
      const line = escapeLine([host, String(port), database, user, password].map(escape).join(':'))
      const found = findPgpassPassword(parsePgpass(`${line}\n`), { host, port, database, user })
      expect(found).toBe(password)
    },
  )

  propertyTest.prop([notWildcard, field, field])('an entry whose user differs (and is not *) never matches', (user, other, password) => {
    fc.pre(user !== other)
    const line = `*:*:*:${escape(user)}:${escape(password)}`
    expect(findPgpassPassword(parsePgpass(line), { ...target, user: other })).toBeUndefined()
  })
})
