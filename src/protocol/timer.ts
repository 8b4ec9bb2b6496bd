/**
 * Timers past their range. setTimeout and setInterval keep a delay in a signed 32-bit count of
 * milliseconds (HTML's timer steps; Node, Bun, Deno and workerd alike), and a longer one does not
 * wait longer: it fires after 1 ms. Imports nothing.
 */

/** The longest delay a timer keeps: 2^31 - 1 ms, about 24.8 days. */
export const maxTimerDelay = 2 ** 31 - 1

/** A RangeError unless a timer can wait `ms` (NaN and Infinity included): for delays the user gives. */
export function checkTimerDelay(what: string, ms: number): void {
  if (!(ms <= maxTimerDelay)) throw new RangeError(`${what} must be at most ${maxTimerDelay} ms (about 24.8 days, the longest a timer waits), not ${ms}`)
}

/**
 * setTimeout for any delay, for deadlines that libpq's settings make longer than a timer
 * keeps (connect_timeout is a C int of seconds): the wait is made of steps a timer can keep.
 * An unref'd timer does not keep the process alive. Returns how to cancel it.
 */
export function setLongTimeout(callback: () => void, ms: number, { unref = false } = {}): () => void {
  let timer: ReturnType<typeof setTimeout>
  const wait = (left: number): void => {
    const step = Math.min(left, maxTimerDelay)
    timer = setTimeout(() => (left > step ? wait(left - step) : callback()), step)
    if (unref) (timer as { unref?(): void }).unref?.()
  }
  wait(ms)
  return () => clearTimeout(timer)
}
