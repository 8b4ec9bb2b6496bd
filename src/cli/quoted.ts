/**
 * A word of the command line as an error message quotes it back, never with a password in it.
 * Pure: imports the protocol's recognition of connection strings.
 *
 * A connection string may hold a password (postgresql://app:secret@db/shop, or
 * "host=db password=secret"), and an error message ends up on a terminal, in a log, on a CI
 * page. So of a word that is a connection string, or was clearly meant as one, only the
 * beginning is quoted: the URL's scheme, or the first keyword. The protocol's parser holds to
 * the same rule: its errors never quote a value.
 */
import { isConnectionString } from '../protocol/options/index.ts'

/** `word` in double quotes; of a connection string, only its scheme or first keyword, then "...". */
export function quoted(word: string): string {
  if (looksLikeUrl(word)) return `"${scheme(word)}..."`
  if (isConnectionString(word)) return `"${word.slice(0, word.indexOf('=') + 1)}..."`
  return `"${word}"`
}

/**
 * Whether `word` begins as a PostgreSQL URL does, rightly or not: "postgresql://", and also
 * "postgres:/" or "Postgres//", which libpq would not take for a URL but a person meant as one.
 */
export function looksLikeUrl(word: string): boolean {
  return /^postgres(?:ql)?[:/]/i.test(word)
}

/** A PostgreSQL URL by its scheme, in any case: never a host name, a user name or a channel name. */
export function isUrl(word: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(word)
}

/** The scheme, with the ':' and '/' after it as typed: "postgresql://" of "postgresql://app:secret@db". */
export function scheme(url: string): string {
  return /^[^:/]*[:/]*/.exec(url)![0]
}
