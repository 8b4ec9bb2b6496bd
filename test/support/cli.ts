/**
 * Runs the real `pglisten` command (node dist/cli/main.js, as npm's bin link would) as a child
 * process against the test server. The child's environment is built from nothing: no PG*
 * variable, an empty HOME and no password file, so nothing on the machine running the tests
 * leaks in; only what a test passes reaches it.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { beforeAll } from 'vitest'
import { server } from './connect.ts'

const root = fileURLToPath(new URL('../../', import.meta.url))
export const mainJs = join(root, 'dist/cli/main.js')

/**
 * An empty home folder: no ~/.pgpass, no ~/.postgresql/ certificates. One per test file, made
 * before its tests and removed after them, failed or not (the hook's returned cleanup).
 */
let home = '/nonexistent/pglisten-test-home'
beforeAll(() => {
  const made = mkdtempSync(join(tmpdir(), 'pglisten-cli-home-'))
  home = made
  return () => rmSync(made, { recursive: true, force: true })
})

/** The child's whole environment: PATH, the empty home, no password file, sslmode=disable, and `extra`. */
export function cliEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, PGPASSFILE: '/nonexistent/pglisten-test-pgpass', PGSSLMODE: 'disable', PGCONNECT_TIMEOUT: '10', ...extra }
}

/** -h -p -U -d for the test server's superuser, and its password (if any) in the environment. */
export function superuserArgs(database = server().database): { args: string[]; env: Record<string, string> } {
  const pg = server()
  const args = ['-h', pg.host, '-p', String(pg.port), '-U', pg.superuser.user, '-d', database]
  return { args, env: pg.superuser.password === undefined ? {} : { PGPASSWORD: pg.superuser.password } }
}

export interface Finished {
  status: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Runs the command to the end, with `input` on its stdin (closed at once if none). */
export function runCli(args: string[], options: { env?: Record<string, string>; input?: string | Uint8Array } = {}): Promise<Finished> {
  const child = spawn(process.execPath, [mainJs, ...args], { env: cliEnv(options.env), stdio: 'pipe' })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text))
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text))
  child.stdin.end(options.input)
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }))
  })
}

/** A command left running (listen): its lines as they come, and ways to wait for them. */
export interface Running {
  child: ChildProcess
  stdout: string[]
  stderr: string[]
  /** Resolves with the first stderr line matching `pattern` (already seen or to come). */
  stderrLine(pattern: RegExp, ms?: number): Promise<string>
  /** Resolves once stdout has `count` lines. */
  stdoutLines(count: number, ms?: number): Promise<string[]>
  exited: Promise<{ status: number | null; signal: NodeJS.Signals | null }>
}

export function startCli(args: string[], options: { env?: Record<string, string> } = {}): Running {
  const child = spawn(process.execPath, [mainJs, ...args], { env: cliEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] })
  const stdout: string[] = []
  const stderr: string[] = []
  createInterface({ input: child.stdout! }).on('line', (line) => stdout.push(line))
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line))
  const exited = new Promise<{ status: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (status, signal) => resolve({ status, signal })))
  const until = async <T>(found: () => T | undefined, what: string, ms: number): Promise<T> => {
    const deadline = Date.now() + ms
    for (;;) {
      const value = found()
      if (value !== undefined) return value
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${what} did not come; stderr so far:\n${stderr.join('\n')}`)
      await new Promise((r) => setTimeout(r, 10))
    }
  }
  return {
    child,
    stdout,
    stderr,
    stderrLine: (pattern, ms = 10_000) => until(() => stderr.find((line) => pattern.test(line)), `a stderr line matching ${pattern}`, ms),
    stdoutLines: (count, ms = 10_000) => until(() => (stdout.length >= count ? stdout.slice(0, count) : undefined), `${count} stdout lines`, ms),
    exited,
  }
}

/** No stack trace: no "    at f (file:line)" frames, no "node:internal". */
export const stackTrace = /^\s+at |node:internal|\.ts:\d+|\.js:\d+/m

/**
 * Builds dist/ when dist/cli/main.js is missing or older than a file under src/ (a run of
 * vitest without `npm test` before it). Test files run in parallel, so one builds while the
 * others wait on a lock folder. The lock is in the checkout, beside the dist/ it guards, so
 * that every run in this checkout sees it (each run has a temporary folder of its own).
 */
export async function ensureBuilt(): Promise<void> {
  const lock = join(root, '.cache', 'cli-build.lock')
  mkdirSync(dirname(lock), { recursive: true })
  for (let waited = 0; stale(); waited += 100) {
    try {
      mkdirSync(lock)
    } catch {
      if (waited > 120_000) throw new Error(`the build lock ${lock} was held for two minutes; remove it if no build runs`)
      await new Promise((r) => setTimeout(r, 100))
      continue
    }
    try {
      // tsc emits even when it reports type errors (someone else's file mid-edit): judged by staleness.
      if (stale()) await promisify(execFile)('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root }).catch(() => undefined)
    } finally {
      rmdirSync(lock)
    }
    if (stale()) throw new Error('dist/cli/main.js is still missing or older than src/ after building')
  }
}

function stale(): boolean {
  let built: number
  try {
    built = statSync(mainJs).mtimeMs
  } catch {
    return true
  }
  return newest(join(root, 'src')) > built
}

function newest(folder: string): number {
  let latest = 0
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name)
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs)
  }
  return latest
}
