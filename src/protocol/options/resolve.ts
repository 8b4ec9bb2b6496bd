/**
 * Every connection setting resolved as libpq resolves it: explicit options, then the
 * connection string, then PG* environment variables, then libpq's defaults (conninfo_add_defaults
 * and pqConnectOptions2 in fe-connect.c), with the same refusals. Pure: the environment, home
 * folder and user name are passed in, as values or as getters asked only when a setting needs
 * them (least privilege under Deno). Imports the other modules of options/, except the
 * connection-string parser (with store-setting.ts, its own), the password file's rules
 * (pgpass.ts, the platform's to load) and hostaddr's check (numeric-address.ts): loadSettings()
 * loads the parser and the check only when a setting needs them, and resolve-settings.ts, the
 * synchronous resolver, imports both.
 */
import { isConnectionString, type Conninfo } from './conninfo.ts'
import { environmentReader, lazyFact } from './context.ts'
import { readEnvironment } from './environment.ts'
import { explicitOptions, type OptionValue } from './explicit.ts'
import { hostTargets, type HostLists } from './hosts.ts'
import { KEYWORDS, SECRET_KEYWORDS } from './keywords.ts'
import type { ConnectionOptions, FileOrPem, PasswordSource, ResolveContext, Settings } from './types.ts'
import {
  CHANNEL_BINDINGS, SSL_CERT_MODES, SSL_MODES, SSL_NEGOTIATIONS, TARGET_SESSION_ATTRS, connectTimeout, oneOf, sslsni, type Sourced,
} from './values.ts'

/** Each keyword set anywhere, with its value and where it came from. */
export type Merged = Map<string, Sourced<OptionValue>>

/**
 * What the caller gave, read once: the explicit options by keyword, and the connection strings
 * among them, each with where it came from, in libpq's order of precedence.
 */
export interface Given {
  explicit: Map<string, OptionValue>
  strings: { text: string; from: string }[]
}

/** A connection string's settings, and where they came from. */
export type Parsed = { conninfo: Conninfo; from: string }

/**
 * resolveSettings() (resolve-settings.ts), with the connection-string parser (and its URI
 * reader) loaded only when the options hold a connection string, and hostaddr's check only
 * when a hostaddr is set: what connect() and the listener use, so that an application that
 * passes an object never loads the parser. Refuses what resolveSettings refuses, in the same
 * order: each is loaded just before the step that uses it, and loading refuses nothing.
 */
export async function loadSettings(options: ConnectionOptions | string, context: ResolveContext = {}): Promise<Settings> {
  const given = gather(options)
  const parsed = given.strings.length === 0 ? [] : parseStrings(given, (await import('./connection-string.ts')).parseConnectionString)
  const merged = merge(given, parsed, context)
  // hostTargets() checks an address only in a non-empty hostaddr: without one, nothing to check.
  const checkAddress = merged.get('hostaddr')?.value ? (await import('./numeric-address.ts')).checkNumericAddress : () => {}
  return settingsFrom(merged, context, checkAddress)
}

/**
 * The explicit options, and the connection strings to parse. As PQconnectdbParams does with
 * expand_dbname, a database option that is itself a connection string (a URI, or text with
 * an '=') is read as one, between the other options and connectionString.
 */
export function gather(options: ConnectionOptions | string): Given {
  const given: ConnectionOptions = typeof options === 'string' ? { connectionString: options } : options
  if (typeof given !== 'object' || given === null) throw new TypeError('options must be an object or a connection string')
  const explicit = explicitOptions(given)
  const strings: Given['strings'] = []
  const database = explicit.get('dbname')
  if (typeof database === 'string' && isConnectionString(database)) {
    explicit.delete('dbname')
    strings.push({ text: database, from: 'from the connection string in the database option' })
  }
  const { connectionString } = given
  // Read as given, an inherited one too (the other options are the object's own, as
  // explicitOptions() reads them). explicitOptions() refused a non-string own one; the parser refuses an inherited one.
  if (connectionString) strings.push({ text: connectionString, from: 'from the connection string' })
  return { explicit, strings }
}

/** gather()'s connection strings, each read with `parse`, in order: the first malformed one is refused. */
export function parseStrings(given: Given, parse: (text: string) => Conninfo): Parsed[] {
  return given.strings.map(({ text, from }) => ({ conninfo: parse(text), from }))
}

/**
 * Each keyword's value from the first source that sets it: the explicit options gather()
 * found, its connection strings' settings, then PG* variables (read from `context.env`). Within
 * a connection string an empty value counts as set: "host=''" means the default host, not PGHOST.
 */
export function merge({ explicit }: Given, parsed: Parsed[], context: ResolveContext): Merged {
  const env = environmentReader(context.env, context.warn)
  const merged: Merged = new Map()
  const add = (keyword: string, value: OptionValue, from: string): void => {
    if (!merged.has(keyword)) merged.set(keyword, { value, from })
  }
  for (const [keyword, value] of explicit) add(keyword, value, `from the ${KEYWORDS[keyword]!.option} option`)
  for (const { conninfo, from } of parsed) for (const [keyword, value] of Object.entries(conninfo)) add(keyword, value, from)
  for (const [keyword, { value, variable }] of readEnvironment(env, (keyword) => merged.has(keyword))) add(keyword, value, `from ${variable}`)
  return merged
}

/**
 * Settings from what merge() found, with `checkAddress` (numeric-address.ts) refusing a
 * hostaddr that is not a numeric address. Refuses what resolveSettings() says it refuses
 * (resolve-settings.ts).
 */
export function settingsFrom(merged: Merged, context: ResolveContext, checkAddress: HostLists['checkAddress']): Settings {
  refuseUnsupported(merged)
  return interpret(merged, context, checkAddress)
}

/** A keyword pglisten does not implement is refused unless its value asks for nothing more. */
function refuseUnsupported(merged: Merged): void {
  for (const [keyword, { value, from }] of merged) {
    const known = KEYWORDS[keyword]!
    if (known.option !== undefined || value === '' || known.tolerates(String(value))) continue
    throw unsupported(SECRET_KEYWORDS.has(keyword) ? keyword : `${keyword}=${String(value)}`, from)
  }
}

/** The refusal of a libpq setting: `shown` is the keyword, with its value unless that is a secret. */
function unsupported(shown: string, from: string): TypeError {
  return new TypeError(`pglisten does not support the libpq setting ${shown} (${from}); remove it to connect without it`)
}

function interpret(merged: Merged, context: ResolveContext, checkAddress: HostLists['checkAddress']): Settings {
  const text = (keyword: string): Sourced | undefined => merged.get(keyword) as Sourced | undefined
  const nonEmpty = (keyword: string): string | undefined => text(keyword)?.value || undefined
  const win32 = context.platform === 'win32'

  // In pqConnectOptions2's order, so that the first complaint is libpq's.
  const hosts = hostTargets({ host: text('host'), hostaddr: text('hostaddr'), port: text('port'), checkAddress, platform: context.platform })
  const user = nonEmpty('user') ?? lazyFact(context.osUser, "the operating system's user name", context.warn)()
  if (!user) throw new TypeError('no user name: set the user option, the connection string\'s user, or PGUSER (or pass context.osUser)')
  const database = nonEmpty('dbname') ?? user
  const passwordSetting = merged.get('password')?.value as PasswordSource | undefined
  const password = passwordSetting === '' ? undefined : passwordSetting
  // libpq reads the password file only when no password is given: only then is the home folder asked for.
  const namedPassfile = nonEmpty('passfile')
  const home = namedPassfile !== undefined || password !== undefined ? undefined : lazyFact(context.homeDir, 'the home folder', context.warn)()
  const passfile = namedPassfile ?? (home ? `${home}/${win32 ? 'pgpass.conf' : '.pgpass'}` : '')
  const channelBinding = choose(merged, 'channel_binding', CHANNEL_BINDINGS, 'prefer')

  // sslrootcert=system makes verify-full the default sslmode, and refuses any other.
  const sslrootcert = fileSetting(merged.get('sslrootcert'))
  const sslmode = choose(merged, 'sslmode', SSL_MODES, sslrootcert === 'system' ? 'verify-full' : 'prefer')
  const sslnegotiation = choose(merged, 'sslnegotiation', SSL_NEGOTIATIONS, 'postgres')
  if (sslnegotiation === 'direct' && !['require', 'verify-ca', 'verify-full'].includes(sslmode)) {
    // libpq 17: falling back to plaintext against a pre-17 server would be silent otherwise.
    throw new RangeError(`weak sslmode "${sslmode}" may not be used with sslnegotiation=direct (use "require", "verify-ca", or "verify-full")`)
  }
  if (sslrootcert === 'system' && sslmode !== 'verify-full') {
    throw new RangeError(`weak sslmode "${sslmode}" may not be used with sslrootcert=system (use "verify-full")`)
  }
  // libpq 16's sslcertmode=require fails unless the server asked for a certificate, which
  // Node's TLS does not tell: refused rather than quietly weaker.
  const sslcertmodeSetting = text('sslcertmode')
  if (sslcertmodeSetting?.value === 'require') throw unsupported('sslcertmode=require', sslcertmodeSetting.from)
  const sslcertmode = choose(merged, 'sslcertmode', SSL_CERT_MODES, 'allow')
  const targetSessionAttrs = choose(merged, 'target_session_attrs', TARGET_SESSION_ATTRS, 'any')

  const settings: Omit<Settings, 'password'> = {
    hosts,
    user,
    database,
    passfile,
    applicationName: nonEmpty('application_name') ?? nonEmpty('fallback_application_name'),
    options: nonEmpty('options'),
    connectTimeout: connectTimeout(merged.get('connect_timeout') as Sourced<string | number> | undefined),
    sslmode,
    sslrootcert,
    sslcert: fileSetting(merged.get('sslcert')),
    sslkey: fileSetting(merged.get('sslkey')),
    sslcertmode,
    sslnegotiation,
    sslsni: sslsni(merged.get('sslsni') as Sourced<string | boolean> | undefined),
    channelBinding,
    requireAuth: nonEmpty('require_auth'),
    targetSessionAttrs,
  }
  // Unset optional fields are left out, not undefined: clearer in logs and in toEqual.
  for (const [key, value] of Object.entries(settings)) if (value === undefined) delete settings[key as keyof typeof settings]
  return withHiddenPassword(settings, password)
}

/** An enumerated keyword: its default when not set anywhere; when set (even to ''), one of `allowed`. */
function choose<T extends string>(merged: Merged, keyword: string, allowed: readonly T[], fallback: T): T {
  const setting = merged.get(keyword) as Sourced | undefined
  return setting === undefined ? fallback : oneOf(keyword, setting, allowed)
}

/** A file path, PEM contents, or (for sslrootcert) 'system'; '' means libpq's default file. */
function fileSetting(setting: Sourced<OptionValue> | undefined): FileOrPem | undefined {
  const value = setting?.value as FileOrPem | undefined
  return value === '' ? undefined : value
}

const INSPECT = Symbol.for('nodejs.util.inspect.custom')

/**
 * Attaches the password as a property that JSON.stringify, Object.keys and spread skip, and
 * makes util.inspect (even with showHidden) print "[hidden]" in its place.
 */
function withHiddenPassword(visible: Omit<Settings, 'password'>, password: PasswordSource | undefined): Settings {
  if (password !== undefined) Object.defineProperty(visible, 'password', { value: password, enumerable: false })
  Object.defineProperty(visible, INSPECT, {
    value(this: object, depth: number, options: object, inspect: (value: unknown, options: object) => string): string {
      // The marker goes where the password would be listed, after the database.
      const shown = Object.fromEntries(Object.entries(this).flatMap((entry) =>
        entry[0] === 'database' && password !== undefined ? [entry, ['password', '[hidden]']] : [entry]))
      return inspect(shown, { ...options, depth })
    },
  })
  return visible as Settings
}
