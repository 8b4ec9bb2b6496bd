/**
 * `pglisten bench` against the real server, kept short with --count: the JSON parses and holds
 * throughput, latency percentiles and listener CPU for every payload size, with nothing lost;
 * the table has a row per size. Piped, it prints a progress line every --progress-interval;
 * stopped by SIGTERM or Ctrl-C, it prints the results so far and leaves no backend behind.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { afterEach, beforeAll, describe, expect, test } from 'vitest'
import { cliEnv, ensureBuilt, mainJs, runCli, startCli, superuserArgs, type Running } from '../support/cli.ts'
import { connectSuperuser, eventually, server } from '../support/connect.ts'

beforeAll(ensureBuilt, 120_000)

const children: ChildProcess[] = []
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
})

/** How many backends run with this application_name (the bench's connections carry it from PGAPPNAME). */
async function backends(applicationName: string): Promise<number> {
  const admin = await connectSuperuser()
  try {
    const [result] = await admin.query(`SELECT count(*) FROM pg_stat_activity WHERE application_name = '${applicationName}'`)
    return Number(result!.rows[0]![0])
  } finally {
    await admin.close()
  }
}

/** Waits until no backend has this application_name: a backend ends a moment after its client closes. */
async function noBackendLeft(applicationName: string): Promise<void> {
  for (const deadline = Date.now() + 5_000; ; ) {
    const left = await backends(applicationName)
    if (left === 0) return
    if (Date.now() > deadline) throw new Error(`${left} backends of ${applicationName} outlived the bench`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/**
 * `pglisten bench` in a process group of its own, as a shell starts a job: Ctrl-C's SIGINT goes
 * to the whole group, the bench and its listener processes alike.
 */
function startJob(args: string[], env: Record<string, string>): Running & { interrupt(): void } {
  const child = spawn(process.execPath, [mainJs, ...args], { env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  children.push(child)
  const stdout: string[] = []
  const stderr: string[] = []
  createInterface({ input: child.stdout! }).on('line', (line) => stdout.push(line))
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line))
  const exited = new Promise<{ status: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (status, signal) => resolve({ status, signal })))
  const stderrLine = async (pattern: RegExp, ms = 10_000): Promise<string> => {
    for (const deadline = Date.now() + ms; ; await new Promise((r) => setTimeout(r, 10))) {
      const line = stderr.find((l) => pattern.test(l))
      if (line !== undefined) return line
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no stderr line matching ${pattern}; stderr so far:\n${stderr.join('\n')}`)
    }
  }
  return { child, stdout, stderr, stderrLine, stdoutLines: () => Promise.reject(new Error('unused')), exited, interrupt: () => process.kill(-child.pid!, 'SIGINT') }
}

const pg = server()

/** Tables, publications and slots the replication bench made and did not remove. */
async function benchObjectsLeft(): Promise<string | null | undefined> {
  const admin = await connectSuperuser()
  try {
    const [left] = await admin.query(
      "SELECT (SELECT count(*) FROM pg_class WHERE relname LIKE 'pglisten_bench_%') + (SELECT count(*) FROM pg_publication WHERE pubname LIKE 'pglisten_bench_%') + (SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'pglisten_bench_%')",
    )
    return left!.rows[0]![0]
  } finally {
    await admin.close()
  }
}

/** Waits up to 5 s: a temporary slot goes with its walsender, a moment after the bench closed its stream. */
async function expectNothingLeft(): Promise<void> {
  await eventually(async () => (await benchObjectsLeft()) === '0').catch(() => undefined)
  expect(await benchObjectsLeft()).toBe('0')
}

const progressLine = (label: string) => new RegExp(`^pglisten: bench: ${label.replace(/[()/]/g, '\\$&')}: [1-9]\\d* sent, \\d+ received, \\d+/s, \\d+\\.\\d s$`)

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

  test.runIf((pg.serverVersion ?? 180000) < 140000)('--replication on PostgreSQL 13: status 1, saying it needs 14, and nothing left behind', async () => {
    const { args, env } = superuserArgs()
    const result = await runCli(['bench', ...args, '--replication', '--payload', '16', '--count', '100'], { env })
    expect(result.status).toBe(1)
    expect(result.stderr).toMatch(/needs PostgreSQL 14 or later/)
    await expectNothingLeft()
  })

  test.runIf((pg.serverVersion ?? 180000) >= 140000)("--replication calls pg_catalog's functions, whatever the search_path: a schema listed before pg_catalog cannot put its own repeat() or generate_series() in their place", async () => {
    const admin = await connectSuperuser()
    await admin.query(`DROP SCHEMA IF EXISTS hijack_bench CASCADE; CREATE SCHEMA hijack_bench;
      CREATE FUNCTION hijack_bench.repeat(text, integer) RETURNS text LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hijack: repeat'; END $$;
      CREATE FUNCTION hijack_bench.generate_series(integer, integer) RETURNS SETOF integer LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hijack: generate_series'; END $$`)
    try {
      const { args, env } = superuserArgs()
      const result = await runCli(['bench', ...args, '--replication', '--payload', '16', '--count', '100', '--json'], { env: { ...env, PGOPTIONS: '-c search_path=hijack_bench,pg_catalog' } })
      expect(result.stderr).not.toMatch(/hijack/)
      expect(result.status).toBe(0)
      expect(JSON.parse(result.stdout).results).toHaveLength(1)
      await expectNothingLeft()
    } finally {
      await admin.query('DROP SCHEMA hijack_bench CASCADE')
      await admin.close()
    }
  })

  test.runIf((pg.serverVersion ?? 180000) >= 140000)('--replication --json: every row inserted is decoded once, with its rate and commit-to-handover lag, and the bench leaves no table, publication or slot behind', async () => {
    const { args, env } = superuserArgs()
    const result = await runCli(['bench', ...args, '--replication', '--notifiers', '2', '--payload', '16,300', '--count', '1000', '--json'], { env })
    expect(result.stderr).not.toMatch(/error/i)
    expect(result.status).toBe(0)
    const report = JSON.parse(result.stdout)
    expect(report).toMatchObject({ writers: 2, amount: { count: 1000 }, interrupted: null })
    expect(report.results.map((r: { payloadBytes: number; rows: number }) => [r.payloadBytes, r.rows])).toEqual([[16, 1000], [300, 1000]])
    for (const r of report.results) {
      expect(r.changesPerSecond).toBeGreaterThan(0)
      expect([r.lag.p50, r.lag.p90, r.lag.p99, r.lag.max]).toEqual([r.lag.p50, r.lag.p90, r.lag.p99, r.lag.max].sort((a: number, b: number) => a - b))
    }
    await expectNothingLeft()
  })

  test.runIf((pg.serverVersion ?? 180000) >= 140000)('--replication --count K inserts exactly K rows, when K is no multiple of the 100 per transaction', async () => {
    const { args, env } = superuserArgs()
    const result = await runCli(['bench', ...args, '--replication', '--notifiers', '2', '--payload', '16', '--count', '150', '--json'], { env })
    expect(result.status).toBe(0)
    const report = JSON.parse(result.stdout)
    expect(report.amount).toEqual({ count: 150 })
    expect(report.results.map((r: { rows: number }) => r.rows)).toEqual([150])
    await expectNothingLeft()
  })

  test('--replication with --listeners is a usage error: one stream reads', async () => {
    const result = await runCli(['bench', '--replication', '--listeners', '2'])
    expect(result.status).toBe(2)
    expect(result.stderr).toMatch(/^pglisten: --replication reads with one stream in this process: it takes no --listeners\n/)
  })

  test('--count and --duration together are a usage error', async () => {
    const result = await runCli(['bench', '--count', '10', '--duration', '1'])
    expect(result.status).toBe(2)
    expect(result.stderr).toBe('pglisten: --count and --duration exclude each other\nTry "pglisten bench --help" for more information.\n')
  })

  test('off a terminal, a progress line on stderr every --progress-interval seconds during a phase', async () => {
    const { args, env } = superuserArgs()
    const result = await runCli(['bench', ...args, '--payload', '16', '--duration', '2', '--warmup', '0', '--progress-interval', '0.3', '--json'], { env })
    expect(result.status).toBe(0)
    const lines = result.stderr.trimEnd().split('\n')
    const progress = lines.slice(0, -1)
    // 2 s of sending, a line at most every 0.3 s (the figures refresh every 0.2 s): 6 lines on an
    // idle machine; on a loaded one timers fire late, so only "several, never more than 2 / 0.3".
    expect(progress.length).toBeGreaterThanOrEqual(2)
    expect(progress.length).toBeLessThanOrEqual(7)
    for (const line of progress) expect(line).toMatch(progressLine('16 B (1/1)'))
    const elapsed = progress.map((line) => Number(/([\d.]+) s$/.exec(line)![1]))
    for (const [i, seconds] of elapsed.entries()) if (i > 0) expect(seconds - elapsed[i - 1]!).toBeGreaterThanOrEqual(0.3 - 0.1) // shown to 0.1 s
    expect(lines.at(-1)).toMatch(/^pglisten: bench: 16 B: \d+ notifications, \d+\/s, p50 [\d.]+ ms$/)
    expect(JSON.parse(result.stdout)).toMatchObject({ interrupted: null, results: [{ payload_bytes: 16, partial: false }] })
  })

  test('SIGTERM mid-run: the finished size, the one being sent marked partial, status 143, no backend left', async () => {
    const { args, env } = superuserArgs()
    const name = `pglisten-bench-term-${process.pid}-${Date.now()}`
    const cli = startCli(['bench', ...args, '--listeners', '2', '--notifiers', '2', '--payload', '16,100', '--duration', '3', '--warmup', '0', '--progress-interval', '0.2', '--json'], { env: { ...env, PGAPPNAME: name } })
    children.push(cli.child)
    await cli.stderrLine(/^pglisten: bench: 16 B: /, 20_000)
    await cli.stderrLine(progressLine('100 B (2/2)'), 10_000)
    expect(await backends(name)).toBeGreaterThanOrEqual(4) // 2 notifiers, 2 listeners
    cli.child.kill('SIGTERM')
    expect(await cli.exited).toEqual({ status: 143, signal: null })
    expect(cli.stderr).toContain('pglisten: bench: SIGTERM: stopping; the results so far follow (SIGTERM again to quit at once)')
    expect(cli.stderr.at(-1)).toMatch(/^pglisten: bench: 100 B \(partial\): [1-9]\d* notifications, /)
    const report = JSON.parse(cli.stdout.join('\n'))
    expect(report).toMatchObject({ interrupted: 'SIGTERM', per_payload_size: { seconds: 3 } })
    const [whole, partial] = report.results
    expect(whole).toMatchObject({ payload_bytes: 16, partial: false, lost: 0 })
    // It ran its whole 3 s. Its seconds run from the first send to the last delivery, and the last
    // NOTIFY goes out just before the deadline, so they can fall a hair short of 3 (2.999938 once).
    expect(whole.seconds).toBeGreaterThan(2.9)
    // The NOTIFYs sent before the signal were all received: the phase ended as any other does.
    expect(partial).toMatchObject({ payload_bytes: 100, partial: true, lost: 0, deliveries: 2 * partial.notifications })
    expect(partial.notifications).toBeGreaterThan(0)
    expect(partial.seconds).toBeLessThan(3)
    expect(partial.latency_ms.p50).toBeGreaterThan(0)
    await noBackendLeft(name)
  }, 60_000)

  test('Ctrl-C (SIGINT to the whole process group) during the only size: a partial row, status 130, no backend left', async () => {
    const { args, env } = superuserArgs()
    const name = `pglisten-bench-int-${process.pid}-${Date.now()}`
    const job = startJob(['bench', ...args, '--listeners', '2', '--payload', '100', '--duration', '20', '--warmup', '100', '--progress-interval', '0.2'], { ...env, PGAPPNAME: name })
    await job.stderrLine(progressLine('100 B (1/1)'), 20_000)
    expect(await backends(name)).toBeGreaterThanOrEqual(3) // 1 notifier, 2 listeners
    job.interrupt()
    expect(await job.exited).toEqual({ status: 130, signal: null })
    expect(job.stderr).toContain('pglisten: bench: SIGINT: stopping; the results so far follow (SIGINT again to quit at once)')
    expect(job.stdout[0]).toMatch(/^pglisten bench: PostgreSQL \S+ at \S+; 2 listeners, 1 notifier; 20 s per payload size, after 100 to warm up; interrupted by SIGINT$/)
    const header = job.stdout.findIndex((line) => /^ +payload +\|/.test(line)) // centred over "100 B (partial)"
    const row = job.stdout[header + 2]!.split('|').map((cell) => cell.trim())
    expect(row[0]).toBe('100 B (partial)')
    expect(Number(row[1])).toBeGreaterThan(0) // sent
    expect(row[2]).toBe('0') // lost: the listener processes outlived the Ctrl-C and reported
    expect(job.stdout.join(' ')).toMatch(/\(partial\): SIGINT came while this size was being sent; its figures cover the NOTIFYs sent until\s+then\./)
    await noBackendLeft(name)
  }, 60_000)

  test('--progress-interval takes seconds above 0', async () => {
    const result = await runCli(['bench', '--progress-interval', '0'])
    expect(result.status).toBe(2)
    expect(result.stderr).toBe('pglisten: --progress-interval takes a number of seconds above 0, not "0"\nTry "pglisten bench --help" for more information.\n')
  })
})
