/**
 * Quoting as PostgreSQL defines it ("SQL Syntax", "Lexical Structure"): identifiers and string
 * literals for SQL and replication commands built from user input. Pure; imports nothing.
 * The listener's NOTIFY rules (../listener/sql.ts) and the replication commands use it, and
 * frontend.ts's encoders its text check.
 */

/**
 * A quoted identifier ("Identifiers and Key Words"): in double quotes, a double quote
 * doubled. Case is kept, so "Orders" and orders are different names.
 */
export function quoteIdentifier(name: string): string {
  checkText(name, 'an identifier')
  return `"${name.replaceAll('"', '""')}"`
}

/**
 * A string literal ("String Constants"). With standard_conforming_strings on (the default
 * since 9.1), backslashes are ordinary: only quotes are doubled. With it off, backslashes
 * escape, so the literal is written in the escape form E'...' with both doubled, which means
 * the same under either setting. This is what libpq's PQescapeStringConn decides from the
 * same parameter.
 */
export function quoteLiteral(text: string, standardConformingStrings = true): string {
  checkText(text, 'a string literal')
  const quoted = text.replaceAll("'", "''")
  if (standardConformingStrings || !text.includes('\\')) return `'${quoted}'`
  return `E'${quoted.replaceAll('\\', '\\\\')}'`
}

/**
 * Text the server will take as given. It ends every string at a NUL, so a name or literal
 * holding one would be cut short. A lone surrogate (half of a UTF-16 pair) has no UTF-8, and
 * TextEncoder would send U+FFFD in its place: a channel name would then never match its own.
 */
export function checkText(text: string, what: string): void {
  if (text.includes('\0')) throw new RangeError(`${what} must not contain a NUL character`)
  if (/\p{Cs}/u.test(text)) throw new RangeError(`${what} must not contain a lone surrogate, which has no UTF-8`)
}
