/**
 * The result of parsing a connection string, the one way a setting gets into it, and how a
 * connection string is told from a database name. Shared by the keyword=value and URI parsers,
 * and by the resolver, which loads the parsers only for a connection string. Imports keywords.ts only.
 */
import { isKeyword } from './keywords.ts'

/** The keywords a connection string sets, each with its text, as libpq's PQconninfoParse gives them. */
export type Conninfo = Record<string, string>

export function connectionStringError(problem: string): TypeError {
  return new TypeError(`invalid connection string: ${problem}`)
}

/**
 * Records one setting as libpq's conninfo_storeval does: the obsolete requiressl becomes
 * sslmode (a value starting with 1 is require, anything else prefer), and a keyword libpq does
 * not know is refused. `quotable` is false when the keyword might be a piece of a secret.
 */
export function storeSetting(into: Conninfo, keyword: string, value: string, quotable: boolean): void {
  if (keyword === 'requiressl') {
    into.sslmode = value.startsWith('1') ? 'require' : 'prefer'
    return
  }
  if (!isKeyword(keyword)) {
    const name = quotable ? `"${keyword}"` : '(not shown: it follows a secret, which may have been cut short by a space or separator)'
    throw connectionStringError(`unknown option ${name}; see "Parameter Key Words" in the libpq docs`)
  }
  into[keyword] = value
}

const URI_PREFIXES = ['postgresql://', 'postgres://']

/** The length of the URI scheme designator `text` starts with, or 0 (libpq's uri_prefix_length). */
export function uriPrefixLength(text: string): number {
  for (const prefix of URI_PREFIXES) if (text.startsWith(prefix)) return prefix.length
  return 0
}

/**
 * libpq's recognized_connection_string: a URI, or anything with an '='. Used where libpq
 * expands a database name that is really a connection string.
 */
export function isConnectionString(text: string): boolean {
  return uriPrefixLength(text) > 0 || text.includes('=')
}
