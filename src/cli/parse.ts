/**
 * node:util's parseArgs as every command uses it: strict (an unknown option is an error, not
 * a positional), positionals allowed, and its errors as UsageErrors. Pure.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { UsageError } from './errors.ts'
import { quoted } from './quoted.ts'

export type Values = Record<string, string | boolean | undefined>
type Options = NonNullable<ParseArgsConfig['options']>

export function parse(argv: string[], options: Options, command: string): { values: Values; positionals: string[] } {
  const args = dashValues(argv, options, command)
  try {
    const { values, positionals } = parseArgs({ args, options, strict: true, allowPositionals: true })
    return { values: values as Values, positionals }
  } catch (error) {
    // Node quotes an unknown option's word whole ("--postgresql://app:secret@db" as typed,
    // dashes and all): said again here, as any word is (./quoted.ts).
    const unknown = /^Unknown option '(.*?)'(?:\. To specify a positional|$)/s.exec((error as Error).message)?.[1]
    if (unknown !== undefined) throw new UsageError(`unknown option ${shownOption(unknown)}`, command, { cause: error })
    // Node's messages go on to explain `--`; the first sentence is what the user needs.
    const first = (error as Error).message.split(/\. (?=[A-Z])/)[0]!.replace(/\.$/, '')
    throw new UsageError(first.charAt(0).toLowerCase() + first.slice(1), command, { cause: error })
  }
}

/**
 * A word typed where an option goes, in single quotes as Node's parseArgs quotes it: whole, or,
 * when what follows its dashes may hold a password (a URL typed after "--"), as ./quoted.ts
 * shows such a word, behind the dashes.
 */
export function shownOption(word: string): string {
  const dashes = /^-*/.exec(word)![0]
  const shown = quoted(word.slice(dashes.length))
  if (shown === `"${word.slice(dashes.length)}"`) return `'${word}'`
  return shown.startsWith('"') ? `'${dashes}${shown.slice(1, -1)}'` : `'${dashes}...' (the rest is not shown: it may hold a password)`
}

/**
 * An option that takes a value, followed by a word that starts with "-": parseArgs calls that
 * "ambiguous" and stops. A negative number (`--count -5`) is taken as the value, as getopt
 * would, so that the option's own check says what is wrong with it; any other word is
 * refused here, saying how to give a value that starts with a dash. After "--" nothing is
 * an option.
 */
function dashValues(argv: string[], options: Options, command: string): string[] {
  const args: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!
    const next = argv[i + 1]
    if (word === '--') return [...args, ...argv.slice(i)]
    const name = valueOption(word, options)
    if (name === undefined || next === undefined || !next.startsWith('-') || next === '-') {
      args.push(word)
      continue
    }
    if (!/^-\.?\d/.test(next)) {
      // The word as typed in the hint too, unless it may hold a password (then only its start).
      const shown = quoted(next)
      const value = shown === `"${next}"` ? next : 'VALUE'
      throw new UsageError(`${word} needs a value, and ${shown} is not one; to give a value that starts with "-", write --${name}=${value}`, command)
    }
    args.push(`--${name}=${next}`)
    i++
  }
  return args
}

/** The option's long name if `word` is exactly an option that takes a value (`--port` or `-p`). */
function valueOption(word: string, options: Options): string | undefined {
  for (const [name, option] of Object.entries(options)) {
    if (option.type === 'string' && (word === `--${name}` || (option.short !== undefined && word === `-${option.short}`))) return name
  }
  return undefined
}
