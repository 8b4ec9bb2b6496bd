/**
 * pglisten/protocol/auth: the pieces of authentication that a connection loads only when a
 * server or a setting asks for them (SASLprep's tables for a non-ASCII password, md5, the
 * certificate reader for channel binding, require_auth's rules, the password file's rules), for
 * study and for clients of your own. An entry of its own, so that importing pglisten/protocol
 * does not bring them into a bundle. Re-exports only.
 */
export { saslprep, scramPassword } from './saslprep.ts'
export { md5PasswordResponse } from './password.ts'
export { tlsServerEndPoint, channelBindingHash } from './certificate.ts'
export { parseRequireAuth, checkRequest, checkSaslMechanism, checkAuthenticationOk, type RequireAuth, type AuthMethod, type AuthRequest } from './require-auth.ts'
export { findPgpassPassword, parsePgpass, pgpassPermissionProblem, type PgpassTarget } from '../options/pgpass.ts'
