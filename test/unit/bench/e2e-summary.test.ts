/**
 * The end-to-end benchmark's verdicts, from runs worked out by hand: ratios are taken within a
 * round and then the median over rounds, a failed round is left out rather than counted as
 * zero, and each goal of the issue is judged met, missed or not measured as its text says.
 */
import { describe, expect, test } from 'vitest'
import type { Run } from '../../../bench/e2e/measure.ts'
import { median, medianRatio, percentile, roundRatios } from '../../../bench/e2e/stats.ts'
import { judgeFlood, judgeGoals, summarize } from '../../../bench/e2e/summary.ts'
import type { ClientName, Sample } from '../../../bench/e2e/workloads.ts'

const run = (round: number, workload: string, client: ClientName, figures: Partial<Run> = {}): Run => ({ round, workload, client, ok: true, ...figures })

describe('statistics', () => {
  test('median of an odd and an even count; NaN for none', () => {
    expect(median([3, 1, 2])).toBe(2)
    expect(median([4, 1, 3, 2])).toBe(2.5)
    expect(median([])).toBeNaN()
  })

  test('percentile by nearest rank is a value that was observed', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i) // 100..1
    expect(percentile(values, 50)).toBe(50)
    expect(percentile(values, 99)).toBe(99)
    expect(percentile(values, 100)).toBe(100)
    expect(percentile([7], 99)).toBe(7)
  })

  test('ratios within a round; a round missing on either side is left out', () => {
    expect(roundRatios([2, undefined, 9], [1, 5, 3])).toEqual([2, 3])
    // Round medians are 2 and 2 (ratio 1), but within each round the ratio is 0.5 or 2 or 4.
    expect(medianRatio([1, 2, 4], [2, 1, 1])).toBe(2)
  })
})

describe('summarize', () => {
  test('per client: the median over rounds, and the median of per-round ratios to pglisten and libpq', () => {
    const runs = [
      run(0, 'server-0B-1x', 'pglisten', { rate: 100 }), run(0, 'server-0B-1x', 'libpq', { rate: 200 }),
      run(1, 'server-0B-1x', 'pglisten', { rate: 300 }), run(1, 'server-0B-1x', 'libpq', { rate: 300 }),
      run(2, 'server-0B-1x', 'pglisten', { rate: 900 }), { ...run(2, 'server-0B-1x', 'libpq'), ok: false, error: 'timed out' },
    ]
    const [mine, libpq] = summarize(runs, 3, ['pglisten', 'libpq'])
    expect(mine!.rate!.median).toBe(300)
    expect(mine!.rate!.vsLibpq).toBe(0.75) // rounds 1 and 2 only: 0.5 and 1
    expect(mine!.rate!.vsLibpqRange).toEqual([0.5, 1])
    expect(libpq!.failures).toEqual(['round 3: timed out'])
    expect(libpq!.rate!.rounds).toEqual([200, 300, undefined])
  })
})

describe('goals', () => {
  const verdicts = (runs: Run[], flood?: { flat: boolean; detail: string }) =>
    Object.fromEntries(judgeGoals(summarize(runs, 1, ['pglisten', 'pg', 'postgres.js', 'libpq']), flood).map((g) => [g.goal.split(':')[0]!.split(' ')[0], g.verdict]))

  test('nothing measured is "not measured", never "met"', () => {
    expect(new Set(Object.values(verdicts([])))).toEqual(new Set(['not measured']))
  })

  test('real server: one payload size below 0.9x libpq misses the goal', () => {
    const runs = [
      run(0, 'server-0B-1x', 'pglisten', { rate: 95 }), run(0, 'server-0B-1x', 'libpq', { rate: 100 }),
      run(0, 'server-100B-1x', 'pglisten', { rate: 89 }), run(0, 'server-100B-1x', 'libpq', { rate: 100 }),
    ]
    expect(verdicts(runs)['real']).toBe('missed')
    runs[2] = run(0, 'server-100B-1x', 'pglisten', { rate: 90 })
    expect(verdicts(runs)['real']).toBe('met')
  })

  test('client ceiling and CPU are judged on the fake server at 0 bytes', () => {
    expect(verdicts([run(0, 'ceiling-0B', 'pglisten', { rate: 3.1e6, cpuUs: 0.31 })])).toMatchObject({ client: 'met', CPU: 'missed' })
    expect(verdicts([run(0, 'ceiling-0B', 'pglisten', { rate: 2.9e6, cpuUs: 0.3 })])).toMatchObject({ client: 'missed', CPU: 'met' })
  })

  test('latency: p99 above either library\'s misses; needs both measured', () => {
    const p = (p99: number) => ({ latencyUs: { p50: 1, p90: 1, p99, max: p99 } })
    const runs = [run(0, 'latency', 'pglisten', p(100)), run(0, 'latency', 'pg', p(120))]
    expect(verdicts(runs)['latency']).toBe('not measured')
    expect(verdicts([...runs, run(0, 'latency', 'postgres.js', p(100))])['latency']).toBe('met')
    expect(verdicts([...runs, run(0, 'latency', 'postgres.js', p(99))])['latency']).toBe('missed')
  })

  test('memory: the flood verdict is passed through', () => {
    expect(verdicts([], { flat: false, detail: '' })['memory']).toBe('missed')
    expect(verdicts([], { flat: true, detail: '' })['memory']).toBe('met')
  })
})

describe('flood: flat means the second half peaks no higher than the first, within 5% and 4 MiB', () => {
  // [ms, rssKb, received]: one sample before the flood, then samples by notifications received.
  const flood = (firstHalfKb: number, secondHalfKb: number): Sample[] => [
    [0, 50_000, 0], [1, firstHalfKb, 250_000], [2, firstHalfKb - 10, 500_000], [3, secondHalfKb, 750_000], [4, secondHalfKb, 1_000_000],
  ]

  test('the same peak in both halves is flat', () => {
    expect(judgeFlood(flood(60_000, 60_000)).flat).toBe(true)
  })

  test('growth beyond 4 MiB is not, for a large process (5% would allow more)', () => {
    expect(judgeFlood(flood(100_000, 100_000 + 4096)).flat).toBe(true)
    expect(judgeFlood(flood(100_000, 100_000 + 4097)).flat).toBe(false)
  })

  test('growth beyond 5% is not, for a small process', () => {
    expect(judgeFlood(flood(20_000, 21_000)).flat).toBe(true)
    expect(judgeFlood(flood(20_000, 21_001)).flat).toBe(false)
  })

  test('without samples during the flood there is no verdict of flat', () => {
    const verdict = judgeFlood([[0, 50_000, 0]])
    expect(verdict.flat).toBe(false)
    expect(verdict.detail).toMatch(/too few RSS samples/)
  })
})
