/**
 * The bench's arithmetic: latency percentiles over every listener's samples, and one payload
 * size's figures from what the notifiers and listeners reported. Pure: imports nothing.
 */

export interface Percentiles {
  p50: number
  p90: number
  p99: number
  max: number
}

/**
 * Nearest-rank percentiles (the smallest sample with at least p% of samples at or below it),
 * over every listener's samples merged: a p99 is of all deliveries, not an average of p99s.
 * NaN when there are no samples.
 */
export function percentiles(samples: readonly Float64Array[]): Percentiles {
  const length = samples.reduce((sum, s) => sum + s.length, 0)
  const all = new Float64Array(length)
  let at = 0
  for (const s of samples) {
    all.set(s, at)
    at += s.length
  }
  all.sort() // a typed array sorts numerically
  const rank = (p: number): number => (length === 0 ? NaN : all[Math.max(0, Math.ceil((p / 100) * length) - 1)]!)
  return { p50: rank(50), p90: rank(90), p99: rank(99), max: length === 0 ? NaN : all[length - 1]! }
}

/** What one listener process reported at the end of a phase. */
export interface ListenerReport {
  received: number
  /** Nanoseconds from send to receipt, one per notification. */
  latencies: Float64Array
  /** CPU time (user + system) the process used during the phase, in microseconds. */
  cpuMicros: number
  /** When it received the phase's last notification, on the bench's clock (ns). */
  lastNanos: number
  gaps: number
}

export interface PhaseResult {
  payloadBytes: number
  /** NOTIFYs committed. */
  notifications: number
  /** Notifications received, summed over listeners: notifications × listeners when none is lost. */
  deliveries: number
  lost: number
  gaps: number
  /** From the first NOTIFY sent to the last notification received by any listener. */
  seconds: number
  notificationsPerSecond: number
  deliveriesPerSecond: number
  /** Milliseconds. */
  latency: Percentiles
  /** The listener processes' CPU time per notification received, in microseconds. */
  listenerCpuMicrosPerNotification: number
}

/** `startNanos` is when the first NOTIFY was sent, on the bench's clock. */
export function phaseResult(payloadBytes: number, notifications: number, startNanos: number, reports: readonly ListenerReport[]): PhaseResult {
  const deliveries = reports.reduce((sum, r) => sum + r.received, 0)
  const lastNanos = reports.reduce((last, r) => Math.max(last, r.lastNanos), startNanos)
  const seconds = (lastNanos - startNanos) / 1e9
  const nanos = percentiles(reports.map((r) => r.latencies))
  const cpuMicros = reports.reduce((sum, r) => sum + r.cpuMicros, 0)
  return {
    payloadBytes,
    notifications,
    deliveries,
    lost: notifications * reports.length - deliveries,
    gaps: reports.reduce((sum, r) => sum + r.gaps, 0),
    seconds,
    notificationsPerSecond: seconds > 0 ? notifications / seconds : NaN,
    deliveriesPerSecond: seconds > 0 ? deliveries / seconds : NaN,
    latency: { p50: nanos.p50 / 1e6, p90: nanos.p90 / 1e6, p99: nanos.p99 / 1e6, max: nanos.max / 1e6 },
    listenerCpuMicrosPerNotification: deliveries > 0 ? cpuMicros / deliveries : NaN,
  }
}
