/**
 * Numbers on the command line: a whole number is digits only, a number of seconds may have a
 * decimal point but never an exponent or a sign, each is held to its range, and a refusal is a
 * UsageError that names the option, the range, what 0 means where it is special, and the text
 * given (never a password in it).
 */
import { describe, expect, test } from 'vitest'
import { UsageError } from '../../../src/cli/errors.ts'
import { maxSeconds, secondsToMs, wholeNumber } from '../../../src/cli/numbers.ts'

/** The UsageError `read` throws: its message and the command its hint names. */
function refusal(read: () => unknown): { message: string; command: string | undefined } {
  try {
    read()
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError)
    return { message: (error as UsageError).message, command: (error as UsageError).command }
  }
  throw new Error('the text was accepted')
}

describe('wholeNumber: digits only, from min to max', () => {
  const count = (text: string) => wholeNumber('--count', text, 1, 10, 'bench')

  test('digits, with spaces around them or leading zeros, are their number', () => {
    expect(count('1')).toBe(1)
    expect(count('7')).toBe(7)
    expect(count(' 7 ')).toBe(7)
    expect(count('007')).toBe(7)
  })

  test('both ends of the range are in it', () => {
    expect(count('1')).toBe(1)
    expect(count('10')).toBe(10)
    expect(wholeNumber('--connect-timeout', '0', 0, maxSeconds, 'listen')).toBe(0)
    expect(wholeNumber('--connect-timeout', '86400', 0, maxSeconds, 'listen')).toBe(86_400)
  })

  test.each([
    ['below the range', '0'],
    ['above it', '11'],
    ['far above it', '99999999999999999999'],
    ['a sign', '+5'],
    ['a negative number', '-5'],
    ['a fraction', '1.5'],
    ['a decimal point', '5.'],
    ['an exponent', '1e1'],
    ['hexadecimal', '0x5'],
    ['a word', 'five'],
    ['digits and then a word', '5 apples'],
    ['a word and then digits', 'apples 5'],
    ['nothing', ''],
    ['only spaces', '  '],
  ])('%s is refused, with the option, the range and the text', (_, text) => {
    expect(refusal(() => count(text))).toEqual({ message: `--count takes a whole number from 1 to 10, not "${text}"`, command: 'bench' })
  })

  test('the error names the kind of number, and what 0 means where 0 is special', () => {
    expect(refusal(() => wholeNumber('--connect-timeout', '-1', 0, maxSeconds, 'listen', 'a whole number of seconds', 'wait forever'))).toEqual({
      message: '--connect-timeout takes a whole number of seconds from 0 (wait forever) to 86400, not "-1"',
      command: 'listen',
    })
    expect(refusal(() => wholeNumber('--listeners', '0', 1, 256, 'bench', 'a whole number of listeners')).message).toBe('--listeners takes a whole number of listeners from 1 to 256, not "0"')
  })

  test('a refused text that may hold a password is not quoted back', () => {
    expect(refusal(() => count('postgresql://app:hunter2-test@db')).message).toBe('--count takes a whole number from 1 to 10, not "postgresql://..."')
    expect(refusal(() => count('password=hunter2-test')).message).toBe('--count takes a whole number from 1 to 10, not "password=..."')
  })
})

describe('secondsToMs: seconds, to the millisecond, from 0.001 to a day', () => {
  const delay = (text: string) => secondsToMs('--reconnect-delay', text, 'listen')
  const heartbeat = (text: string) => secondsToMs('--heartbeat', text, 'listen', 'none')

  test('whole seconds, fractions, and a fraction without its leading 0, as milliseconds', () => {
    expect(delay('1')).toBe(1000)
    expect(delay('2.5')).toBe(2500)
    expect(delay('.25')).toBe(250)
    expect(delay(' 3 ')).toBe(3000)
    expect(delay('0.001')).toBe(1)
    expect(delay('86400')).toBe(86_400_000)
  })

  test('a finer fraction is rounded to the nearest millisecond', () => {
    expect(delay('0.0014')).toBe(1)
    expect(delay('0.0016')).toBe(2)
    expect(delay('1.2344')).toBe(1234)
    expect(delay('1.2346')).toBe(1235)
  })

  const range = 'from 0.001 to 86400'
  test.each([
    ['0, where 0 means nothing', '0'],
    ['less than a millisecond', '0.0009'],
    ['more than a day', '86400.001'],
    ['a negative number', '-1'],
    ['a sign', '+1'],
    ['an exponent', '1e3'],
    ['a decimal point with no digit after it', '1.'],
    ['two decimal points', '1.2.3'],
    ['a unit', '5s'],
    ['nothing', ''],
    ['only a point', '.'],
  ])('%s is refused, with the option, the range and the text', (_, text) => {
    expect(refusal(() => delay(text))).toEqual({ message: `--reconnect-delay takes a number of seconds ${range}, not "${text}"`, command: 'listen' })
  })

  test('where 0 has a meaning, 0 is taken and the error says what it means', () => {
    expect(heartbeat('0')).toBe(0)
    expect(heartbeat('0.0')).toBe(0)
    expect(heartbeat('0.5')).toBe(500)
    expect(refusal(() => heartbeat('0.0001'))).toEqual({ message: `--heartbeat takes a number of seconds ${range}, or 0 for none, not "0.0001"`, command: 'listen' })
    expect(refusal(() => heartbeat('-0'))).toEqual({ message: `--heartbeat takes a number of seconds ${range}, or 0 for none, not "-0"`, command: 'listen' })
  })
})
