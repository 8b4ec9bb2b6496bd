/**
 * The password file ("The Password File" in the libpq docs): its lines, how libpq matches one
 * to a connection (passwordFromFile and pwdfMatchesString in fe-connect.c), and the permission
 * rule that makes libpq ignore it. Pure: the I/O edge reads the file. Imports defaults.ts only.
 *
 *   hostname:port:database:username:password
 */
import { DEFAULT_PORT, DEFAULT_SOCKET_DIR, isUnixSocketPath } from './defaults.ts'
import type { PgpassEntry } from './types.ts'

/**
 * The lines that can match anything, in file order. libpq skips a line that starts with '#'
 * (only there: "  # x" is a host named "  # x") or is empty once its trailing CR/LF are
 * gone, and a line without four ':'-terminated fields can never match, so it is left out.
 * A backslash takes the next character literally; a bare `*` field matches anything.
 */
export function parsePgpass(text: string): PgpassEntry[] {
  const entries: PgpassEntry[] = []
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(/[\r\n]+$/, '')
    if (line === '' || line.startsWith('#')) return
    const fields: (string | null)[] = []
    let at = 0
    for (let n = 0; n < 4; n++) {
      const field = readField(line, at)
      if (field === undefined) return // too few fields
      fields.push(field.value)
      at = field.next
    }
    const [host, port, database, user] = fields as [string | null, string | null, string | null, string | null]
    entries.push({ host, port, database, user, password: readPassword(line.slice(at)), line: index + 1 })
  })
  return entries
}

/** One field that ends at an unescaped ':', or undefined if the line ends first. */
function readField(line: string, start: number): { value: string | null; next: number } | undefined {
  if (line.startsWith('*:', start)) return { value: null, next: start + 2 }
  let value = ''
  for (let at = start; at < line.length; at++) {
    const char = line[at]!
    if (char === ':') return { value, next: at + 1 }
    if (char === '\\') {
      at++
      if (at === line.length) return undefined // a trailing backslash never matches
    }
    value += line[at]
  }
  return undefined
}

/** The password runs to the next unescaped ':' or the end; a trailing lone backslash is kept. */
function readPassword(rest: string): string {
  let password = ''
  for (let at = 0; at < rest.length && rest[at] !== ':'; at++) {
    if (rest[at] === '\\' && at + 1 < rest.length) at++
    password += rest[at]
  }
  return password
}

export interface PgpassTarget {
  /** The host as given: a name, an address or a socket folder; '' when only hostaddr names the server. */
  host: string
  /** libpq looks up hostaddr instead when host is empty. */
  hostaddr?: string
  port: number
  database: string
  user: string
}

/**
 * The password of the first entry that matches, or undefined. Fields compare exactly (case
 * matters). As in libpq, the host looked up is host, else hostaddr, else "localhost", and the
 * default socket folder is also looked up as "localhost"; no database or user, no lookup.
 */
export function findPgpassPassword(entries: readonly PgpassEntry[], target: PgpassTarget): string | undefined {
  if (!target.database || !target.user) return undefined
  let host = target.host || target.hostaddr || ''
  if (host === '' || (isUnixSocketPath(host) && host === DEFAULT_SOCKET_DIR)) host = 'localhost'
  const port = String(target.port || DEFAULT_PORT)
  const matches = (field: string | null, value: string): boolean => field === null || field === value
  const entry = entries.find((entry) =>
    matches(entry.host, host) && matches(entry.port, port) && matches(entry.database, target.database) && matches(entry.user, target.user))
  return entry?.password
}

const S_IFMT = 0o170000
const S_IFREG = 0o100000

/**
 * libpq's rule for trusting the file (passwordFromFile): on anything but Windows, it must be a
 * regular file with no group or other permission bits. `mode` is fs.Stats.mode, file type
 * included. Returns libpq's warning, worded to follow `password file "<path>" ` (or whole,
 * when `path` is given), or undefined when the file may be read.
 */
export function pgpassPermissionProblem(mode: number, platform: string, path?: string): string | undefined {
  if (!Number.isInteger(mode) || mode < 0) throw new TypeError('mode must be the file mode from fs.stat, a non-negative integer')
  if (platform === 'win32') return undefined // the folder under %APPDATA% is presumed secure
  let problem: string | undefined
  if ((mode & S_IFMT) !== S_IFREG) problem = 'is not a plain file'
  else if (mode & 0o077) problem = 'has group or world access; permissions should be u=rw (0600) or less'
  if (problem === undefined) return undefined
  return path === undefined ? problem : `password file "${path}" ${problem}`
}
