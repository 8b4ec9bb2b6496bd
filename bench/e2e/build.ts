/**
 * Builds the listener programs at bench time, into .cache/bench/ (gitignored): libpq-listener.c
 * with gcc (once per version of the source; if gcc or libpq is missing, says why, so the runner
 * can skip the libpq row), and the Node listener child with tsc, to JavaScript, so that the
 * measured processes run plain `node` without tsx's loader (which adds some 35 MB of resident
 * memory and a loader thread to every process). Imports node: modules only.
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const source = join(here, 'libpq-listener.c')
const root = join(here, '..', '..')
const cacheDir = join(root, '.cache', 'bench')

export type LibpqBuild = { ok: true; path: string; version: string } | { ok: false; reason: string }

export function buildLibpqListener(): LibpqBuild {
  const run = (command: string, args: string[]) => execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim()
  let includeDir: string
  let libDir: string
  let version: string
  try {
    includeDir = run('pg_config', ['--includedir'])
    libDir = run('pg_config', ['--libdir'])
    version = run('pg_config', ['--version'])
  } catch {
    return { ok: false, reason: 'pg_config was not found (install libpq-dev)' }
  }
  if (!existsSync(join(includeDir, 'libpq-fe.h'))) return { ok: false, reason: `no libpq-fe.h in ${includeDir} (install libpq-dev)` }
  const hash = createHash('sha256').update(readFileSync(source)).update(includeDir + libDir).digest('hex').slice(0, 12)
  const path = join(cacheDir, `libpq-listener-${hash}`)
  if (existsSync(path)) return { ok: true, path, version }
  mkdirSync(cacheDir, { recursive: true })
  try {
    run('gcc', ['-O2', '-Wall', '-Wextra', `-I${includeDir}`, source, '-o', path, `-L${libDir}`, '-lpq'])
  } catch (error) {
    const detail = (error as { stderr?: string; code?: string }).code === 'ENOENT' ? 'gcc was not found' : String((error as { stderr?: string }).stderr ?? error).trim()
    return { ok: false, reason: `cannot compile libpq-listener.c: ${detail}` }
  }
  return { ok: true, path, version }
}

/**
 * Compiles listener-child.ts, and what it imports (pglisten's src/ included), with the
 * project's TypeScript and compiler settings; returns the child's .js path. Every run compiles
 * afresh: src/ may have changed since the last one.
 */
export function buildNodeChild(): string {
  const out = join(cacheDir, 'js')
  rmSync(out, { recursive: true, force: true })
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  const flags = [
    '--outDir', out, '--rootDir', root, '--target', 'ES2022', '--lib', 'ES2022', '--module', 'NodeNext',
    '--moduleResolution', 'NodeNext', '--rewriteRelativeImportExtensions', '--allowImportingTsExtensions',
    '--verbatimModuleSyntax', '--strict', '--noUncheckedIndexedAccess', '--skipLibCheck', '--types', 'node',
  ]
  try {
    execFileSync(process.execPath, [tsc, ...flags, join(here, 'listener-child.ts')], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  } catch (error) {
    throw new Error(`tsc could not compile the listener child:\n${(error as { stdout?: string }).stdout ?? error}`)
  }
  // Inside the repository, so that 'pg' and 'postgres' resolve from its node_modules, and its
  // package.json's "type": "module" makes the output ES modules.
  return join(out, 'bench', 'e2e', 'listener-child.js')
}
