/**
 * The UsageError a command line gives, for the CLI's argument tests: its message and the
 * command its hint names; a line that is accepted fails the test.
 */
import { expect } from 'vitest'
import { parseCommandLine } from '../../src/cli/args.ts'
import { UsageError } from '../../src/cli/errors.ts'

export function usageError(argv: string[]): { message: string; command: string | undefined } {
  try {
    parseCommandLine(argv)
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError)
    return { message: (error as UsageError).message, command: (error as UsageError).command }
  }
  throw new Error(`${JSON.stringify(argv)} was accepted`)
}
