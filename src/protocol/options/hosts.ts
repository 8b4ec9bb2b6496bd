/**
 * The servers to try, from libpq's host, hostaddr and port lists, as pqConnectOptions2 pairs
 * them up (fe-connect.c), with the port and address checks libpq makes when it reaches each
 * host done here, before anything connects. Imports values.ts and types only.
 */
import type { HostTarget } from './types.ts'
import { parseLibpqInt, type Sourced } from './values.ts'

/** libpq's DEF_PGPORT. */
export const DEFAULT_PORT = 5432
/** libpq's DEFAULT_PGSOCKET_DIR as PostgreSQL builds it by default (some distributions change it). */
export const DEFAULT_SOCKET_DIR = '/tmp'

/** libpq's is_unixsock_path: an absolute path, or '@' for Linux's abstract socket namespace. */
export function isUnixSocketPath(host: string): boolean {
  return host.startsWith('/') || host.startsWith('@')
}

export interface HostLists {
  host?: Sourced
  hostaddr?: Sourced
  port?: Sourced
  /** process.platform: Windows has no default socket folder, so its default host is localhost. */
  platform?: string
}

/**
 * One HostTarget per entry of hostaddr if given, else of host, else one default. host must
 * then have as many entries; port one for all or one each. An empty entry means the default.
 */
export function hostTargets({ host, hostaddr, port, platform }: HostLists): HostTarget[] {
  const addresses = hostaddr?.value ? hostaddr.value.split(',') : undefined
  const names = host?.value ? host.value.split(',') : undefined
  const count = addresses?.length ?? names?.length ?? 1
  if (names && names.length !== count) {
    throw new RangeError(`could not match ${names.length} host names to ${count} hostaddr values`)
  }
  let ports = port?.value ? port.value.split(',') : undefined
  if (ports?.length === 1) ports = new Array<string>(count).fill(ports[0]!)
  if (ports && ports.length !== count) {
    throw new RangeError(`could not match ${ports.length} port numbers to ${count} hosts`)
  }
  const targets: HostTarget[] = []
  for (let i = 0; i < count; i++) {
    const address = addresses?.[i] ?? ''
    let name = names?.[i] ?? ''
    if (address) checkNumericAddress(address, hostaddr!.from)
    else if (!name) name = platform === 'win32' ? 'localhost' : DEFAULT_SOCKET_DIR
    const target: HostTarget = { host: name, port: portNumber(ports?.[i] ?? '', port?.from ?? '') }
    if (address) target.hostaddr = address
    targets.push(target)
  }
  return targets
}

/** An empty entry is the default port; otherwise a libpq integer from 1 to 65535. */
function portNumber(text: string, from: string): number {
  if (text === '') return DEFAULT_PORT
  const number = parseLibpqInt(text)
  if (number === undefined) throw new RangeError(`invalid integer value "${text}" for port ${from}`)
  if (number < 1 || number > 65535) throw new RangeError(`invalid port number "${text}" ${from}`)
  return number
}

/**
 * libpq resolves hostaddr with getaddrinfo(AI_NUMERICHOST) when it reaches that host and skips
 * the host if it fails. pglisten refuses up front, and accepts only the standard forms: IPv4
 * dotted quads, IPv6 (with an optional %zone), not glibc's "127.1" or hexadecimal ones.
 */
function checkNumericAddress(address: string, from: string): void {
  if (!isIPv4(address) && !isIPv6(address)) {
    throw new RangeError(`invalid hostaddr "${address}" ${from}: not a numeric IPv4 or IPv6 address (names go in host)`)
  }
}

export function isIPv4(text: string): boolean {
  const parts = text.split('.')
  return parts.length === 4 && parts.every((part) => /^(0|[1-9][0-9]{0,2})$/.test(part) && Number(part) <= 255)
}

const GROUP = /^[0-9A-Fa-f]{1,4}$/

/** RFC 4291 section 2.2 text forms: eight groups, one "::" for a run of zeros, IPv4 at the end. */
export function isIPv6(text: string): boolean {
  const percent = text.indexOf('%')
  if (percent === text.length - 1) return false // an empty zone
  let body = percent === -1 ? text : text.slice(0, percent)
  let groups = 8
  const lastColon = body.lastIndexOf(':')
  if (lastColon === -1) return false
  if (body.includes('.', lastColon)) {
    if (!isIPv4(body.slice(lastColon + 1))) return false
    groups = 6 // the IPv4 part stands for the last two
    body = body.endsWith('::', lastColon + 1) ? body.slice(0, lastColon + 1) : body.slice(0, lastColon)
  }
  const halves = body.split('::')
  if (halves.length > 2) return false
  const split = (half: string): string[] => (half === '' ? [] : half.split(':'))
  if (halves.length === 2) {
    const present = [...split(halves[0]!), ...split(halves[1]!)]
    return present.length < groups && present.every((group) => GROUP.test(group))
  }
  const all = body.split(':')
  return all.length === groups && all.every((group) => GROUP.test(group))
}
