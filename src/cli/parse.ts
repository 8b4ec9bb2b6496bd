/**
 * node:util's parseArgs as every command uses it: strict (an unknown option is an error, not
 * a positional), positionals allowed, and its errors as UsageErrors. Pure.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { UsageError } from './errors.ts'

export type Values = Record<string, string | boolean | undefined>

export function parse(argv: string[], options: NonNullable<ParseArgsConfig['options']>, command: string): { values: Values; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals: true })
    return { values: values as Values, positionals }
  } catch (error) {
    // Node's messages go on to explain `--`; the first sentence is what the user needs.
    const first = (error as Error).message.split(/\. (?=[A-Z])/)[0]!.replace(/\.$/, '')
    throw new UsageError(first.charAt(0).toLowerCase() + first.slice(1), command, { cause: error })
  }
}
