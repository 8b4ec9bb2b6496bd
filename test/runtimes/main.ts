/**
 * The scenario (scenario.ts), then pglisten/lite's (lite-scenario.ts), as a program, for Bun and Deno: reads its configuration as JSON
 * from standard input (the password stays out of argv and the environment, and Deno needs no
 * --allow-env for it), runs against the built package, prints each step, exits 0 or 1.
 * The whole run is bounded: a hang exits 1 too, and so does a warning from pglisten.
 */
import process from 'node:process'
import * as pglisten from '../../dist/index.js'
import * as lite from '../../dist/lite.js'
import { both, runLiteScenario } from './lite-scenario.ts'
import { runScenario, type ScenarioConfig } from './scenario.ts'

const RUN_TIMEOUT = 45_000

const watchdog = setTimeout(() => {
  console.error(`FAIL: the scenario did not finish within ${RUN_TIMEOUT / 1000} s`)
  process.exit(1)
}, RUN_TIMEOUT)

// pglisten warns (process.emitWarning) when it cannot read something it looked for, as Deno
// refuses what its flags do not allow: given everything explicitly, it must look for nothing.
const warnings: string[] = []
process.on('warning', (warning) => warnings.push(`${warning.name}: ${warning.message}`))

const config = JSON.parse(await readStdin()) as ScenarioConfig
const scenario = both(await runScenario(pglisten, config), await runLiteScenario(lite, config))
const verdict = scenario.ok && warnings.length > 0 ? { ...scenario, ok: false, error: `warnings:\n${warnings.join('\n')}` } : scenario
clearTimeout(watchdog)
for (const step of verdict.steps) console.log(`  ok ${step}`)
if (verdict.ok) {
  console.log(`PASS: ${config.runtime}`)
} else {
  console.error(`FAIL: ${verdict.error}`)
}
process.exit(verdict.ok ? 0 : 1)

async function readStdin(): Promise<string> {
  const chunks: Uint8Array[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Uint8Array)
  return new TextDecoder().decode(concat(chunks))
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
  let at = 0
  for (const c of chunks) all.set(c, at), (at += c.length)
  return all
}
