/**
 * The result of parsing a connection string, and how a connection string is told from a
 * database name: what the resolver needs before it loads the parsers (which only a connection
 * string does), and the parsers share. How a parser stores a setting is store-setting.ts's,
 * which loads with them. Imports nothing.
 */

/** The keywords a connection string sets, each with its text, as libpq's PQconninfoParse gives them. */
export type Conninfo = Record<string, string>

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
