/**
 * Stopping a connection attempt: the caller's AbortSignal and connect_timeout, combined by hand
 * (AbortSignal.any arrived in Node 20.3, and pglisten supports 20.0), and the error an abort
 * becomes. Imports only the error classes and the long timer; no socket.
 */
import { ConnectionLostError } from '../errors.ts'
import { setLongTimeout } from '../timer.ts'

/** What an attempt rejects with when the caller's signal aborts it, whatever phase it was in. */
export function abortedError(signal: AbortSignal): ConnectionLostError {
  return new ConnectionLostError('the connection attempt was aborted', { cause: signal.reason })
}

/**
 * What a link being opened fails with when `signal` stops it (LinkOptions.signal): the reason
 * itself if it is a ConnectionLostError (connect.ts's abortedError), else one that says whether
 * time ran out or the caller gave up.
 */
export function stoppedError(signal: AbortSignal | undefined): ConnectionLostError {
  const reason: unknown = signal?.reason
  if (reason instanceof ConnectionLostError) return reason
  const timedOut = (reason as Error | undefined)?.name === 'TimeoutError'
  return new ConnectionLostError(timedOut ? 'the connection attempt timed out' : 'the connection attempt was aborted', { cause: reason })
}

/**
 * One attempt's signal: it aborts when the caller's signal does (reason: abortedError) or when
 * `timeoutMs` passes (reason: a DOMException named TimeoutError, as AbortSignal.timeout gives),
 * whichever comes first. dispose() clears the timer and the listener on the caller's signal, so
 * nothing of the attempt outlives it; a caller's signal may well live as long as the process.
 */
export class AttemptSignal {
  readonly #controller = new AbortController()
  readonly #caller: AbortSignal | undefined
  /** Cancels the deadline's timer: a long one, since connect_timeout may exceed a timer's 24.8 days. */
  #cancelTimer: (() => void) | undefined
  #timedOut = false
  readonly #onCallerAbort = (): void => {
    this.#cancelTimer?.()
    this.#controller.abort(abortedError(this.#caller!))
  }

  constructor(caller: AbortSignal | undefined, timeoutMs: number | undefined) {
    this.#caller = caller
    if (caller?.aborted) {
      this.#onCallerAbort()
      return
    }
    caller?.addEventListener('abort', this.#onCallerAbort, { once: true })
    if (timeoutMs !== undefined) {
      this.#cancelTimer = setLongTimeout(() => {
        this.#timedOut = true
        this.#controller.abort(new DOMException(`the attempt took longer than ${timeoutMs} ms`, 'TimeoutError'))
      }, timeoutMs)
    }
  }

  get signal(): AbortSignal {
    return this.#controller.signal
  }

  /** The deadline, not the caller, ended the attempt. */
  get timedOut(): boolean {
    return this.#timedOut
  }

  /** The caller's signal ended the attempt: `signal.reason` is the error to reject with. */
  get aborted(): boolean {
    return this.#controller.signal.aborted && !this.#timedOut
  }

  dispose(): void {
    this.#cancelTimer?.()
    this.#caller?.removeEventListener('abort', this.#onCallerAbort)
  }
}
