/**
 * Runs the fault suite (test/integration/faults.test.ts) `--runs` times and tabulates its
 * figures per fault: time to detect and to recover (min, median, max, in ms), whether the Gap
 * always came first and later notifications always arrived, and how many notifications went
 * missing at the Gap (lost, and said so). Prints a markdown table; --out writes it and the JSON.
 *
 *   npm run reliability:faults -- --runs 5 [--out bench/results/reliability-faults]
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

interface Figures {
  fault: string
  detectMs: number
  recoverMs: number
  gapFirst: boolean
  announcedLost: number
  heardAfterRecovery: boolean
  serverVersion: number
}

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, out: { type: 'string' } } })
const runs = Number(values.runs)
if (!Number.isInteger(runs) || runs < 1) throw new RangeError(`--runs must be a positive integer, not ${values.runs}`)

const dir = mkdtempSync(join(tmpdir(), 'pglisten-faults-'))
const report = join(dir, 'figures.jsonl')
try {
  for (let run = 1; run <= runs; run++) {
    process.stderr.write(`run ${run} of ${runs} ...\n`)
    const result = spawnSync('npx', ['vitest', 'run', 'test/integration/faults.test.ts'], {
      env: { ...process.env, PGLISTEN_FAULT_REPORT: report },
      stdio: ['ignore', 'ignore', 'inherit'],
    })
    if (result.status !== 0) throw new Error(`the fault suite failed on run ${run} (exit ${result.status}); run it alone to see why`)
  }
  const figures: Figures[] = readFileSync(report, 'utf8').trim().split('\n').map((line) => JSON.parse(line))
  const table = tabulate(figures)
  process.stdout.write(table)
  if (values.out) {
    writeFileSync(`${values.out}.md`, table)
    writeFileSync(`${values.out}.json`, JSON.stringify({ runs, figures }, null, 2) + '\n')
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}

function tabulate(figures: Figures[]): string {
  const faults = [...new Set(figures.map((f) => f.fault))]
  const spread = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b)
    return `${s[0]} / ${s[Math.floor((s.length - 1) / 2)]} / ${s.at(-1)}`
  }
  const lines = [
    `PostgreSQL ${version(figures[0]?.serverVersion ?? 0)}, ${runs} run(s) per fault; times in ms from the fault's injection, min / median / max`,
    '',
    '| fault | detected | listening again | Gap before the new connection\'s notifications | heard after recovery | lost at the Gap (announced) |',
    '|---|---|---|---|---|---|',
  ]
  for (const fault of faults) {
    const rows = figures.filter((f) => f.fault === fault)
    lines.push(
      `| ${fault} | ${spread(rows.map((r) => r.detectMs))} | ${spread(rows.map((r) => r.recoverMs))} | ` +
        `${rows.every((r) => r.gapFirst) ? 'always' : 'NOT always'} | ${rows.every((r) => r.heardAfterRecovery) ? 'always' : 'NOT always'} | ` +
        `${spread(rows.map((r) => r.announcedLost))} |`,
    )
  }
  return lines.join('\n') + '\n'
}

/** server_version_num as a version: 180004 → 18.4. */
function version(num: number): string {
  return `${Math.floor(num / 10000)}.${num % 10000}`
}
