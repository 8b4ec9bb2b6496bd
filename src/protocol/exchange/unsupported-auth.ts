/**
 * What startup says to a server that asks for GSSAPI, SSPI or Kerberos V5, which pglisten does
 * not support: loaded by dynamic import only then, as md5 is, since almost no server asks.
 * Imports the errors, and require_auth's request names as a type.
 */
import type { AuthRequest } from '../auth/require-auth.ts'
import { AuthenticationRefusedError } from '../errors.ts'

export type UnsupportedRequest = 'AuthenticationGSS' | 'AuthenticationGSSContinue' | 'AuthenticationSSPI' | 'AuthenticationKerberosV5'

/**
 * The error that refuses `request`, once require_auth (`judge`, when set) has judged it: first,
 * as libpq does, so that a forbidden method is refused in require_auth's words. KerberosV5 is
 * no request require_auth names (libpq dropped it before require_auth existed).
 */
export function refuseUnsupported(request: UnsupportedRequest, judge: ((request: AuthRequest) => void) | undefined): AuthenticationRefusedError {
  if (request !== 'AuthenticationKerberosV5') {
    judge?.(request === 'AuthenticationSSPI' ? 'sspi' : request === 'AuthenticationGSS' ? 'gss' : 'gss-continue')
  }
  return new AuthenticationRefusedError(`the server asks for ${request.slice('Authentication'.length)} authentication, which pglisten does not support`)
}
