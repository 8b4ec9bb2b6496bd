// Runs PostgreSQL's programs, as the unprivileged `postgres` OS user when we are root.
// PostgreSQL refuses to run as root ("root" execution of the PostgreSQL server is not permitted),
// so as root we switch to `postgres` (creating it if missing); as anyone else we stay ourselves.
// Imports only node: modules.

import { execFileSync, spawn, spawnSync } from 'node:child_process'

export interface OsUser {
  name: string
  uid: number
  gid: number
}

export interface RunResult {
  code: number | null
  stdout: string
  stderr: string
}

export interface RunOptions {
  /** run as this user; undefined = as ourselves */
  as?: OsUser | undefined
  cwd?: string
  input?: string
}

let cached: OsUser | undefined | null = null

/** The user PostgreSQL runs as: `postgres` when we are root, else undefined (ourselves). */
export function serverUser(): OsUser | undefined {
  if (cached !== null) return cached
  if (process.getuid?.() !== 0) return (cached = undefined)
  if (!idOf('-u')) {
    // Same shape as Debian's own postgres user: a system account with no home and no shell.
    execFileSync('groupadd', ['--system', '--force', 'postgres'])
    execFileSync('useradd', ['--system', '--gid', 'postgres', '--no-create-home',
      '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', 'postgres'])
  }
  return (cached = { name: 'postgres', uid: Number(idOf('-u')), gid: Number(idOf('-g')) })
}

function idOf(flag: '-u' | '-g'): string | undefined {
  const r = spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' })
  return r.status === 0 ? r.stdout.trim() : undefined
}

/**
 * The environment for PostgreSQL's programs: ours without PG* variables (a stray PGDATA or
 * PGPORT would silently redirect pg_ctl) and with the C locale, so messages are predictable.
 */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PG')) env[k] = v
  env.LC_ALL = 'C'
  return env
}

function spawnOptions(o: RunOptions) {
  // cwd '/' by default: the postgres user may not be able to enter ours (e.g. under /root).
  return { cwd: o.cwd ?? '/', env: childEnv(), uid: o.as?.uid, gid: o.as?.gid }
}

export function run(file: string, args: string[], o: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...spawnOptions(o), stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s))
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.on('error', () => {}) // a child that exits early closes its stdin; 'close' reports it
    child.stdin.end(o.input ?? '')
  })
}

/** Like run, but rejects unless the program exits 0. */
export async function mustRun(file: string, args: string[], o: RunOptions = {}): Promise<RunResult> {
  const r = await run(file, args, o)
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} exited ${r.code}\n${r.stderr}${r.stdout}`)
  return r
}

/** Synchronous run, for exit and signal handlers, where nothing asynchronous gets to finish. */
export function runSync(file: string, args: string[], o: RunOptions = {}): RunResult {
  const r = spawnSync(file, args, { ...spawnOptions(o), encoding: 'utf8', input: o.input ?? '' })
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error ?? '') }
}
