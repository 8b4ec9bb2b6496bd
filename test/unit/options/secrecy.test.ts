/**
 * The password stays out of sight: not in any error a malformed connection string raises, not
 * in util.inspect, JSON or the keys of Settings; yet settings.password still returns it.
 */
import { inspect } from 'node:util'
import { fc, test as propertyTest } from '@fast-check/vitest'
import { describe, expect, test } from 'vitest'
import { parseConnectionString, resolveSettings } from '../../../src/protocol/options/index.ts'

const PASSWORD = 'Tr0ub4dor&3xyz'
const context = { osUser: 'ann', homeDir: '/home/ann' }

/** Every way an object commonly ends up in a log. */
function renderings(value: unknown): string[] {
  return [
    inspect(value),
    inspect(value, { showHidden: true, depth: Infinity, getters: true }),
    inspect({ nested: { deeper: value } }, { depth: 0 }),
    JSON.stringify(value) ?? '',
    String(value),
    Object.keys(value as object).join(','),
    JSON.stringify({ ...(value as object) }),
  ]
}

function errorOf(run: () => unknown): Error {
  try {
    run()
  } catch (error) {
    return error as Error
  }
  throw new Error('expected a throw')
}

describe('Settings', () => {
  test.each([
    ['a password option', { password: PASSWORD }],
    ['a URI password', { connectionString: `postgres://ann:${encodeURIComponent(PASSWORD)}@h/db` }],
    ['a keyword=value password', { connectionString: `password='${PASSWORD}'` }],
  ])('%s: readable as settings.password, invisible everywhere else', (_, options) => {
    const settings = resolveSettings(options, context)
    expect(settings.password).toBe(PASSWORD)
    for (const shown of renderings(settings)) expect(shown).not.toContain(PASSWORD)
  })

  test('PGPASSWORD too', () => {
    const settings = resolveSettings({}, { ...context, env: { PGPASSWORD: PASSWORD } })
    expect(settings.password).toBe(PASSWORD)
    for (const shown of renderings(settings)) expect(shown).not.toContain(PASSWORD)
  })

  test('inspect says a password is set, in the place it would be listed', () => {
    const shown = inspect(resolveSettings({ password: PASSWORD }, context), { breakLength: Infinity })
    expect(shown).toMatch(/database: 'ann', password: '\[hidden\]', passfile/)
    expect(inspect(resolveSettings({}, context))).not.toContain('password')
  })

  test('a password function is hidden the same way', () => {
    const ask = () => PASSWORD
    const settings = resolveSettings({ password: ask }, context)
    expect(settings.password).toBe(ask)
    expect(JSON.stringify(settings)).not.toContain('password')
    expect(inspect(settings, { showHidden: true })).not.toContain('ask')
  })
})

describe('errors never quote the password', () => {
  test.each([
    ['a URI with a bad query parameter', `postgres://ann:${PASSWORD}@h/db?sslmode`],
    ['a URI with a bad percent token after the password', `postgres://ann:${PASSWORD}@h/d%zz`],
    ['a URI with a space in the password', `postgres://ann:${PASSWORD} x@h/db`],
    ['a URI with an unencoded "@" in the password', `postgres://ann:${PASSWORD}@more@h/db`],
    ['a URI whose password query value has a raw "&"', `postgres://h/db?password=${PASSWORD}&${PASSWORD}`],
    ['a URI with a bad IPv6 address', `postgres://ann:${PASSWORD}@[::1/db`],
    ['a keyword=value password with an unquoted space', `password=${PASSWORD} ${PASSWORD}`],
    ['a keyword=value password split into a setting', `password=abc ${PASSWORD}=1`],
    ['a keyword=value string with an unterminated quote', `password=x ${PASSWORD}='`],
    ['a bad percent token in the password', `postgres://ann:${PASSWORD}%@h`],
  ])('%s', (_, text) => {
    const error = errorOf(() => parseConnectionString(text))
    expect(error).toBeInstanceOf(TypeError)
    for (const shown of [error.message, error.stack ?? '', inspect(error)]) expect(shown).not.toContain(PASSWORD)
  })

  test('nor does resolveSettings, for a bad value elsewhere in the same string', () => {
    const error = errorOf(() => resolveSettings(`postgres://ann:${PASSWORD}@h:99999/db`, context))
    expect(error).toBeInstanceOf(RangeError)
    expect(error.message).not.toContain(PASSWORD)
  })

  const secret = fc.stringMatching(/^[A-Za-z0-9]{12,24}$/)
  const breakage = fc.constantFrom('?sslmode', '?hots=1', '/d%zz', '/my db', '?options=a=b', ',[::1', ',[]', '?&', '?ssl=1')

  propertyTest.prop([secret, breakage])('a URI with a password and a syntax error elsewhere: the message never holds the password', (password, broken) => {
    const error = errorOf(() => parseConnectionString(`postgresql://ann:${password}@db.example${broken}`))
    expect(error).toBeInstanceOf(TypeError)
    expect(error.message).not.toContain(password)
  })

  propertyTest.prop([secret, fc.constantFrom('', '=a=b', '=%zz', '=1')])('a URI password cut by a raw "&" never shows up in the message', (password, tail) => {
    const half = password.slice(6)
    const error = errorOf(() => parseConnectionString(`postgres://h/db?password=${password.slice(0, 6)}&${half}${tail}`))
    expect(error).toBeInstanceOf(TypeError)
    expect(error.message).not.toContain(half)
  })

  propertyTest.prop([secret, fc.constantFrom(' ', ' x ', '  y=')])('a keyword=value password cut by a space never shows up in the message', (password, tail) => {
    const half = password.slice(6)
    const error = errorOf(() => parseConnectionString(`password=${password.slice(0, 6)} ${half}${tail}`))
    expect(error.message).not.toContain(half)
  })

  // Quoted, a password still runs on when its quoting is wrong: SQL's doubled quote ('a''b'),
  // or a quote in the middle of a word. Before, the rest was quoted back as the next keyword.
  propertyTest.prop([secret, fc.constantFrom("''", "'", "' ")])('a quoted password whose quoting is wrong never shows up in the message', (password, quote) => {
    const half = password.slice(6)
    const error = errorOf(() => parseConnectionString(`password='${password.slice(0, 6)}${quote}${half}'`))
    expect(error).toBeInstanceOf(TypeError)
    expect(error.message).not.toContain(half)
  })
})
