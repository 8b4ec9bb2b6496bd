/**
 * How the bench stops early. The first SIGINT, SIGTERM or SIGHUP (a closed terminal, a dropped
 * ssh connection: ../stop-signals.ts says why it stops rather than kills) asks it to stop: the
 * phase being measured ends once the NOTIFYs in flight commit, its listeners report, and the
 * results so far are printed. A second one exits at once, but for a SIGHUP (../stop-signals.ts). Imports node:os for the signals'
 * numbers, and the list of signals.
 *
 * The exit status is the shell's for a process killed by the signal, 128 + its number (130 for
 * SIGINT, 143 for SIGTERM, 129 for SIGHUP): a script sees that the bench did not finish, yet
 * gets its output.
 */
import { constants } from 'node:os'
import { repeatsHangUp, stopSignals as signals, type StopSignal } from '../stop-signals.ts'

const ignore = (): void => {}

export class Interruption {
  /** The signal that asked the bench to stop, once one has. */
  signal: StopSignal | undefined
  readonly #controller = new AbortController()
  readonly #onFirst: (signal: StopSignal) => void
  readonly #handler = (signal: StopSignal): void => {
    if (this.signal !== undefined) return void (repeatsHangUp(signal) || process.exit(this.status))
    this.signal = signal
    this.#onFirst(signal)
    this.#controller.abort()
  }

  /** Listens for the signals until remove(); `onFirst` says what happens next. */
  constructor(onFirst: (signal: StopSignal) => void) {
    this.#onFirst = onFirst
    for (const signal of signals) process.on(signal, this.#handler)
  }

  /**
   * Stops listening; but once a signal has stopped the bench, a SIGHUP is still ignored: the
   * process leaves next, once stdout and stderr have taken what they hold (../output.ts), and
   * the same hang-up told again then must not kill it by SIGHUP's default action (dead of the
   * signal, where it exits with 129 as it said it would).
   */
  remove(): void {
    for (const signal of signals) process.off(signal, this.#handler)
    if (this.signal !== undefined) process.on('SIGHUP', ignore)
  }

  /** 0 when no signal came, else 128 + the first signal's number. */
  get status(): number {
    return this.signal === undefined ? 0 : 128 + constants.signals[this.signal]
  }

  /** Calls `stop` when a signal comes (at once if one came), until the returned function is called. */
  onStop(stop: () => void): () => void {
    if (this.signal !== undefined) stop()
    this.#controller.signal.addEventListener('abort', stop, { once: true })
    return () => this.#controller.signal.removeEventListener('abort', stop)
  }

  /**
   * `work`, or undefined if a signal comes and `work` has not settled `graceMs` later: a run
   * that was asked to stop waits a little for what is nearly done, not for a slow listener's
   * full timeout.
   */
  async within<T>(work: Promise<T>, graceMs: number): Promise<T | undefined> {
    let timer: NodeJS.Timeout | undefined
    let endGrace: (value: undefined) => void = () => {}
    const grace = new Promise<undefined>((resolve) => (endGrace = resolve))
    const forget = this.onStop(() => (timer = setTimeout(endGrace, graceMs, undefined)))
    try {
      return await Promise.race([work, grace])
    } finally {
      forget()
      clearTimeout(timer)
    }
  }
}
