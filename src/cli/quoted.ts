/**
 * A word of the command line as an error message quotes it back, never with a password in it.
 * Pure: imports the protocol's list of libpq keywords.
 *
 * A connection string may hold a password (postgresql://app:secret@db/shop, or
 * "host=db password=secret"), and an error message ends up on a terminal, in a log, on a CI
 * page. So of a word that is a connection string, or was clearly meant as one, only the
 * beginning is quoted: the URL's scheme, or the first keyword; of a word that might hold a
 * secret in some other way, nothing. The protocol's parser holds to the same rule: its errors
 * never quote a value.
 */
import { isKeyword } from '../protocol/options/keywords.ts'

/** Any URL's scheme, as RFC 3986 spells one, and its "//": what a user name and password may follow. */
const anyScheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//

/**
 * `word` in double quotes; of a connection string, only its scheme or first keyword, then "...";
 * of any other word that may hold a secret (an "=" after something no keyword, a
 * "user:password@"), nothing at all.
 */
export function quoted(word: string): string {
  const start = word.trimStart()
  if (anyScheme.test(start) || looksLikeUrl(start)) return `"${scheme(start)}..."`
  const keyword = /^[A-Za-z_]+\s*=/.exec(start)
  if (keyword) return `"${keyword[0]}..."`
  if (word.includes('=') || /:[^@\s]*@/.test(word)) return 'a word not shown here (it may hold a password)'
  return `"${word}"`
}

/**
 * Whether `word` is a connection string, or holds what one does, and so is never a channel or
 * a host name: a PostgreSQL URL; a scheme, then a "user:password@" ("postgresql+psycopg2://
 * app:secret@db", as SQLAlchemy writes one, or "postgres:/app:secret@db" mistyped); or
 * keyword=value text that begins with one of libpq's keywords ("host=db password=secret").
 * Other words stay what their place makes them: "postgres:events", "a=b", "postgres//jobs".
 */
export function looksLikeConnectionString(word: string): boolean {
  const start = word.trimStart()
  if (/^postgres(?:ql)?:\/\//i.test(start) || /^[A-Za-z][A-Za-z0-9+.-]*:\/*[^@\s/:]*:[^@\s]*@/.test(start)) return true
  const keyword = /^([A-Za-z_]+)\s*=/.exec(start)
  return keyword !== null && isKeyword(keyword[1]!)
}

/**
 * Whether `word` may hold a password: a connection string, any "user:password@" before a
 * space, or a "password=" anywhere ("db password=secret", a JDBC URL's "?password=", an
 * ADO.NET string's ";Password=", or its aliases ";Pwd=" and ";Psw="). For what is never a name with such a shape (a host, a
 * database, a slot, a publication); a channel may be one ("mail:alice@example.com"), so
 * channels ask looksLikeConnectionString.
 */
export function mayHoldPassword(word: string): boolean {
  return looksLikeConnectionString(word) || /^[^@\s]*:[^@\s]*@/.test(word.trimStart()) || /(?:password|\bpwd|\bpsw)\s*=/i.test(word)
}

/**
 * Whether `word` begins as a PostgreSQL URL does, rightly or not: "postgresql://", and also
 * "postgres:/" or "Postgres//", which libpq would not take for a URL but a person meant as one.
 */
export function looksLikeUrl(word: string): boolean {
  return /^postgres(?:ql)?[:/]/i.test(word)
}

/** The scheme, with the ':' and '/' after it as typed: "postgresql://" of "postgresql://app:secret@db". */
export function scheme(url: string): string {
  return /^[^:/]*[:/]*/.exec(url)![0]
}
