/**
 * The shapes of libpq's connection settings: what a caller passes (ConnectionOptions) and what
 * resolveSettings hands the rest of pglisten (Settings). Types only; imports only io/link.ts.
 *
 * Every option is named after a libpq keyword ("Parameter Key Words" in the libpq docs); the
 * comment gives the keyword when the JavaScript name differs.
 */
import type { SslMode } from '../io/link.ts'

export type { SslMode }

/** libpq 17's sslnegotiation: an SSLRequest first (postgres), or TLS from the first byte (direct). */
export type SslNegotiation = 'postgres' | 'direct'
/** libpq's sslcertmode, less 'require'. */
export type SslCertMode = 'disable' | 'allow'

/** libpq's channel_binding. */
export type ChannelBinding = 'disable' | 'prefer' | 'require'

/** libpq's target_session_attrs. */
export type TargetSessionAttrs = 'any' | 'read-write' | 'read-only' | 'primary' | 'standby' | 'prefer-standby'

/** A file path (libpq), or the contents themselves. */
export type FileOrPem = string | { pem: string | Uint8Array }

/** A password, or a function asked for it when the server wants one. */
export type PasswordSource = string | (() => string | Promise<string>)

/**
 * What a user passes. An option left undefined, or set to the empty string, counts as not
 * given, as in libpq's PQconnectdbParams: the connection string, then the environment, then
 * libpq's default decide it.
 */
export interface ConnectionOptions {
  /** A postgres:// or postgresql:// URL, or a libpq keyword=value string. */
  connectionString?: string
  /** host: names, IP addresses, or socket folders (starting with '/'); a comma-separated list tries each in turn. */
  host?: string
  /** hostaddr: numeric IP addresses, a comma-separated list matching host's. */
  hostaddr?: string
  /** port: one port for every host, or a comma-separated list (as a string) matching them. */
  port?: number | string
  user?: string
  password?: PasswordSource
  /** dbname. libpq reads a connection string here too (its expand_dbname); so does pglisten. */
  database?: string
  /** application_name */
  applicationName?: string
  /** fallback_application_name: used when application_name is set nowhere. */
  fallbackApplicationName?: string
  /** options: command-line options for the server, e.g. '-c search_path=x'. */
  options?: string
  /** connect_timeout, in whole seconds; zero or negative waits forever. */
  connectTimeout?: number | string
  sslmode?: SslMode
  sslrootcert?: FileOrPem | 'system'
  sslcert?: FileOrPem
  sslkey?: FileOrPem
  /**
   * sslcertmode (libpq 16): 'allow' (the default) presents a client certificate when one is
   * given or found in libpq's default file; 'disable' never does, and never looks for the file.
   * libpq's 'require' is refused: pglisten cannot tell whether the server asked for one.
   */
  sslcertmode?: SslCertMode
  sslnegotiation?: SslNegotiation
  sslsni?: boolean | '0' | '1'
  /** channel_binding */
  channelBinding?: ChannelBinding
  /** require_auth, kept as text here (another module parses its grammar). */
  requireAuth?: string
  /** target_session_attrs */
  targetSessionAttrs?: TargetSessionAttrs
  passfile?: string
}

/**
 * One server to try. `host` is a name, an IP address or a socket folder; it is '' when only a
 * hostaddr names this server (libpq then has no host name for verify-full or SNI). When
 * `hostaddr` is set, it is the address to connect to and `host` is only a name.
 */
export interface HostTarget {
  host: string
  hostaddr?: string
  port: number
}

/**
 * Everything resolved: every field has its final value. `password` is a hidden property:
 * `settings.password` returns it, but JSON.stringify, util.inspect and object spread do not
 * show it (spread drops it: pass it on explicitly).
 */
export interface Settings {
  /** At least one, in the order to try. */
  hosts: HostTarget[]
  user: string
  database: string
  /** From the options, the connection string or PGPASSWORD; the password file is read per host, later. */
  password?: PasswordSource
  /**
   * The password file to read per host; '' when none is named and either a password is given
   * (the file would not be read: libpq reads it only without one) or there is no home folder.
   */
  passfile: string
  applicationName?: string
  options?: string
  /** Seconds per host and address; undefined waits forever. */
  connectTimeout?: number
  sslmode: SslMode
  /** Undefined: libpq's default file applies (the I/O edge checks ~/.postgresql/root.crt). */
  sslrootcert?: FileOrPem | 'system'
  sslcert?: FileOrPem
  sslkey?: FileOrPem
  sslcertmode: SslCertMode
  sslnegotiation: SslNegotiation
  sslsni: boolean
  channelBinding: ChannelBinding
  requireAuth?: string
  targetSessionAttrs: TargetSessionAttrs
}

/** The environment: a record (process.env, or the env option), or one variable at a time. */
export type EnvironmentSource = Readonly<Record<string, string | undefined>> | ((name: string) => string | undefined)

/** A fact about the process: the value, or a getter asked only if the fact is needed (it may throw). */
export type FactSource<T> = T | (() => T | undefined)

/**
 * What the caller knows about the process; resolveSettings reads nothing else. Getters are
 * asked only when a setting needs their answer, and one that throws (a permission refused,
 * as Deno does) counts as "not known": `warn` is told, and resolving goes on.
 */
export interface ResolveContext {
  /** Default {}; the caller passes process.env, or a getter that reads one variable. */
  env?: EnvironmentSource
  /**
   * For the default password file, asked only when no password and no passfile are given.
   * On Windows, libpq's "home" is %APPDATA%\postgresql.
   */
  homeDir?: FactSource<string>
  /** libpq's default user name, the operating system's name for the current user: asked only when no user is given. */
  osUser?: FactSource<string>
  /** process.platform; on 'win32' the default host is localhost and the password file pgpass.conf. */
  platform?: string
  /** Told when a getter above throws; the fact is then unknown. Default: silent. */
  warn?(message: string): void
}

/**
 * One usable line of a password file. A field that is null was a bare `*` and matches
 * anything; an escaped `\*` is the literal text "*".
 */
export interface PgpassEntry {
  host: string | null
  port: string | null
  database: string | null
  user: string | null
  password: string
  /** 1-based line number in the file. */
  line: number
}
