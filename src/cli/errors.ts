/**
 * The pglisten command's errors and how any error becomes its one line on stderr. Imports the
 * protocol's DatabaseError, to show a SQLSTATE, and the escaping of what a terminal acts on.
 *
 * The exit status follows the convention of psql and most Unix tools: 2 when the command line
 * itself is wrong (the user must change what they typed), 1 for everything that went wrong
 * while running (the server, the network, the input).
 */
import { DatabaseError } from '../protocol/errors.ts'
import { terminalSafe } from './terminal.ts'

/** The command line is wrong: an unknown option, a missing channel, a number out of range. */
export class UsageError extends Error {
  override name = 'UsageError'
  /** The command whose --help to suggest; undefined for pglisten's own. */
  readonly command: string | undefined

  constructor(message: string, command?: string, options?: ErrorOptions) {
    super(message, options)
    this.command = command
  }
}

/** What the command read is wrong: a line of standard input the server would refuse. */
export class InputError extends Error {
  override name = 'InputError'
}

export function exitStatus(error: unknown): number {
  return error instanceof UsageError ? 2 : 1
}

/**
 * One line, never a stack trace. A DatabaseError shows its severity and SQLSTATE, as psql's
 * "FATAL:  password authentication failed" does (with the code, which scripts can match on);
 * a cause is appended unless the message already says it (connect() folds causes in).
 */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return oneLine(String(error))
  let text = error instanceof DatabaseError ? `${error.severity}: ${error.message} (SQLSTATE ${error.code})` : error.message
  const cause = error.cause
  // A usage error's message is complete: its cause is the parser's wording of the same thing.
  if (!(error instanceof UsageError) && cause instanceof Error && cause.message) {
    if (!text.includes(cause.message)) text += `: ${describeError(cause)}`
    else if (cause instanceof DatabaseError && !text.includes(`(SQLSTATE ${cause.code})`)) text += ` (SQLSTATE ${cause.code})`
  }
  return oneLine(text || error.name)
}

/**
 * The lines of stderr for `error`: the message, and for a usage error where to read more. The
 * message is made safe for a terminal: it may be the server's (an ErrorResponse), or quote
 * back what the server or the user wrote (a database name, an argument).
 */
export function errorLines(error: unknown): string[] {
  const lines = [`pglisten: ${terminalSafe(describeError(error))}`]
  if (error instanceof UsageError) lines.push(`Try "pglisten${error.command ? ` ${error.command}` : ''} --help" for more information.`)
  return lines
}

function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim()
}
