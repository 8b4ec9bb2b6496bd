/**
 * libpq connection strings, both forms ("Connection Strings" in the libpq docs): a URI, or
 * keyword=value settings. Parsed as libpq's conninfo_parse and conninfo_uri_parse do
 * (fe-connect.c), to libpq keywords and their text. Imports the other parsing modules only.
 *
 * A malformed string is a TypeError whose message never quotes a value: values may be
 * passwords, and a password with a stray space splits into pieces that look like keywords.
 */
import { uriPrefixLength, type Conninfo } from './conninfo.ts'
import { SECRET_KEYWORDS } from './keywords.ts'
import { connectionStringError, storeSetting } from './store-setting.ts'
import { parseUri } from './uri.ts'

export type { Conninfo }

/**
 * Parses a connection string into libpq keywords and values. Only what the string sets: no
 * defaults, no environment. A later setting of a keyword replaces an earlier one.
 */
export function parseConnectionString(text: string): Conninfo {
  if (typeof text !== 'string') throw new TypeError('a connection string must be a string')
  return uriPrefixLength(text) > 0 ? parseUri(text) : parseKeywordValue(text)
}

// isspace() in the C locale: what libpq skips between settings.
const SPACE = new Set([' ', '\t', '\n', '\v', '\f', '\r'])

/**
 * keyword = value settings separated by whitespace. A value is a run of non-space characters,
 * or single-quoted; in both, a backslash takes the next character literally (so \' and \\).
 * Quoting is the only way to write an empty value: after "=", libpq skips spaces and reads
 * whatever comes next as the value, so "host= port=5432" sets host to "port=5432".
 */
function parseKeywordValue(text: string): Conninfo {
  const result: Conninfo = {}
  let at = 0
  let afterSecret = false // the previous value was a secret: do not quote the next keyword
  while (at < text.length) {
    if (SPACE.has(text[at]!)) {
      at++
      continue
    }
    const nameStart = at
    while (at < text.length && text[at] !== '=' && !SPACE.has(text[at]!)) at++
    const name = text.slice(nameStart, at)
    const shown = afterSecret ? 'a word following a secret' : `"${name}"`
    while (at < text.length && SPACE.has(text[at]!)) at++
    if (text[at] !== '=') {
      throw connectionStringError(`missing "=" after ${shown} at offset ${nameStart}`)
    }
    at++
    while (at < text.length && SPACE.has(text[at]!)) at++
    let value = ''
    if (text[at] === "'") {
      at++
      for (;;) {
        if (at >= text.length) throw connectionStringError(`unterminated quoted value for ${shown}`)
        const char = text[at]!
        if (char === '\\') {
          at++
          if (at < text.length) value += text[at++]
        } else if (char === "'") {
          at++
          break
        } else {
          value += char
          at++
        }
      }
    } else {
      while (at < text.length && !SPACE.has(text[at]!)) {
        if (text[at] === '\\') at++ // a trailing lone backslash is dropped, as in libpq
        if (at < text.length) value += text[at++]
      }
    }
    storeSetting(result, name, value, !afterSecret)
    // Quoted or not: a secret mis-quoted (SQL's doubled quote, a quote mid-word) runs on into what follows.
    afterSecret = SECRET_KEYWORDS.has(name)
  }
  return result
}
