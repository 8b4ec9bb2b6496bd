/**
 * Connection URIs as libpq's conninfo_uri_parse_options reads them: every example from the
 * libpq docs ("Connection URIs"), percent-decoding, multiple hosts, IPv6, query parameters,
 * the refusals, and a percent-encoding round-trip law.
 */
import { fc, test as propertyTest } from '@fast-check/vitest'
import { describe, expect, test } from 'vitest'
import { parseConnectionString } from '../../../src/protocol/options/index.ts'

describe('the examples in the libpq docs', () => {
  test.each([
    ['postgresql://', {}],
    ['postgresql://localhost', { host: 'localhost' }],
    ['postgresql://localhost:5433', { host: 'localhost', port: '5433' }],
    ['postgresql://localhost/mydb', { host: 'localhost', dbname: 'mydb' }],
    ['postgresql://user@localhost', { user: 'user', host: 'localhost' }],
    ['postgresql://user:secret@localhost', { user: 'user', password: 'secret', host: 'localhost' }],
    ['postgresql://other@localhost/otherdb?connect_timeout=10&application_name=myapp',
      { user: 'other', host: 'localhost', dbname: 'otherdb', connect_timeout: '10', application_name: 'myapp' }],
    ['postgresql://host1:123,host2:456/somedb?target_session_attrs=any&application_name=myapp',
      { host: 'host1,host2', port: '123,456', dbname: 'somedb', target_session_attrs: 'any', application_name: 'myapp' }],
    ['postgresql:///mydb?host=localhost&port=5433', { dbname: 'mydb', host: 'localhost', port: '5433' }],
    ['postgresql://user@localhost:5433/mydb?options=-c%20synchronous_commit%3Doff',
      { user: 'user', host: 'localhost', port: '5433', dbname: 'mydb', options: '-c synchronous_commit=off' }],
    ['postgresql://[2001:db8::1234]/database', { host: '2001:db8::1234', dbname: 'database' }],
    ['postgresql:///dbname?host=/var/lib/postgresql', { dbname: 'dbname', host: '/var/lib/postgresql' }],
    ['postgresql://%2Fvar%2Flib%2Fpostgresql/dbname', { host: '/var/lib/postgresql', dbname: 'dbname' }],
  ])('%s', (uri, expected) => {
    expect(parseConnectionString(uri)).toEqual(expected)
  })
})

describe('URI parts', () => {
  test('postgres:// is the short scheme designator; the scheme is case-sensitive', () => {
    expect(parseConnectionString('postgres://h/db')).toEqual({ host: 'h', dbname: 'db' })
    expect(() => parseConnectionString('POSTGRES://h/db')).toThrow(/missing "="/) // read as keyword=value
  })

  test('every part is percent-decoded as UTF-8, %xy in either case', () => {
    expect(parseConnectionString('postgres://J%C3%BCrgen:p%40ss%3aw%2Fd@h%6Fst:543%33/d%c3%a9mo?application_name=%E2%9C%93'))
      .toEqual({ user: 'Jürgen', password: 'p@ss:w/d', host: 'host', port: '5433', dbname: 'démo', application_name: '✓' })
  })

  test('a password may hold a raw ":" (the first ":" ends the user name)', () => {
    expect(parseConnectionString('postgres://ann:a:b@h')).toEqual({ user: 'ann', password: 'a:b', host: 'h' })
  })

  test('empty user, password and database are not stored, so the environment still applies', () => {
    expect(parseConnectionString('postgres://:@h/')).toEqual({ host: 'h' })
  })

  test('IPv6 with a port, in a list, and with a percent-encoded zone', () => {
    expect(parseConnectionString('postgres://[::1]:5433,[fe80::1%25eth0],h3:7/db'))
      .toEqual({ host: '::1,fe80::1%eth0,h3', port: '5433,,7', dbname: 'db' })
  })

  test('ports line up with hosts; a host list alone still stores an all-empty port list', () => {
    expect(parseConnectionString('postgres://a,b:2,c')).toEqual({ host: 'a,b,c', port: ',2,' })
    expect(parseConnectionString('postgres://a,b')).toEqual({ host: 'a,b', port: ',' })
    expect(parseConnectionString('postgres://:5433')).toEqual({ port: '5433' })
  })

  test('query parameters override the hierarchical part; ssl=true is sslmode=require (JDBC)', () => {
    expect(parseConnectionString('postgres://h1/db?host=h2&dbname=other&ssl=true'))
      .toEqual({ host: 'h2', dbname: 'other', sslmode: 'require' })
  })

  test('a trailing "&" and an empty query are fine', () => {
    expect(parseConnectionString('postgres://h?user=a&')).toEqual({ host: 'h', user: 'a' })
    expect(parseConnectionString('postgres://h?')).toEqual({ host: 'h' })
  })

  test('spaces around a part are dropped; %20 keeps a space', () => {
    expect(parseConnectionString('postgres://h?application_name= my%20app ')).toEqual({ host: 'h', application_name: 'my app' })
  })

  test('an "@" after "?" still splits off a user name, because libpq looks for "@" up to the first "/"', () => {
    expect(parseConnectionString('postgres://x?y@h')).toEqual({ user: 'x?y', host: 'h' })
  })
})

describe('refusals (TypeError)', () => {
  test.each([
    ['an unknown query parameter', 'postgres://h?hots=a', /unknown option "hots"/],
    ['ssl other than true', 'postgres://h?ssl=false', /unknown option "ssl"/],
    ['a parameter without "="', 'postgres://h?user', /missing "=" in query parameter "user"/],
    ['a parameter with two "="', 'postgres://h?options=-c%20a=b', /extra "=" in query parameter "options"/],
    ['an empty parameter', 'postgres://h?&user=a', /missing "="/],
    ['an unclosed IPv6 bracket', 'postgres://[::1/db', /closing an IPv6 address/],
    ['empty IPv6 brackets', 'postgres://[]/db', /may not be empty/],
    ['junk after an IPv6 address', 'postgres://[::1]x/db', /unexpected character "x" at position 17/],
    ['a bad percent token', 'postgres://h/d%zzb', /invalid percent-encoded token in the database name/],
    ['a truncated percent token', 'postgres://h/db%4', /invalid percent-encoded token/],
    ['%00', 'postgres://h/d%00b', /forbidden value %00 in the database name/],
    ['a space inside a part', 'postgres://h/my db', /unexpected spaces in the database name/],
    ['bytes that are not UTF-8', 'postgres://h/%FF', /not UTF-8/],
    ['a raw "@" in the host part', 'postgres://u:p@ss@h', /unexpected "@" in the host part/],
  ])('%s', (_, uri, message) => {
    expect(() => parseConnectionString(uri)).toThrow(TypeError)
    expect(() => parseConnectionString(uri)).toThrow(message)
  })
})

// Any Unicode text without U+0000 (which libpq refuses as %00) and without lone surrogates.
const text = fc.string({ unit: 'grapheme', minLength: 1 }).filter((value) => !value.includes('\0'))

describe('laws', () => {
  propertyTest.prop([text, text, text])('percent-encoding any user, password and dbname round-trips', (user, password, dbname) => {
    const uri = `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@db.example/${encodeURIComponent(dbname)}`
    expect(parseConnectionString(uri)).toEqual({ user, password, host: 'db.example', dbname })
  })

  propertyTest.prop([fc.dictionary(fc.constantFrom('application_name', 'options', 'sslrootcert', 'passfile'), text, { minKeys: 1 })])(
    'percent-encoding any query values round-trips',
    (params) => {
      const query = Object.entries(params).map(([key, value]) => `${key}=${encodeURIComponent(value)}`).join('&')
      expect(parseConnectionString(`postgres://h?${query}`)).toEqual({ host: 'h', ...params })
    },
  )

  propertyTest.prop([fc.string({ unit: 'binary' })])('any URI parses or throws a TypeError, nothing else', (rest) => {
    try {
      parseConnectionString(`postgres://${rest}`)
    } catch (error) {
      expect(error).toBeInstanceOf(TypeError)
    }
  })
})
