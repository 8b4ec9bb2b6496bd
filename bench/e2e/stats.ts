/**
 * The end-to-end benchmark's statistics: medians over rounds, percentiles of one run's
 * latencies, and ratios taken within a round (the noise of a shared machine hits the clients
 * of one round alike, so a ratio within a round is steadier than a ratio of medians).
 * Pure: no imports.
 */

/** The median; for an even count, the mean of the middle two. NaN for no values. */
export function median(values: readonly number[]): number {
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b)
  if (finite.length === 0) return NaN
  const mid = finite.length >> 1
  return finite.length % 2 === 1 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2
}

/** The p-th percentile (0..100) by the nearest-rank method: a value that was observed. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length))
  return sorted[rank - 1]!
}

/**
 * mine[round] ÷ reference[round] for every round where both have a figure. Rounds where either
 * side has none (a failed run) are left out, not counted as zero.
 */
export function roundRatios(mine: readonly (number | undefined)[], reference: readonly (number | undefined)[]): number[] {
  const ratios: number[] = []
  mine.forEach((value, round) => {
    const base = reference[round]
    if (value !== undefined && base !== undefined && base > 0) ratios.push(value / base)
  })
  return ratios
}

/** The median over rounds of mine[round] ÷ reference[round]. */
export function medianRatio(mine: readonly (number | undefined)[], reference: readonly (number | undefined)[]): number {
  return median(roundRatios(mine, reference))
}

/** The smallest and largest of the finite values, for "spread over rounds" columns. */
export function range(values: readonly (number | undefined)[]): [number, number] {
  const finite = values.filter((v): v is number => v !== undefined && Number.isFinite(v))
  return finite.length === 0 ? [NaN, NaN] : [Math.min(...finite), Math.max(...finite)]
}
