// The test cluster's roles, one per authentication method, the SQL that creates them and the
// pg_hba.conf that gives each its method (PostgreSQL docs, "The pg_hba.conf File").
// Imports ./server.ts types only.

import type { TestServer, TestUser } from './server.ts'

export const SUPERUSER: TestUser = { user: 'postgres' }

/**
 * The passwords hold what a client must get right: a space and a quote everywhere, and for
 * SCRAM a non-ASCII letter, which SASLprep (RFC 4013, via RFC 5802 section 2.2) passes through.
 * ö is written as an escape so that no editor can turn it into o + combining diaeresis.
 */
export const USERS = {
  scram: { user: 'pglisten_scram', password: "scram p'ss w\u00f6rd" },
  md5: { user: 'pglisten_md5', password: "md5 p'ss word" },
  password: { user: 'pglisten_password', password: "cleartext p'ss word" },
  trust: { user: 'pglisten_trust' },
  tlsOnly: { user: 'pglisten_tls', password: "tls p'ss word" },
  cert: { user: 'pglisten_cert' },
} as const satisfies NonNullable<TestServer['users']>

/** A SQL string literal; with standard_conforming_strings (on since 9.1) only ' needs doubling. */
const literal = (s: string) => `'${s.replaceAll("'", "''")}'`

const createRole = (u: TestUser) =>
  `CREATE ROLE ${u.user} LOGIN${u.password === undefined ? '' : ` PASSWORD ${literal(u.password)}`}`

/**
 * Statements for single-user mode. Each role's password is hashed by the password_encryption in
 * force when it is created: an md5 role made under scram-sha-256 would silently get a SCRAM
 * secret, and the `md5` method would then quietly run SCRAM instead (docs, "Password
 * Authentication"). So md5 gets its own SET, and the stored prefixes are read back to prove it.
 */
export function rolesSql(): string[] {
  const { md5, ...others } = USERS
  return [
    "SET password_encryption = 'scram-sha-256'",
    ...Object.values(others).map(createRole),
    "SET password_encryption = 'md5'",
    createRole(md5),
  ]
}

const withPassword = () => Object.values(USERS).filter((u): u is typeof u & { password: string } => 'password' in u)

/** SQL whose one row gives, per role with a password, how it is stored: 'md5' or 'SCRAM-SHA-256'. */
export function storedKindsSql(): string {
  const kind = (u: TestUser) =>
    `(SELECT substring(rolpassword FROM '^(md5|SCRAM-SHA-256)') FROM pg_authid WHERE rolname = ${literal(u.user)}) AS ${u.user}`
  return `SELECT ${withPassword().map(kind).join(', ')}`
}

/** Throws unless storedKindsSql's row shows md5 for the md5 role and SCRAM for the others. */
export function checkStoredKinds(row: ReadonlyMap<string, string>): void {
  for (const u of withPassword()) {
    const want = u === USERS.md5 ? 'md5' : 'SCRAM-SHA-256'
    if (row.get(u.user) !== want) throw new Error(`role ${u.user}: password stored as ${row.get(u.user)}, not ${want}`)
  }
}

const LOOPBACK = ['127.0.0.1/32', '::1/128']

/**
 * pg_hba.conf: the first line matching connection type, database, user and address decides.
 * There is no catch-all line, so any other role is refused ("no pg_hba.conf entry").
 */
export function pgHbaConf(): string {
  const lines: string[][] = [['# TYPE', 'DATABASE', 'USER', 'ADDRESS', 'METHOD']]
  const local = (user: string, method: string) => lines.push(['local', 'all', user, '', method])
  const host = (type: string, user: string, method: string) =>
    LOOPBACK.forEach((address) => lines.push([type, 'all', user, address, method]))
  const everywhere = (user: string, method: string) => (local(user, method), host('host', user, method))

  everywhere(SUPERUSER.user, 'trust')
  everywhere(USERS.scram.user, 'scram-sha-256')
  everywhere(USERS.md5.user, 'md5')
  everywhere(USERS.password.user, 'password')
  everywhere(USERS.trust.user, 'trust')
  // TLS-only roles: no `local` line (Unix sockets never carry TLS) and an explicit reject for
  // plain TCP, so a client that skips or loses TLS fails loudly rather than by omission.
  for (const [user, method] of [[USERS.tlsOnly.user, 'scram-sha-256'], [USERS.cert.user, 'cert']] as const) {
    host('hostnossl', user, 'reject')
    host('hostssl', user, method) // `cert` verifies the client certificate and maps its CN to the role
  }
  const widths = [10, 9, 18, 14]
  return lines.map((l) => l.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' ').trimEnd()).join('\n') + '\n'
}
