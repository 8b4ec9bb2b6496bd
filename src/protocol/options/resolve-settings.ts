/**
 * resolveSettings: resolve.ts's resolver, at once, with the connection-string parser and
 * hostaddr's check imported up front. For callers that must refuse a bad connection string at
 * the call (the CLI, replicate()) and for pglisten/protocol's users; connect() and the listener
 * use loadSettings(), which loads each only when a setting needs it. Imports resolve.ts,
 * connection-string.ts and numeric-address.ts.
 */
import { parseConnectionString } from './connection-string.ts'
import { checkNumericAddress } from './numeric-address.ts'
import { gather, merge, parseStrings, settingsFrom } from './resolve.ts'
import type { ConnectionOptions, ResolveContext, Settings } from './types.ts'

/**
 * Resolves options (or a connection string) to Settings, as libpq does (resolve.ts). Throws
 * TypeError for a malformed connection string, an unknown or unsupported option, or no user
 * name; RangeError for a value libpq refuses. Nothing is read from the process: pass
 * `context.env` (process.env) and the rest. The OS user is asked for only when no user is
 * given, the home folder only when neither a password nor a password file is; a getter that
 * throws is told to `context.warn`, not thrown.
 */
export function resolveSettings(options: ConnectionOptions | string, context: ResolveContext = {}): Settings {
  const given = gather(options)
  return settingsFrom(merge(given, parseStrings(given, parseConnectionString), context), context, checkNumericAddress)
}
