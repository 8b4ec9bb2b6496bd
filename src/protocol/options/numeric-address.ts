/**
 * hostaddr's check. libpq resolves hostaddr with getaddrinfo(AI_NUMERICHOST) when it reaches
 * that host and skips the host if it fails; pglisten refuses up front. A module of its own:
 * few connections set hostaddr, and loadSettings() (resolve.ts) loads it only for one that does.
 * Imports nothing.
 */

/**
 * Accepts only the standard forms: IPv4 dotted quads, IPv6 (with an optional %zone), not
 * glibc's "127.1" or hexadecimal ones. `from` says where the hostaddr came from.
 */
export function checkNumericAddress(address: string, from: string): void {
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
  // An empty zone, or a second "%": getaddrinfo would refuse either, and node:net's isIP does.
  if (percent === text.length - 1 || text.includes('%', percent + 1)) return false
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
