/**
 * node:util's parseArgs as every command uses it: strict (an unknown option is an error, not
 * a positional), positionals allowed, and its errors as UsageErrors. Pure.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { UsageError } from './errors.ts'
import { quoted } from './quoted.ts'

export type Values = Record<string, string | boolean | undefined>
type Options = NonNullable<ParseArgsConfig['options']>

/**
 * The options' values and the positionals, with each positional's place in `argv` (for
 * ./argument-bytes.ts, which reads a word's bytes back from there).
 */
export function parse(argv: string[], options: Options, command: string): { values: Values; positionals: string[]; places: number[] } {
  flagWithValue(argv, options, command)
  const { args, from } = dashValues(argv, options, command)
  try {
    const { values, positionals, tokens } = parseArgs({ args, options, strict: true, allowPositionals: true, tokens: true })
    const places = tokens.flatMap((token) => (token.kind === 'positional' ? [from[token.index]!] : []))
    return { values: values as Values, positionals, places }
  } catch (error) {
    // Node quotes an unknown option's word whole ("--postgresql://app:secret@db" as typed,
    // dashes and all): said again here, as any word is (./quoted.ts).
    const unknown = /^Unknown option '(.*?)'(?:\. To specify a positional|$)/s.exec((error as Error).message)?.[1]
    if (unknown !== undefined) throw new UsageError(unknownOption(unknown, args), command, { cause: error })
    // Node's messages go on to explain `--`; the first sentence is what the user needs.
    const first = (error as Error).message.split(/\. (?=[A-Z])/)[0]!.replace(/\.$/, '')
    throw new UsageError(first.charAt(0).toLowerCase() + first.slice(1), command, { cause: error })
  }
}

/**
 * A flag's short name given a value (`-?=1`, `-w=yes`), refused as parseArgs refuses its long
 * name given one (`--help=1`): parseArgs would take the word for the flags -?, -= and -1, and
 * call "-=" unknown. (A short option that takes a value keeps what follows, "=" and all, as
 * getopt does: `-p=5432` is the port "=5432", which connecting then refuses.)
 */
function flagWithValue(argv: string[], options: Options, command: string): void {
  for (const word of optionWords(argv)) {
    const short = /^-([^-])=/.exec(word)?.[1]
    if (short === undefined) continue
    const name = Object.entries(options).find(([, option]) => option.type === 'boolean' && option.short === short)?.[0]
    if (name !== undefined) throw new UsageError(`option '-${short}, --${name}' does not take an argument`, command)
  }
}

/**
 * The error for an unknown option. A dash and a digit is none of pglisten's options but a
 * number meant as an argument (`notify jobs -1`), so its message tells how to give one; Node
 * names only its first two characters ('-1' of "-1.5"), the first such word is named whole.
 */
function unknownOption(unknown: string, args: string[]): string {
  const number = optionWords(args).find((word) => /^-\.?\d/.test(word) && word.startsWith(unknown))
  if (number === undefined || shownOption(number) !== `'${number}'`) return `unknown option ${shownOption(unknown)}`
  return `unknown option '${number}'; to give an argument that starts with "-", write it after "--", as in -- ${number}`
}

/** The words before "--", where parseArgs looks for options. */
function optionWords(args: string[]): string[] {
  const end = args.indexOf('--')
  return end === -1 ? args : args.slice(0, end)
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
 * an option. `from` holds each word's place in `argv` (two words joined into one take the first's).
 */
function dashValues(argv: string[], options: Options, command: string): { args: string[]; from: number[] } {
  const args: string[] = []
  const from: number[] = []
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!
    const next = argv[i + 1]
    if (word === '--') return { args: [...args, ...argv.slice(i)], from: [...from, ...argv.slice(i).map((_, j) => i + j)] }
    const name = valueOption(word, options)
    if (name === undefined || next === undefined || !next.startsWith('-') || next === '-') {
      args.push(word)
      from.push(i)
      continue
    }
    if (!/^-\.?\d/.test(next)) {
      // The word as typed in the hint too, unless it may hold a password (then only its start).
      const shown = quoted(next)
      const value = shown === `"${next}"` ? next : 'VALUE'
      throw new UsageError(`${word} needs a value, and ${shown} is not one; to give a value that starts with "-", write --${name}=${value}`, command)
    }
    args.push(`--${name}=${next}`)
    from.push(i)
    i++
  }
  return { args, from }
}

/** The option's long name if `word` is exactly an option that takes a value (`--port` or `-p`). */
function valueOption(word: string, options: Options): string | undefined {
  for (const [name, option] of Object.entries(options)) {
    if (option.type === 'string' && (word === `--${name}` || (option.short !== undefined && word === `-${option.short}`))) return name
  }
  return undefined
}
