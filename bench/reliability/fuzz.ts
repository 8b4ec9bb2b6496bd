/**
 * The fuzz suite (test/integration/fuzz.test.ts) for longer than CI runs it: every property
 * `--runs` times as often, from `--seed` (a number, or "random"), then a table of the cases
 * run per stage and how they ended. Exits with vitest's status; a failure prints fast-check's
 * seed, path and counterexample above the table. --out writes the figures as JSON.
 *
 *   npm run fuzz -- --runs 15 [--seed random] [--out bench/results/fuzz-2026-12-04.json]
 *
 * The suite needs no PostgreSQL: unless PGLISTEN_TEST_URL is set, it is given a URL that
 * nothing connects to, so that vitest's global setup does not start a cluster for nothing.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

interface Report {
  seed: number
  runs: number
  durationMs: number
  cases: Record<string, number>
  outcomes: Record<string, Record<string, number>>
}

const { values } = parseArgs({ options: { runs: { type: 'string', default: '10' }, seed: { type: 'string', default: 'random' }, out: { type: 'string' } } })
const runs = Number(values.runs)
if (!(runs > 0)) throw new RangeError(`--runs must be a positive number, not ${values.runs}`)

const dir = mkdtempSync(join(tmpdir(), 'pglisten-fuzz-'))
const path = join(dir, 'report.json')
try {
  const t0 = performance.now()
  const result = spawnSync('npx', ['vitest', 'run', 'test/integration/fuzz.test.ts'], {
    env: {
      ...process.env,
      PGLISTEN_FUZZ_RUNS: String(runs),
      PGLISTEN_FUZZ_SEED: values.seed,
      PGLISTEN_FUZZ_REPORT: path,
      PGLISTEN_TEST_URL: process.env.PGLISTEN_TEST_URL ?? 'postgres://fuzz@127.0.0.1:1/fuzz',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  const wall = Math.round(performance.now() - t0)
  const report: Report = JSON.parse(readFileSync(path, 'utf8'))
  const passed = result.status === 0
  process.stdout.write(table(report, wall, passed))
  if (values.out) writeFileSync(values.out, JSON.stringify({ ...report, wallMs: wall, passed }, null, 2) + '\n')
  process.exitCode = result.status ?? 1
} finally {
  rmSync(dir, { recursive: true, force: true })
}

function table(report: Report, wall: number, passed: boolean): string {
  const rows = Object.entries(report.cases).map(([stage, cases]) => {
    const ends = Object.entries(report.outcomes[stage] ?? {}).sort(([, a], [, b]) => b - a).map(([name, n]) => `${name} ${n}`).join(', ')
    return `| ${stage} | ${cases} | ${ends} |`
  })
  const total = Object.values(report.cases).reduce((a, b) => a + b, 0)
  return [
    '',
    `seed ${report.seed}, ${report.runs} × the default runs, ${total} cases in ${(wall / 1000).toFixed(1)} s: ${passed ? 'no failure' : 'FAILED (see above)'}`,
    '',
    '| stage | cases | how they ended |',
    '|---|---|---|',
    ...rows,
    '',
  ].join('\n')
}
