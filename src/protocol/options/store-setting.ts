/**
 * The one way a setting gets into a parsed connection string, and the error a malformed one
 * is. Shared by the keyword=value and URI parsers, and imported by them only, so that it loads
 * with them (the resolver loads them only for a connection string). Imports keywords.ts, and
 * conninfo.ts's type.
 */
import type { Conninfo } from './conninfo.ts'
import { isKeyword } from './keywords.ts'

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
    // Only a word that could be a keyword is quoted: "app:secret@db/shop?sslmode", of a URL
    // whose scheme libpq does not take (postgresql+psycopg2://...), holds a password.
    const name = !quotable
      ? '(not shown: it follows a secret, which may have been cut short by a space or separator)'
      : /^\w*$/.test(keyword) ? `"${keyword}"` : '(not shown: it is no keyword, and may hold a secret)'
    throw connectionStringError(`unknown option ${name}; see "Parameter Key Words" in the libpq docs`)
  }
  into[keyword] = value
}
