/**
 * The bench's arithmetic and formats, with figures worked out by hand: payloads of exactly the
 * size asked for that carry their send time, nearest-rank percentiles, a phase's figures, and
 * the table and JSON.
 */
import { describe, expect, test } from 'vitest'
import { endedPhase, endMarker, padding, readStamp, stampedPayload, stampWidth } from '../../../src/cli/bench/payload.ts'
import { alignedTable, formatJson, formatTable, wrap, type BenchReport } from '../../../src/cli/bench/report.ts'
import { percentiles, phaseResult, type ListenerReport } from '../../../src/cli/bench/stats.ts'

describe('payloads', () => {
  test.each([16, 17, 100, 7999])('%i bytes, carrying the send time', (size) => {
    const payload = stampedPayload(1_234_567_890, padding(size))
    expect(new TextEncoder().encode(payload).length).toBe(size)
    expect(payload.slice(0, stampWidth)).toBe('0000001234567890')
    expect(readStamp(payload)).toBe(1_234_567_890)
  })

  test('fewer bytes than the stamp needs is refused', () => {
    expect(() => padding(15)).toThrow(RangeError)
  })

  test('the end marker is told apart from every payload', () => {
    expect(endedPhase(endMarker(3))).toBe(3)
    expect(endedPhase(stampedPayload(0, padding(16)))).toBeUndefined()
    expect(readStamp(endMarker(3))).toBeNaN()
  })
})

describe('percentiles: nearest rank over every listener\'s samples', () => {
  test('1 to 100 split between two listeners', () => {
    const all = Array.from({ length: 100 }, (_, i) => i + 1)
    const samples = [Float64Array.from(all.filter((n) => n % 2)), Float64Array.from(all.filter((n) => n % 2 === 0))]
    expect(percentiles(samples)).toEqual({ p50: 50, p90: 90, p99: 99, max: 100 })
  })

  test('few samples: the p99 of 10 is the largest (rank ceil(9.9) = 10)', () => {
    expect(percentiles([Float64Array.of(5, 1, 4, 2, 3, 10, 9, 8, 7, 6)])).toEqual({ p50: 5, p90: 9, p99: 10, max: 10 })
  })

  test('sorted as numbers, not as text', () => {
    expect(percentiles([Float64Array.of(100, 9, 20)]).p50).toBe(20)
  })

  test('no samples: NaN', () => {
    expect(percentiles([]).p50).toBeNaN()
  })
})

describe('phaseResult', () => {
  const report = (latenciesNs: number[], lastNanos: number, cpuMicros: number): ListenerReport => ({
    received: latenciesNs.length,
    latencies: Float64Array.from(latenciesNs),
    cpuMicros,
    lastNanos,
    gaps: 0,
  })

  test('2 listeners, 4 notifications, one copy lost: rates over first send to last receipt', () => {
    // Sending starts at 1 s on the bench clock; the last receipt is at 1.5 s.
    const result = phaseResult(100, 4, 1e9, [report([1e6, 2e6, 3e6, 4e6], 1.5e9, 40), report([5e6, 6e6, 7e6], 1.4e9, 30)])
    expect(result).toMatchObject({ payloadBytes: 100, notifications: 4, deliveries: 7, lost: 1, seconds: 0.5, notificationsPerSecond: 8, deliveriesPerSecond: 14 })
    expect(result.latency).toEqual({ p50: 4, p90: 7, p99: 7, max: 7 }) // milliseconds
    expect(result.listenerCpuMicrosPerNotification).toBe(10) // 70 µs over 7 deliveries
  })
})

describe('output', () => {
  const result = phaseResult(16, 4, 0, [report([1e6, 2e6, 3e6, 4e6], 2e9, 100)])
  function report(latencies: number[], last: number, cpu: number): ListenerReport {
    return { received: latencies.length, latencies: Float64Array.from(latencies), cpuMicros: cpu, lastNanos: last, gaps: 0 }
  }
  const bench: BenchReport = { server: { version: '18.4', address: '127.0.0.1:5432' }, listeners: 1, notifiers: 1, amount: { count: 4 }, warmup: 0, results: [result] }

  test('the table, psql-aligned', () => {
    const lines = formatTable(bench).split('\n')
    expect(lines.slice(0, 5)).toEqual([
      'pglisten bench: PostgreSQL 18.4 at 127.0.0.1:5432; 1 listener, 1 notifier; 4 NOTIFYs per payload size',
      '',
      ' payload | sent | lost | notify/s | deliveries/s | p50 ms | p90 ms | p99 ms | max ms | CPU µs/notif',
      '---------+------+------+----------+--------------+--------+--------+--------+--------+--------------',
      '    16 B |    4 |    0 |        2 |            2 |  2.000 |  4.000 |  4.000 |  4.000 |         25.0',
    ])
    for (const line of lines.slice(2, 5)) expect(line.length).toBeLessThanOrEqual(100) // fits a 100-column terminal
  })

  test('JSON, snake_case, rounded to the microsecond', () => {
    const json = JSON.parse(formatJson(bench))
    expect(json).toMatchObject({
      server: { version: '18.4', address: '127.0.0.1:5432' },
      per_payload_size: { notifications: 4 },
      results: [{ payload_bytes: 16, notifications: 4, deliveries: 4, lost: 0, seconds: 2, notifications_per_second: 2, latency_ms: { p50: 2, p90: 4, p99: 4, max: 4 }, listener_cpu_us_per_notification: 25 }],
    })
  })

  test('alignedTable centres headers and right-aligns values', () => {
    expect(alignedTable(['a', 'long'], [['1', '2'], ['333', '4']])).toEqual(['  a  | long', '-----+------', '   1 |    2', ' 333 |    4'])
  })

  test('wrap breaks at spaces and indents what follows', () => {
    expect(wrap('aaa bbb ccc ddd', 8)).toEqual(['aaa bbb', '  ccc', '  ddd'])
  })
})
