/**
 * What a bench notification carries: the time it was sent, so that the listener can tell how
 * long it took. Pure: imports nothing.
 *
 * The time is read from process.hrtime, Node's reading of the machine's monotonic clock
 * (CLOCK_MONOTONIC on Linux via libuv's uv_hrtime), which every process on the machine shares:
 * a notifier in one process and a listener in another read the same clock, and no wall-clock
 * adjustment (NTP) can move it. Both sides count nanoseconds from an epoch the bench picks.
 *
 *   0000000001234567........   16 decimal digits: nanoseconds since the epoch; then '.' to the size
 *   end 3                      the end of phase 3 (no payload of a measured phase starts with "e")
 */

/** Digits of the send time: nanoseconds, 115 days' worth (exact below 2^53 ns, 104 days). */
export const stampWidth = 16

/** The bench's clock: nanoseconds since `epoch` (a process.hrtime.bigint() reading). */
export function nanosSince(epoch: bigint): number {
  return Number(process.hrtime.bigint() - epoch)
}

/** The '.'s that bring a stamp to `size` bytes; made once per size, not per notification. */
export function padding(size: number): string {
  if (!Number.isInteger(size) || size < stampWidth) throw new RangeError(`a bench payload needs at least ${stampWidth} bytes, not ${size}`)
  return '.'.repeat(size - stampWidth)
}

/** A payload of exactly stampWidth + padding.length bytes, all ASCII. */
export function stampedPayload(sentNanos: number, fill: string): string {
  return String(sentNanos).padStart(stampWidth, '0') + fill
}

/** The send time a payload carries, or NaN if it carries none. */
export function readStamp(payload: string): number {
  return Number(payload.slice(0, stampWidth))
}

export function endMarker(phase: number): string {
  return `end ${phase}`
}

/** The phase a marker ends, or undefined if `payload` is not one. */
export function endedPhase(payload: string): number | undefined {
  return payload.startsWith('end ') ? Number(payload.slice(4)) : undefined
}
