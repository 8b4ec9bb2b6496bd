/**
 * The servers to try, from libpq's host, hostaddr and port lists, as pqConnectOptions2 pairs
 * them up (fe-connect.c), with the port and address checks libpq makes when it reaches each
 * host done here, before anything connects: the address check is numeric-address.ts's, handed
 * in by the resolver, which loads it only when a hostaddr is set. Imports defaults.ts, values.ts
 * and types only.
 */
import { DEFAULT_PORT, DEFAULT_SOCKET_DIR } from './defaults.ts'
import type { HostTarget } from './types.ts'
import { parseLibpqInt, type Sourced } from './values.ts'

export interface HostLists {
  host?: Sourced
  hostaddr?: Sourced
  port?: Sourced
  /** Refuses a hostaddr entry that is not a numeric address (numeric-address.ts); asked only for a non-empty entry. */
  checkAddress: (address: string, from: string) => void
  /** process.platform: Windows has no default socket folder, so its default host is localhost. */
  platform?: string
}

/**
 * One HostTarget per entry of hostaddr if given, else of host, else one default. host must
 * then have as many entries; port one for all or one each. An empty entry means the default.
 */
export function hostTargets({ host, hostaddr, port, checkAddress, platform }: HostLists): HostTarget[] {
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
    if (address) checkAddress(address, hostaddr!.from)
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
