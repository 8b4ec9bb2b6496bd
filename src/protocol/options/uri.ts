/**
 * Connection URIs ("Connection URIs" in the libpq docs), parsed as libpq's
 * conninfo_uri_parse_options does (fe-connect.c):
 *
 *   postgresql://[user[:password]@][host][:port][,...][/dbname][?param1=value1&...]
 *
 * Every part is percent-decoded. Imports conninfo.ts, keywords.ts and store-setting.ts only.
 */
import { uriPrefixLength, type Conninfo } from './conninfo.ts'
import { SECRET_KEYWORDS } from './keywords.ts'
import { connectionStringError as error, storeSetting } from './store-setting.ts'

export function parseUri(uri: string): Conninfo {
  const result: Conninfo = {}
  let p = uriPrefixLength(uri)

  // user[:password]@ is there if an '@' comes before the first '/'. libpq looks no further,
  // so a password must write '@' as %40 but may hold a raw ':'.
  let q = p
  while (q < uri.length && uri[q] !== '@' && uri[q] !== '/') q++
  if (uri[q] === '@') {
    const userinfo = uri.slice(p, q)
    const colon = userinfo.indexOf(':')
    const user = colon === -1 ? userinfo : userinfo.slice(0, colon)
    const password = colon === -1 ? '' : userinfo.slice(colon + 1)
    // Empty parts are not stored, so that PGUSER and PGPASSWORD still apply.
    if (user) result.user = decode(user, 'the user name')
    if (password) result.password = decode(password, 'the password')
    p = q + 1
  }

  // host[:port] pairs separated by commas; an IPv6 address is bracketed.
  const hosts: string[] = []
  const ports: string[] = []
  let terminator: string
  for (;;) {
    let host: string
    if (uri[p] === '[') {
      const close = uri.indexOf(']', p + 1)
      if (close === -1) throw error('end of string reached when looking for the "]" closing an IPv6 address')
      if (close === p + 1) throw error('an IPv6 address in brackets may not be empty')
      host = uri.slice(p + 1, close)
      p = close + 1
      if (p < uri.length && !':/?,'.includes(uri[p]!)) {
        throw error(`unexpected character "${uri[p]}" at position ${p + 1} (expected ":" or "/")`)
      }
    } else {
      const from = p
      while (p < uri.length && !':/?,'.includes(uri[p]!)) p++
      host = uri.slice(from, p)
      // libpq takes such an '@' as part of a host name, which then fails to resolve; it is
      // almost always the rest of a password with an unencoded '@', so say so and quote nothing.
      if (host.includes('@')) throw error('unexpected "@" in the host part; write "@" in a user name or password as %40')
    }
    let port = ''
    terminator = uri[p] ?? ''
    if (terminator === ':') {
      const from = ++p
      while (p < uri.length && !'/?,'.includes(uri[p]!)) p++
      port = uri.slice(from, p)
      terminator = uri[p] ?? ''
    }
    hosts.push(host)
    ports.push(port)
    if (terminator !== ',') break
    p++
  }
  // libpq decodes the lists whole, and stores them unless empty: "h1,h2" stores port ",".
  const hostList = hosts.join(',')
  const portList = ports.join(',')
  if (hostList) result.host = decode(hostList, 'the host')
  if (portList) result.port = decode(portList, 'the port')

  if (terminator === '/') {
    const from = ++p
    while (p < uri.length && uri[p] !== '?') p++
    const dbname = uri.slice(from, p)
    // Not stored when empty, so that PGDATABASE still applies.
    if (dbname) result.dbname = decode(dbname, 'the database name')
    terminator = uri[p] ?? ''
  }
  if (terminator === '?') parseParameters(uri.slice(p + 1), result)
  return result
}

/** name=value pairs separated by '&'; any libpq keyword, and JDBC's ssl=true for sslmode=require. */
function parseParameters(text: string, into: Conninfo): void {
  let afterSecret = false // a secret may hold a raw '&': what follows it is never quoted
  let at = 0
  while (at < text.length) {
    let end = text.indexOf('&', at)
    if (end === -1) end = text.length
    const pair = text.slice(at, end)
    const equals = pair.indexOf('=')
    const position = `query parameter ${afterSecret ? 'after a secret' : `"${pair.slice(0, equals === -1 ? undefined : equals)}"`}`
    if (equals === -1) throw error(`missing "=" in ${position}`)
    if (pair.includes('=', equals + 1)) throw error(`extra "=" in ${position}; write "=" in a value as %3D`)
    let keyword = decode(pair.slice(0, equals), afterSecret ? 'a query parameter name after a secret' : 'a query parameter name')
    let value = decode(pair.slice(equals + 1), `the value of the ${position}`)
    if (keyword === 'ssl' && value === 'true') {
      keyword = 'sslmode'
      value = 'require'
    }
    storeSetting(into, keyword, value, !afterSecret)
    afterSecret = SECRET_KEYWORDS.has(keyword)
    at = end + 1
  }
}

const encoder = new TextEncoder()
// fatal: a string is exactly what was encoded, or an error; ignoreBOM keeps a leading U+FEFF.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * libpq's conninfo_uri_decode: spaces around the text are dropped, a space inside is refused,
 * %xy is the byte 0xxy (never %00). The bytes are read as UTF-8. `what` names the part for
 * errors, which never show the text itself.
 */
function decode(text: string, what: string): string {
  let at = 0
  while (text[at] === ' ') at++
  const bytes: number[] = []
  let run = ''
  for (; at < text.length && text[at] !== ' '; at++) {
    if (text[at] !== '%') {
      run += text[at]
      continue
    }
    const hi = hexDigit(text[at + 1])
    const lo = hexDigit(text[at + 2])
    if (hi === undefined || lo === undefined) throw error(`invalid percent-encoded token in ${what}`)
    if (hi === 0 && lo === 0) throw error(`forbidden value %00 in ${what}`)
    bytes.push(...encoder.encode(run), hi * 16 + lo)
    run = ''
    at += 2
  }
  while (text[at] === ' ') at++
  if (at < text.length) throw error(`unexpected spaces in ${what}; write a space as %20`)
  if (bytes.length === 0) return run
  bytes.push(...encoder.encode(run))
  try {
    return decoder.decode(Uint8Array.from(bytes))
  } catch {
    throw error(`${what} is not UTF-8 once percent-decoded`)
  }
}

function hexDigit(char: string | undefined): number | undefined {
  if (char === undefined || !/^[0-9A-Fa-f]$/.test(char)) return undefined
  return Number.parseInt(char, 16)
}
