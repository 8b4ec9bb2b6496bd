/**
 * libpq's require_auth connection option (PostgreSQL 16; `oauth` since 18): which authentication
 * requests the client may answer, and whether the server may skip authentication. Imports errors.
 *
 * Parsing follows pqConnectOptions2 in fe-connect.c, judging follows check_expected_areq and
 * pg_SASL_init in fe-auth.c, and every message is libpq's. libpq keeps a bitmask of the
 * AuthenticationRequest codes it may answer (protocol docs, "Message Formats"), a list of allowed
 * SASL mechanisms, and `auth_required`; so does this module, so that its edge cases are libpq's:
 *   - A plain list starts from nothing and adds; a list of `!` entries starts from everything and
 *     takes away. The first entry decides which; the other form after it is refused.
 *   - `gss` and `sspi` both cover GSSContinue (code 8), as in libpq: `!gss` also forbids the
 *     continuation an SSPI exchange needs.
 *   - SASL requests are allowed when any SASL mechanism is (`scram-sha-256`, `oauth`); the chosen
 *     mechanism is judged afterwards (checkSaslMechanism).
 *   - `none` lets the server skip authentication: AuthenticationOk before the client has finished
 *     an exchange. A plain list without it, or `!none`, requires a finished exchange.
 */
import { AuthenticationRefusedError } from '../errors.ts'

export type AuthMethod = 'password' | 'md5' | 'gss' | 'sspi' | 'scram-sha-256' | 'oauth' | 'none'

/** An authentication request from the server, as require_auth judges it. */
export type AuthRequest = 'password' | 'md5' | 'gss' | 'gss-continue' | 'sspi' | 'sasl'

export interface RequireAuth {
  /** The option as given; '' when unset. */
  readonly text: string
  /** May the client answer a request for this method? ('none' asks: may the server skip authentication?) */
  allows(method: AuthMethod): boolean
}

// AuthenticationRequest codes (protocol docs: AuthenticationCleartextPassword is Int32(3), and so on).
const PASSWORD = 1 << 3
const MD5 = 1 << 5
const GSS = 1 << 7
const GSS_CONTINUE = 1 << 8
const SSPI = 1 << 9
// AuthenticationSASL (10), SASLContinue (11) and SASLFinal (12) always move together in libpq.
const SASL = (1 << 10) | (1 << 11) | (1 << 12)
const ALL = -1

// Maps, not object literals, so that an entry such as 'constructor' finds nothing.
const REQUEST_BITS = new Map<string, number>([
  ['password', PASSWORD],
  ['md5', MD5],
  ['gss', GSS],
  ['gss-continue', GSS_CONTINUE],
  ['sspi', SSPI],
  ['sasl', SASL],
])

/** The bits each method of libpq's first group sets or clears (fe-connect.c). */
const METHOD_BITS = new Map<string, number>([
  ['password', PASSWORD],
  ['md5', MD5],
  ['gss', GSS | GSS_CONTINUE],
  ['sspi', SSPI | GSS_CONTINUE],
])

type SaslMethod = 'scram-sha-256' | 'oauth'
const SASL_METHODS: readonly SaslMethod[] = ['scram-sha-256', 'oauth']

/** The SASL mechanism names of the AuthenticationSASL list, and the method each belongs to. */
const SASL_MECHANISMS = new Map<string, SaslMethod>([
  ['SCRAM-SHA-256', 'scram-sha-256'],
  ['SCRAM-SHA-256-PLUS', 'scram-sha-256'],
  ['OAUTHBEARER', 'oauth'],
])

/** Every method require_auth knows, in the order of libpq's docs. */
export const AUTH_METHODS: readonly AuthMethod[] = ['password', 'md5', 'gss', 'sspi', 'scram-sha-256', 'oauth', 'none']

class Rule implements RequireAuth {
  constructor(
    readonly text: string,
    /** Which AuthenticationRequest codes may be answered, one bit per code. */
    readonly requests: number,
    readonly mechanisms: ReadonlySet<SaslMethod>,
    /** Must the server complete an exchange before AuthenticationOk? libpq's auth_required. */
    readonly authRequired: boolean,
  ) {}

  allows(method: AuthMethod): boolean {
    if (method === 'none') return !this.authRequired
    if (method === 'scram-sha-256' || method === 'oauth') return (this.requests & SASL) !== 0 && this.mechanisms.has(method)
    const bits = METHOD_BITS.get(method)
    if (bits === undefined) throw new RangeError(`unknown authentication method ${JSON.stringify(method)}`)
    // The method's own request code; the GSSContinue bit it shares says nothing about it alone.
    return (this.requests & bits & ~GSS_CONTINUE) !== 0
  }
}

const UNSET = new Rule('', ALL, new Set(SASL_METHODS), false)

/**
 * Parses require_auth. Unset or '' allows everything, as libpq does when the option is absent
 * (PostgreSQL's 001_password.pl: "an empty require_auth (the default) should always succeed").
 * An invalid list throws a RangeError carrying libpq's message, which names the bad entry.
 */
export function parseRequireAuth(text: string | undefined): RequireAuth {
  if (text === undefined || text === '') return UNSET
  if (typeof text !== 'string') throw new TypeError('require_auth must be a string')

  let requests = 0
  const mechanisms = new Set<SaslMethod>()
  let authRequired = true
  let negated = false

  // libpq splits on every comma and trims nothing: ' md5' and '' are entries, and invalid.
  const parts = text.split(',')
  for (const [index, part] of parts.entries()) {
    let method = part
    if (method.startsWith('!')) {
      if (index === 0) {
        // A negative list: start from everything and take away.
        requests = ALL
        for (const m of SASL_METHODS) mechanisms.add(m)
        authRequired = false
      } else if (!negated) {
        throw new RangeError(`negative require_auth method "${method}" cannot be mixed with non-negative methods`)
      }
      negated = true
      method = method.slice(1)
    } else if (negated) {
      throw new RangeError(`require_auth method "${method}" cannot be mixed with negative methods`)
    }

    const duplicate = () => new RangeError(`require_auth method "${part}" is specified more than once`)
    const bits = METHOD_BITS.get(method)
    if (method === 'none') {
      // `none` lets the server skip authentication; `!none` forbids that.
      if (authRequired === negated) throw duplicate()
      authRequired = negated
    } else if (method === 'scram-sha-256' || method === 'oauth') {
      if (mechanisms.has(method) === !negated) throw duplicate()
      if (negated) mechanisms.delete(method)
      else mechanisms.add(method)
    } else if (bits !== undefined) {
      // Duplicates are judged on bits, as libpq does: `gss,sspi` is fine though both set bit 8.
      if (negated ? (requests & bits) === 0 : (requests & bits) === bits) throw duplicate()
      requests = negated ? requests & ~bits : requests | bits
    } else {
      throw new RangeError(`invalid require_auth value: "${method}"`)
    }
  }

  // SASL requests are allowed if, and only if, some SASL mechanism is.
  if (!negated && mechanisms.size > 0) requests |= SASL
  if (negated && mechanisms.size === 0) requests &= ~SASL
  return new Rule(text, requests, mechanisms, authRequired)
}

/**
 * Refuses an authentication request require_auth does not allow (check_expected_areq), before any
 * password material is produced.
 */
export function checkRequest(rule: RequireAuth, request: AuthRequest): void {
  const bits = REQUEST_BITS.get(request)
  if (bits === undefined) throw new RangeError(`unknown authentication request ${JSON.stringify(request)}`)
  if (rule === UNSET || (internal(rule).requests & bits) !== 0) return
  refuse(rule, DESCRIPTIONS.get(request)!)
}

/**
 * Refuses the SASL mechanism the client chose from the server's list when require_auth does not
 * allow it (pg_SASL_init): SCRAM-SHA-256 and its -PLUS form are `scram-sha-256`, OAUTHBEARER is
 * `oauth`.
 */
export function checkSaslMechanism(rule: RequireAuth, mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-256-PLUS' | 'OAUTHBEARER'): void {
  const method = SASL_MECHANISMS.get(mechanism)
  if (method === undefined) throw new RangeError(`unknown SASL mechanism ${JSON.stringify(mechanism)}`)
  if (rule === UNSET || internal(rule).mechanisms.has(method)) return
  refuse(rule, `server requested ${mechanism} authentication`)
}

/**
 * Judges AuthenticationOk (check_expected_areq): unless require_auth allows `none`, the client
 * must have finished an exchange first. Finished means, as in libpq: the password or MD5 hash was
 * sent, or the SCRAM server signature was received (SASLFinal). An Ok that skips SASLFinal is
 * refused here, which is how a server that does not know the password is caught.
 */
export function checkAuthenticationOk(rule: RequireAuth, clientFinishedAuth: boolean): void {
  if (rule === UNSET || clientFinishedAuth || rule.allows('none')) return
  refuse(rule, 'server did not complete authentication')
}

/** libpq's auth_method_description(), for a refused request. */
const DESCRIPTIONS = new Map<string, string>([
  ['password', 'server requested a cleartext password'],
  ['md5', 'server requested a hashed password'],
  ['gss', 'server requested GSSAPI authentication'],
  ['gss-continue', 'server requested GSSAPI authentication'],
  ['sspi', 'server requested SSPI authentication'],
  ['sasl', 'server requested SASL authentication'],
])

function internal(rule: RequireAuth): Rule {
  if (!(rule instanceof Rule)) throw new TypeError('expected a RequireAuth from parseRequireAuth()')
  return rule
}

function refuse(rule: RequireAuth, reason: string): never {
  throw new AuthenticationRefusedError(`authentication method requirement "${rule.text}" failed: ${reason}`)
}
