/**
 * keyword=value connection strings, parsed as libpq's conninfo_parse does: spaces, quoting,
 * backslash escapes, the refusals, and a round-trip law for quoting.
 */
import { fc, test as propertyTest } from '@fast-check/vitest'
import { describe, expect, test } from 'vitest'
import { parseConnectionString } from '../../../src/protocol/options/index.ts'

describe('keyword=value settings', () => {
  test('the libpq docs example', () => {
    expect(parseConnectionString('host=localhost port=5432 dbname=mydb connect_timeout=10')).toEqual({
      host: 'localhost', port: '5432', dbname: 'mydb', connect_timeout: '10',
    })
  })

  test('spaces around "=" and any whitespace between settings are optional', () => {
    expect(parseConnectionString(' \thost =  db1\n\r\vport= 5433\fuser =ann ')).toEqual({ host: 'db1', port: '5433', user: 'ann' })
  })

  test('single quotes hold spaces and empty values; \\\' and \\\\ escape', () => {
    expect(parseConnectionString(String.raw`password='it\'s a \\ secret' options='' application_name = 'my app'`)).toEqual({
      password: "it's a \\ secret", options: '', application_name: 'my app',
    })
  })

  test('a backslash escapes in an unquoted value too, even a space; a trailing one is dropped', () => {
    expect(parseConnectionString(String.raw`password=a\ b\'c user=x\\y dbname=z\ `)).toEqual({ password: "a b'c", user: 'x\\y', dbname: 'z ' })
    expect(parseConnectionString('user=ann\\')).toEqual({ user: 'ann' })
  })

  test('after "=", the next word is the value even if it looks like a setting (libpq skips spaces)', () => {
    expect(parseConnectionString('host= port=5432')).toEqual({ host: 'port=5432' })
  })

  test('"key=" at the very end is an empty value', () => {
    expect(parseConnectionString('user=ann host=')).toEqual({ user: 'ann', host: '' })
  })

  test('a quoted value needs no space before the next setting', () => {
    expect(parseConnectionString("host='a'port='5'")).toEqual({ host: 'a', port: '5' })
  })

  test('the last setting of a keyword wins', () => {
    expect(parseConnectionString('host=a host=b')).toEqual({ host: 'b' })
  })

  test('the empty string and blanks set nothing', () => {
    expect(parseConnectionString('')).toEqual({})
    expect(parseConnectionString(' \n ')).toEqual({})
  })

  test('requiressl=1 becomes sslmode=require, any other value sslmode=prefer', () => {
    expect(parseConnectionString('requiressl=1')).toEqual({ sslmode: 'require' })
    expect(parseConnectionString('requiressl=0')).toEqual({ sslmode: 'prefer' })
  })

  test('requiressl: only the first character counts, as in libpq\'s conninfo_storeval (value[0] == \'1\')', () => {
    expect(parseConnectionString('requiressl=10')).toEqual({ sslmode: 'require' })
    expect(parseConnectionString('requiressl=01')).toEqual({ sslmode: 'prefer' })
  })

  test('an unknown keyword after an unquoted secret is not quoted: it may be a piece of the secret', () => {
    const message = 'invalid connection string: unknown option (not shown: it follows a secret, which may have been cut short by a space or separator); see "Parameter Key Words" in the libpq docs'
    expect(() => parseConnectionString('password=abc xyz=1')).toThrow(new TypeError(message))
    expect(() => parseConnectionString('postgres://h/db?password=abc&xyz=1')).toThrow(new TypeError(message))
  })

  // Found by review: a URL whose scheme libpq does not take (as SQLAlchemy writes one) is read
  // as keyword=value, and its "keyword" (everything before the first "=") held the password.
  test('an unknown keyword that could be no keyword is not quoted: it may hold a password', () => {
    const message = 'invalid connection string: unknown option (not shown: it is no keyword, and may hold a secret); see "Parameter Key Words" in the libpq docs'
    expect(() => parseConnectionString('postgresql+psycopg2://app:hunter2-test@db/shop?sslmode=require')).toThrow(new TypeError(message))
  })

  test('keywords are case-sensitive, as libpq compares them with strcmp', () => {
    expect(() => parseConnectionString('Host=a')).toThrow(/unknown option "Host"/)
  })

  test.each([
    ['an unknown keyword', 'hots=a', /unknown option "hots"/],
    ['a keyword without "="', 'host', /missing "=" after "host"/],
    ['a word between settings', 'host=a b port=5', /missing "=" after "b" at offset 7/],
    ['an unterminated quote', "host='a", /unterminated quoted value for "host"/],
    ['an empty keyword', '=x', /unknown option ""/],
  ])('refuses %s with a TypeError', (_, text, message) => {
    expect(() => parseConnectionString(text)).toThrow(TypeError)
    expect(() => parseConnectionString(text)).toThrow(message)
  })

  test('a non-string is API misuse', () => {
    expect(() => parseConnectionString(42 as unknown as string)).toThrow(TypeError)
  })
})

/** Quotes a value as the libpq docs ask: in single quotes, with ' and \ escaped by a backslash. */
function quote(value: string): string {
  return `'${value.replace(/[\\']/g, (char) => `\\${char}`)}'`
}

const keyword = fc.constantFrom('host', 'port', 'user', 'password', 'dbname', 'options', 'application_name', 'sslmode', 'passfile')
const whitespace = fc.stringMatching(/^[ \t\n\r\f\v]{1,3}$/)
const maybeSpace = fc.constantFrom('', ' ', '\t', '  ')

describe('laws', () => {
  propertyTest.prop([
    fc.dictionary(keyword, fc.string({ unit: 'grapheme' }), { minKeys: 1 }),
    whitespace, maybeSpace, maybeSpace,
  ])('values quoted as libpq requires parse back to themselves', (settings, between, before, after) => {
    const text = Object.entries(settings).map(([key, value]) => `${key}${before}=${after}${quote(value)}`).join(between)
    expect(parseConnectionString(text)).toEqual(settings)
  })

  propertyTest.prop([fc.string({ unit: 'binary' })])('any text parses to known keywords or throws a TypeError, nothing else', (text) => {
    let parsed: Record<string, string>
    try {
      parsed = parseConnectionString(text)
    } catch (error) {
      expect(error).toBeInstanceOf(TypeError)
      return
    }
    for (const value of Object.values(parsed)) expect(typeof value).toBe('string')
  })
})
