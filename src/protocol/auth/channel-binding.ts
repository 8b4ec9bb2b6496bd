/**
 * libpq's channel_binding option as pure decisions: which SCRAM mechanism and gs2 flag to use for
 * the server's AuthenticationSASL list, and which other requests and outcomes `require` refuses.
 * Imports errors, require-auth (whose verdict on the chosen mechanism comes first, as in libpq) and
 * the ChannelBinding type of options/.
 *
 * Matches pg_SASL_init and check_expected_areq in fe-auth.c and build_client_first_message in
 * fe-auth-scram.c (PostgreSQL 18); every message is libpq's (one adds the offered list). The gs2
 * flag (RFC 5802 section 7):
 *   'p'  the client binds to the TLS connection: SCRAM-SHA-256-PLUS, tls-server-end-point.
 *   'y'  the client could bind but the server offered no -PLUS mechanism. A server that did offer
 *        one and sees 'y' knows the list was tampered with (RFC 5802 section 6).
 *   'n'  no TLS, or channel_binding=disable.
 */
import { AuthenticationRefusedError } from '../errors.ts'
import type { ChannelBinding } from '../options/types.ts'

export type { ChannelBinding }

export type ScramChoice =
  | { mechanism: 'SCRAM-SHA-256-PLUS'; binding: 'p' }
  | { mechanism: 'SCRAM-SHA-256'; binding: 'n' | 'y' }

const SCRAM = 'SCRAM-SHA-256'
const SCRAM_PLUS = 'SCRAM-SHA-256-PLUS'

/**
 * Chooses from the mechanisms of AuthenticationSASL, in libpq's order of checks:
 *  1. `require` without TLS is refused before the list is read.
 *  2. SCRAM-SHA-256-PLUS is taken over anything when TLS is up and binding is not disabled; offered
 *     without TLS it is refused whatever the option, since the server would then refuse the
 *     unbound exchange anyway (its downgrade check) and the TLS may have been stripped.
 *  3. Otherwise SCRAM-SHA-256. pglisten speaks no other mechanism (libpq 18 would also take
 *     OAUTHBEARER, which pglisten does not implement).
 *  4. `judge` (require_auth's checkSaslMechanism, when it is set) judges the chosen mechanism.
 *  5. `require` refuses anything but SCRAM-SHA-256-PLUS.
 */
export function chooseScram(
  policy: ChannelBinding,
  tls: boolean,
  offered: readonly string[],
  judge?: (mechanism: typeof SCRAM | typeof SCRAM_PLUS) => void,
): ScramChoice {
  checkPolicy(policy)
  if (typeof tls !== 'boolean') throw new TypeError('tls must be a boolean')
  if (!Array.isArray(offered)) throw new TypeError('the offered mechanisms must be an array of strings')
  if (policy === 'require' && !tls) throw new AuthenticationRefusedError('channel binding required, but SSL not in use')

  let mechanism: typeof SCRAM | typeof SCRAM_PLUS | undefined
  for (const name of offered) {
    if (name === SCRAM_PLUS) {
      if (!tls) {
        throw new AuthenticationRefusedError('server offered SCRAM-SHA-256-PLUS authentication over a non-SSL connection')
      }
      if (policy !== 'disable') mechanism = SCRAM_PLUS
    } else if (name === SCRAM) {
      mechanism ??= SCRAM
    }
  }
  if (mechanism === undefined) {
    throw new AuthenticationRefusedError(
      `none of the server's SASL authentication mechanisms are supported (${offered.join(', ') || 'an empty list'})`,
    )
  }
  judge?.(mechanism)
  if (policy === 'require' && mechanism !== SCRAM_PLUS) {
    throw new AuthenticationRefusedError(
      'channel binding is required, but server did not offer an authentication method that supports channel binding',
    )
  }
  if (mechanism === SCRAM_PLUS) return { mechanism, binding: 'p' }
  return { mechanism, binding: policy !== 'disable' && tls ? 'y' : 'n' }
}

/**
 * Under `require`, refuses a request that cannot bind: a password in clear or hashed, GSSAPI,
 * SSPI (check_expected_areq, so that no password leaks to a server that has not proved itself),
 * and 'none', an AuthenticationOk with no SASL exchange at all (trust).
 */
export function checkWithoutSasl(policy: ChannelBinding, request: 'password' | 'md5' | 'gss' | 'sspi' | 'none'): void {
  checkPolicy(policy)
  if (policy !== 'require') return
  if (request === 'none') checkChannelBound(policy, false)
  else if (request === 'password' || request === 'md5' || request === 'gss' || request === 'sspi') {
    throw new AuthenticationRefusedError("channel binding required but not supported by server's authentication request")
  } else throw new RangeError(`unknown authentication request ${JSON.stringify(request)}`)
}

/**
 * Under `require`, AuthenticationOk is accepted only after a bound exchange: SCRAM-SHA-256-PLUS
 * that reached SASLFinal with a verified server signature (libpq's scram_channel_bound). This also
 * refuses an Ok that cuts a -PLUS exchange short.
 */
export function checkChannelBound(policy: ChannelBinding, channelBound: boolean): void {
  checkPolicy(policy)
  if (policy === 'require' && channelBound !== true) {
    throw new AuthenticationRefusedError('channel binding required, but server authenticated client without channel binding')
  }
}

function checkPolicy(policy: ChannelBinding): void {
  if (policy !== 'disable' && policy !== 'prefer' && policy !== 'require') {
    throw new RangeError(`invalid channel_binding value: ${JSON.stringify(policy)}`)
  }
}
