/**
 * libpq's vocabulary: every connection keyword it recognizes (PQconninfoOptions in
 * fe-connect.c, PostgreSQL 18), its environment variable, and what pglisten does with it.
 * Imports only types.
 *
 * A keyword pglisten implements maps to a ConnectionOptions field. One it does not implement is
 * accepted only with a value that describes what pglisten does anyway (`tolerates`), so that a
 * connection string written for psql either means the same here or is refused: never quietly
 * weaker (sslcrl, requirepeer, gssencmode=require...).
 */
import type { ConnectionOptions } from './types.ts'

/** A keyword pglisten implements, or one it does not: each says what to do with its value. */
export type Keyword = Implemented | NotImplemented

interface Implemented {
  /** The environment variable libpq reads when no connection string or option sets it. */
  env?: string
  /** The ConnectionOptions field carrying it. */
  option: Exclude<keyof ConnectionOptions, 'connectionString'>
  tolerates?: never
}

interface NotImplemented {
  env?: string
  option?: never
  /** Whether this value asks for nothing pglisten does not do already. */
  tolerates: (value: string) => boolean
}

const always = (): boolean => true
const oneOf = (...allowed: string[]) => (value: string): boolean => allowed.includes(value.toLowerCase())
const never = (): boolean => false

/** In PQconninfoOptions order. */
export const KEYWORDS: Readonly<Record<string, Keyword>> = {
  // Connection service files are not read; libpq fails too when the named service is missing.
  service: { env: 'PGSERVICE', tolerates: never },
  servicefile: { env: 'PGSERVICEFILE', tolerates: always }, // only read for a service
  user: { env: 'PGUSER', option: 'user' },
  password: { env: 'PGPASSWORD', option: 'password' },
  passfile: { env: 'PGPASSFILE', option: 'passfile' },
  channel_binding: { env: 'PGCHANNELBINDING', option: 'channelBinding' },
  connect_timeout: { env: 'PGCONNECT_TIMEOUT', option: 'connectTimeout' },
  dbname: { env: 'PGDATABASE', option: 'database' },
  host: { env: 'PGHOST', option: 'host' },
  hostaddr: { env: 'PGHOSTADDR', option: 'hostaddr' },
  port: { env: 'PGPORT', option: 'port' },
  // pglisten always asks for UTF8: JavaScript strings are Unicode, whatever was asked for.
  client_encoding: { env: 'PGCLIENTENCODING', tolerates: always },
  options: { env: 'PGOPTIONS', option: 'options' },
  application_name: { env: 'PGAPPNAME', option: 'applicationName' },
  fallback_application_name: { option: 'fallbackApplicationName' },
  // TCP tuning: the I/O edge keeps its own keepalive policy.
  keepalives: { tolerates: always },
  keepalives_idle: { tolerates: always },
  keepalives_interval: { tolerates: always },
  keepalives_count: { tolerates: always },
  tcp_user_timeout: { tolerates: always },
  sslmode: { env: 'PGSSLMODE', option: 'sslmode' },
  sslnegotiation: { env: 'PGSSLNEGOTIATION', option: 'sslnegotiation' },
  // PostgreSQL 14 servers never compress; without compression nothing is weaker.
  sslcompression: { env: 'PGSSLCOMPRESSION', tolerates: always },
  sslcert: { env: 'PGSSLCERT', option: 'sslcert' },
  sslkey: { env: 'PGSSLKEY', option: 'sslkey' },
  sslcertmode: { env: 'PGSSLCERTMODE', option: 'sslcertmode' },
  sslpassword: { tolerates: never },
  sslrootcert: { env: 'PGSSLROOTCERT', option: 'sslrootcert' },
  sslcrl: { env: 'PGSSLCRL', tolerates: never },
  sslcrldir: { env: 'PGSSLCRLDIR', tolerates: never },
  sslsni: { env: 'PGSSLSNI', option: 'sslsni' },
  requirepeer: { env: 'PGREQUIREPEER', tolerates: never },
  require_auth: { env: 'PGREQUIREAUTH', option: 'requireAuth' },
  // pglisten asks for protocol 3.2 and accepts 3.0.
  min_protocol_version: { env: 'PGMINPROTOCOLVERSION', tolerates: oneOf('3.0') },
  max_protocol_version: { env: 'PGMAXPROTOCOLVERSION', tolerates: oneOf('3.2', 'latest') },
  // node-link.ts holds TLS at TLSv1.2 or above, libpq's default minimum, whatever the process allows.
  ssl_min_protocol_version: { env: 'PGSSLMINPROTOCOLVERSION', tolerates: oneOf('tlsv1', 'tlsv1.1', 'tlsv1.2') },
  ssl_max_protocol_version: { env: 'PGSSLMAXPROTOCOLVERSION', tolerates: never },
  // No GSSAPI: behave as a libpq built without it, where prefer means disable.
  gssencmode: { env: 'PGGSSENCMODE', tolerates: oneOf('disable', 'prefer') },
  krbsrvname: { env: 'PGKRBSRVNAME', tolerates: always },
  gsslib: { env: 'PGGSSLIB', tolerates: always },
  gssdelegation: { env: 'PGGSSDELEGATION', tolerates: always },
  replication: { tolerates: oneOf('0', 'off', 'false', 'no') },
  target_session_attrs: { env: 'PGTARGETSESSIONATTRS', option: 'targetSessionAttrs' },
  load_balance_hosts: { env: 'PGLOADBALANCEHOSTS', tolerates: oneOf('disable') },
  scram_client_key: { tolerates: never },
  scram_server_key: { tolerates: never },
  oauth_issuer: { tolerates: never },
  oauth_client_id: { tolerates: never },
  oauth_client_secret: { tolerates: never },
  oauth_scope: { tolerates: never },
  sslkeylogfile: { tolerates: never },
}

/** Keywords whose values are secrets: an error message never quotes what follows them. */
export const SECRET_KEYWORDS: ReadonlySet<string> = new Set([
  'password', 'sslpassword', 'oauth_client_secret', 'scram_client_key', 'scram_server_key',
])

export function isKeyword(name: string): boolean {
  return Object.hasOwn(KEYWORDS, name)
}

/** The libpq keyword behind each ConnectionOptions field. */
export const OPTION_KEYWORDS: ReadonlyMap<string, string> = new Map(
  Object.entries(KEYWORDS).flatMap(([keyword, { option }]) => (option ? [[option, keyword]] : [])),
)
