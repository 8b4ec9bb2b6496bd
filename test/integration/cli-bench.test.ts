/**
 * `pglisten bench` against the real server, kept short with --count: the JSON parses and holds
 * throughput, latency percentiles and listener CPU for every payload size, with nothing lost;
 * the table has a row per size.
 */
import { beforeAll, describe, expect, test } from 'vitest'
import { ensureBuilt, runCli, superuserArgs } from '../support/cli.ts'

beforeAll(ensureBuilt, 120_000)

describe('pglisten bench', () => {
  test('--json: throughput, latency percentiles and CPU per notification, per payload size', async () => {
    const { args, env } = superuserArgs()
    const result = await runCli(['bench', ...args, '--listeners', '2', '--notifiers', '2', '--payload', '16,500', '--count', '300', '--warmup', '50', '--json'], { env })
    expect(result.stderr).not.toMatch(/error/i)
    expect(result.status).toBe(0)
    const report = JSON.parse(result.stdout)
    expect(report).toMatchObject({ listeners: 2, notifiers: 2, per_payload_size: { notifications: 300 }, warmup_notifications: 50 })
    expect(report.server.version).toMatch(/^\d+/)
    expect(Object.keys(report.definitions)).toEqual(['latency', 'throughput', 'cpu'])
    expect(report.results.map((r: { payload_bytes: number }) => r.payload_bytes)).toEqual([16, 500])
    for (const r of report.results) {
      // Every NOTIFY reached both listeners.
      expect(r).toMatchObject({ notifications: 300, deliveries: 600, lost: 0, gaps: 0 })
      expect(r.seconds).toBeGreaterThan(0)
      expect(r.notifications_per_second).toBeGreaterThan(0)
      expect(r.deliveries_per_second).toBeCloseTo(2 * r.notifications_per_second, 0)
      const { p50, p90, p99, max } = r.latency_ms
      expect(p50).toBeGreaterThan(0)
      expect([p50, p90, p99, max]).toEqual([p50, p90, p99, max].sort((a, b) => a - b))
      expect(max).toBeLessThan(r.seconds * 1000 + 1) // none took longer than the phase
      expect(r.listener_cpu_us_per_notification).toBeGreaterThan(0)
    }
    // Progress off a terminal: one line per payload size.
    expect(result.stderr.trimEnd().split('\n')).toEqual([
      expect.stringMatching(/^pglisten: bench: 16 B: 300 notifications, \d+\/s, p50 [\d.]+ ms$/),
      expect.stringMatching(/^pglisten: bench: 500 B: 300 notifications, \d+\/s, p50 [\d.]+ ms$/),
    ])
  })

  test('the table: a header, a row per payload size, and what the figures mean', async () => {
    const { args, env } = superuserArgs()
    const result = await runCli(['bench', ...args, '--payload', '100', '--count', '200', '--warmup', '0'], { env })
    expect(result.status).toBe(0)
    const lines = result.stdout.split('\n')
    expect(lines[0]).toMatch(/^pglisten bench: PostgreSQL \S+ at \S+; 1 listener, 1 notifier; 200 NOTIFYs per payload size$/)
    const header = lines.find((line) => line.includes('payload |'))!
    expect(header.split('|').map((cell) => cell.trim())).toEqual(['payload', 'sent', 'lost', 'notify/s', 'deliveries/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'CPU µs/notif'])
    const row = lines[lines.indexOf(header) + 2]!.split('|').map((cell) => cell.trim())
    expect(row.slice(0, 3)).toEqual(['100 B', '200', '0'])
    for (const cell of row.slice(3)) expect(Number(cell)).toBeGreaterThan(0)
    expect(result.stdout).toMatch(/^latency: from the notifier's query\(\) call/m)
    expect(result.stdout).toMatch(/^CPU µs\/notif: /m)
  })

  test('--count and --duration together are a usage error', async () => {
    const result = await runCli(['bench', '--count', '10', '--duration', '1'])
    expect(result.status).toBe(2)
    expect(result.stderr).toBe('pglisten: --count and --duration exclude each other\nTry "pglisten bench --help" for more information.\n')
  })
})
