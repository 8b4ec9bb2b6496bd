/**
 * What an error message may quote back of a word of the command line: a connection string
 * only as far as its scheme or first keyword, a word that may hold a password not at all,
 * anything else whole. And which words are taken for connection strings, or for something
 * that may hold a password, before any of them is taken for a channel or a host name.
 */
import { describe, expect, test } from 'vitest'
import { looksLikeConnectionString, looksLikeUrl, mayHoldPassword, quoted, scheme } from '../../../src/cli/quoted.ts'

// An obviously fake password: the point is only that it never appears in a quoted word.
const secret = 'hunter2-test'
const notShown = 'a word not shown here (it may hold a password)'

describe('quoted: what an error message shows of a word', () => {
  test.each([
    ['a PostgreSQL URL', `postgresql://app:${secret}@db/shop`, '"postgresql://..."'],
    ['its shorter scheme, in capitals', `POSTGRES://app:${secret}@db`, '"POSTGRES://..."'],
    ['a URL after spaces (the spaces are not its scheme)', `  postgres://app:${secret}@db`, '"postgres://..."'],
    ['a URL of another scheme, as SQLAlchemy writes one', `postgresql+psycopg2://app:${secret}@db`, '"postgresql+psycopg2://..."'],
    ['any scheme RFC 3986 allows: a letter, then letters, digits, "+", "." or "-"', `a1+b.c-d://app:${secret}@db`, '"a1+b.c-d://..."'],
    ['a web address, which is a URL too', 'https://example.com/hook', '"https://..."'],
    ['a PostgreSQL URL with a slash missing', `postgres:/app:${secret}@db`, '"postgres:/..."'],
    ['a PostgreSQL URL with its colon missing', `Postgresql//app:${secret}@db`, '"Postgresql//..."'],
    ['a PostgreSQL URL with only its colon', `postgres:app:${secret}@db`, '"postgres:..."'],
  ])('of %s, only the scheme as typed', (_, word, shown) => {
    expect(quoted(word)).toBe(shown)
  })

  test.each([
    ['keyword=value settings', `host=db password=${secret}`, '"host=..."'],
    ['settings that begin with their password', `password=${secret} host=db`, '"password=..."'],
    ['a keyword with spaces before its "="', `host = db password=${secret}`, '"host =..."'],
    ['settings after spaces', `  user=app password=${secret}`, '"user=..."'],
    ['a word of that shape that is no libpq keyword', `my_setting=${secret}`, '"my_setting=..."'],
  ])('of %s, only the first keyword and its "="', (_, word, shown) => {
    expect(quoted(word)).toBe(shown)
  })

  test.each([
    ['an "=" after something that is not a keyword', `db password=${secret}`],
    ['an "=" after a digit', `1password=${secret}`],
    ['an "=" after a dash', `-password=${secret}`],
    ['an "=" alone', '='],
    ['user:password@host with no scheme', `app:${secret}@db/shop`],
    ['":" and "@" with nothing between them', 'app:@db'],
    ['a scheme that begins with a digit, then user:password@', `1x://app:${secret}@db`],
    ['user:password@ after a space', `db app:${secret}@db`],
  ])('a word with %s: nothing at all', (_, word) => {
    expect(quoted(word)).toBe(notShown)
  })

  test.each([
    ['a channel name', 'jobs'],
    ['spaces around a word, kept as typed', '  jobs '],
    ['a name with a colon', 'jobs:urgent'],
    ['a name that only begins as a PostgreSQL URL would', 'postgre:jobs'],
    ['a name with a colon, and an "@" after a space', 'why: not@all'],
    ['an "@" before the colon', 'app@db:5432'],
    ['a negative number', '-5'],
    ['nothing', ''],
  ])('%s: quoted whole', (_, word) => {
    expect(quoted(word)).toBe(`"${word}"`)
  })
})

describe('looksLikeConnectionString: a word that is never a channel or a host name', () => {
  test.each([
    ['a postgresql:// URL', 'postgresql://db/shop'],
    ['a postgres:// URL in capitals', 'POSTGRES://db'],
    ['a URL after a space', ' postgresql://db'],
    ['a URL of another scheme, with user:password@', `postgresql+psycopg2://app:${secret}@db`],
    ['a mistyped URL, with user:password@', `postgres:/app:${secret}@db`],
    ['a scheme and user:password@ with no slash at all', `jdbc:app:${secret}@db`],
    ['user:@ with an empty password', 'x://app:@db'],
    ['settings that begin with a libpq keyword', 'host=db dbname=shop'],
    ['a libpq keyword, a space, then its "="', 'dbname =shop'],
    ['settings after spaces', '  sslmode=require'],
  ])('%s', (_, word) => {
    expect(looksLikeConnectionString(word)).toBe(true)
  })

  test.each([
    ['a name with a colon', 'postgres:events'],
    ['a name with "//"', 'postgres//jobs'],
    ['a web address, with no password in it', 'https://example.com/hook'],
    ['a PostgreSQL scheme inside a longer name, with no password after it', 'backup-postgres://db'],
    ['a mail address', 'mail:alice@example.com'],
    ['user:password@ with no scheme before it', `app:${secret}@db`],
    ['a scheme that begins with a digit', `1x://app:${secret}@db`],
    ['user:password@ with a space before the "@"', 'x://app:why not@db'],
    ['a "/" inside the user name', 'x://a/b:c@db'],
    ['an "=" after something that is no libpq keyword', 'a=b'],
    ['a libpq keyword inside a longer word', 'hostname=db'],
    ['a libpq keyword that is not at the start', 'x host=db'],
    ['a libpq keyword and no "="', 'host'],
  ])('not: %s', (_, word) => {
    expect(looksLikeConnectionString(word)).toBe(false)
  })
})

describe('mayHoldPassword: a word never taken for a host, a database, a slot or a publication', () => {
  test.each([
    ['a connection string', 'host=db'],
    ['user:password@host with no scheme', `app:${secret}@db/shop`],
    ['the same after a space', ` app:${secret}@db`],
    ['a password setting after another word', `db password=${secret}`],
    ['a JDBC URL\'s parameter', `jdbc:postgresql://db/shop?user=app&password=${secret}`],
    ['an ADO.NET string\'s Password', `Server=db;Password=${secret}`],
    ['its alias Pwd', `Server=db;Pwd=${secret}`],
    ['its alias Psw', `Server=db;Psw=${secret}`],
    ['a password setting with a space before its "="', `x PASSWORD =${secret}`],
  ])('%s', (_, word) => {
    expect(mayHoldPassword(word)).toBe(true)
  })

  test.each([
    ['a database name', 'shop'],
    ['a name with a colon', 'postgres:events'],
    ['a colon, then a space before the "@"', 'why: not@all'],
    ['a space before the colon', 'a b:c@d'],
    ['an "@" before the colon', 'app@db:c@d'],
    ['a word that only ends in "pwd"', 'mypwd=x'],
    ['a word that only ends in "psw"', 'xpsw=x'],
    ['"password" with no "="', 'passwordless'],
  ])('not: %s', (_, word) => {
    expect(mayHoldPassword(word)).toBe(false)
  })
})

describe('looksLikeUrl and scheme: a PostgreSQL URL, rightly or wrongly begun', () => {
  test.each(['postgresql://db', 'postgres://db', 'postgres:/db', 'postgresql:db', 'Postgres//db', 'POSTGRESQL/db'])('%s begins as a URL', (word) => {
    expect(looksLikeUrl(word)).toBe(true)
  })

  test.each(['postgre://db', 'xpostgres://db', ' postgres://db', 'postgresx://db', 'postgres', 'postgresql'])('%s does not', (word) => {
    expect(looksLikeUrl(word)).toBe(false)
  })

  test.each([
    ['postgresql://app@db/shop', 'postgresql://'],
    ['postgres:/db', 'postgres:/'],
    ['postgres:db', 'postgres:'],
    ['postgres//db', 'postgres//'],
    ['postgresql:///shop', 'postgresql:///'],
    ['postgres', 'postgres'],
  ])('the scheme of %s, with its ":" and "/" as typed: %s', (url, shown) => {
    expect(scheme(url)).toBe(shown)
  })
})
