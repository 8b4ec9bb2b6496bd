/**
 * Reading one setting's text as libpq does: integers (pqParseIntParam in fe-connect.c), the
 * enumerated keywords, and the timeout. A value libpq refuses is a RangeError naming the
 * keyword, where the value came from, and what is allowed. Imports types only.
 */
import type { ChannelBinding, SslCertMode, SslMode, SslNegotiation, TargetSessionAttrs } from './types.ts'

export const SSL_MODES: readonly SslMode[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']
export const SSL_NEGOTIATIONS: readonly SslNegotiation[] = ['postgres', 'direct']
export const SSL_CERT_MODES: readonly SslCertMode[] = ['disable', 'allow']
export const CHANNEL_BINDINGS: readonly ChannelBinding[] = ['disable', 'prefer', 'require']
export const TARGET_SESSION_ATTRS: readonly TargetSessionAttrs[] = ['any', 'read-write', 'read-only', 'primary', 'standby', 'prefer-standby']

/** One setting's text and a phrase saying where it came from, e.g. "from PGSSLMODE". */
export interface Sourced<T = string> {
  value: T
  from: string
}

/** The value if it is one of `allowed` (exactly: libpq compares with strcmp), else a RangeError. */
export function oneOf<T extends string>(keyword: string, setting: Sourced, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(setting.value)) return setting.value as T
  throw new RangeError(`invalid ${keyword} value "${setting.value}" ${setting.from}; expected one of: ${allowed.join(', ')}`)
}

const INT_MIN = -(2 ** 31)
const INT_MAX = 2 ** 31 - 1

/**
 * pqParseIntParam: strtol in base 10 with whitespace allowed on both sides, a sign allowed,
 * nothing else; the result must fit a C int. Undefined when libpq would refuse the text.
 */
export function parseLibpqInt(text: string): number | undefined {
  const match = /^[ \t\n\v\f\r]*([+-]?[0-9]+)[ \t\n\v\f\r]*$/.exec(text)
  if (match === null) return undefined
  const number = Number(match[1])
  return number >= INT_MIN && number <= INT_MAX ? number + 0 : undefined // + 0 turns -0 into 0
}

export function integer(keyword: string, setting: Sourced<string | number>): number {
  const { value } = setting
  const number = typeof value === 'number' ? value : parseLibpqInt(value)
  if (number === undefined || !Number.isInteger(number) || number < INT_MIN || number > INT_MAX) {
    throw new RangeError(`invalid integer value "${value}" for ${keyword} ${setting.from}`)
  }
  return number
}

/**
 * connect_timeout in seconds: zero or negative waits forever (undefined). Older libpq turned 1
 * into 2 seconds; current libpq keeps deadlines in microseconds (pqConnectDBComplete) and takes
 * 1 as 1, and its docs no longer mention a minimum. An empty value is invalid, as in libpq.
 */
export function connectTimeout(setting: Sourced<string | number> | undefined): number | undefined {
  if (setting === undefined) return undefined
  const seconds = integer('connect_timeout', setting)
  return seconds > 0 ? seconds : undefined
}

/**
 * sslsni: libpq sends SNI when the text starts with "1" and treats anything else as off, so
 * "sslsni=true" quietly means off there. pglisten takes only 0 and 1 and refuses the rest.
 */
export function sslsni(setting: Sourced<string | boolean> | undefined): boolean {
  if (setting === undefined) return true
  if (typeof setting.value === 'boolean') return setting.value
  return oneOf('sslsni', setting as Sourced, ['0', '1']) === '1'
}
