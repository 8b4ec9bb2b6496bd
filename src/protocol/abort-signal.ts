/**
 * The check of a caller's AbortSignal, one for connect() and the listener's calls alike (the
 * listener imports it from here). Imports nothing.
 */

/**
 * A TypeError unless `signal` is undefined or has what pglisten uses of an AbortSignal:
 * `aborted`, and addEventListener() and removeEventListener() for its 'abort' event. `reason`
 * is read only as an error's cause, so a polyfill older than it (undefined) still serves.
 *
 * Not `instanceof AbortSignal`: a signal made in another realm (a vm context, jsdom, an iframe)
 * or by a polyfill is of another class, and Node's own APIs take one all the same
 * (validateAbortSignal in Node's lib/internal/validators.js asks for an object with an
 * `aborted` property). Nor is one handed to AbortSignal.any(): Node 20 takes a foreign signal
 * there but never sees it abort, which is one more reason attempt-signal.ts combines by hand.
 */
export function checkSignal(signal: unknown): asserts signal is AbortSignal | undefined {
  if (signal === undefined) return
  const given = signal as Partial<AbortSignal> | null
  if (typeof given !== 'object' || given === null || !('aborted' in given) || typeof given.addEventListener !== 'function' || typeof given.removeEventListener !== 'function') {
    throw new TypeError('signal must be an AbortSignal')
  }
}
