/**
 * Numbers on the command line: whole numbers and seconds, each refused with the option's name,
 * the range it takes and the text given. Pure: imports the command's errors and quoting only.
 *
 * Times are in seconds, as libpq's connect_timeout and the bench's --duration are. A decimal
 * point is accepted where a fraction makes sense; an exponent ("1e3") never is.
 */
import { UsageError } from './errors.ts'
import { quoted } from './quoted.ts'

/**
 * The longest time taken, in seconds: a day. Node's timers hold at most 2^31 - 1 ms (24.8
 * days) and fire at once, with a warning, beyond it, so a bound is needed somewhere; a day is
 * already more than any of these settings could sensibly be.
 */
export const maxSeconds = 86_400

/** `what`: the kind of number, named in the error ("a whole number of seconds"); `zero`: what 0 means, if it is special. */
export function wholeNumber(option: string, text: string, min: number, max: number, command: string, what = 'a whole number', zero?: string): number {
  const value = /^\d+$/.test(text.trim()) ? Number(text) : NaN
  if (!(value >= min && value <= max)) throw new UsageError(`${option} takes ${what} from ${min}${zero ? ` (${zero})` : ''} to ${max}, not ${quoted(text)}`, command)
  return value
}

/**
 * Seconds, to the millisecond (the finest a timer takes), as a number of milliseconds. `zero`
 * says what 0 means for this option, if 0 is allowed; otherwise the least is 0.001.
 */
export function secondsToMs(option: string, text: string, command: string, zero?: string): number {
  const value = /^\d*\.?\d+$/.test(text.trim()) ? Number(text) : NaN
  if (!((value === 0 && zero !== undefined) || (value >= 0.001 && value <= maxSeconds))) {
    throw new UsageError(`${option} takes a number of seconds from 0.001 to ${maxSeconds}${zero ? `, or 0 for ${zero}` : ''}, not ${quoted(text)}`, command)
  }
  return Math.round(value * 1000)
}
