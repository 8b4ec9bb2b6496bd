/**
 * libpq's environment variables ("Environment Variables" in the libpq docs): the keywords
 * they set, as conninfo_add_defaults reads them (fe-connect.c). Pure: the caller passes the
 * environment as a reader of one variable, asked only for the variables libpq reads (Deno
 * grants --allow-env per variable). Imports keywords.ts only.
 */
import { KEYWORDS } from './keywords.ts'

/** A keyword's text from the environment, and the variable it came from (for error messages). */
export interface EnvironmentSetting {
  value: string
  variable: string
}

/**
 * The keywords the environment sets. A variable set to the empty string counts as set, as
 * getenv() does in libpq: PGHOST='' means the default host, but PGSSLMODE='' is an invalid
 * sslmode. The obsolete PGREQUIRESSL, when it starts with "1", means sslmode=require unless
 * PGSSLMODE is set. `isSet` says which keywords the options and connection string already set.
 */
export function readEnvironment(
  env: (name: string) => string | undefined,
  isSet: (keyword: string) => boolean,
): Map<string, EnvironmentSetting> {
  const settings = new Map<string, EnvironmentSetting>()
  // As conninfo_add_defaults does, a variable is read only for a keyword nothing else has set:
  // Deno then needs --allow-env for no more than the variables that can matter.
  for (const [keyword, { env: variable }] of Object.entries(KEYWORDS)) {
    if (variable === undefined || isSet(keyword)) continue
    const value = env(variable)
    if (typeof value === 'string') settings.set(keyword, { value, variable })
  }
  if (!isSet('sslmode') && !settings.has('sslmode') && env('PGREQUIRESSL')?.startsWith('1')) {
    settings.set('sslmode', { value: 'require', variable: 'PGREQUIRESSL' })
  }
  return settings
}
