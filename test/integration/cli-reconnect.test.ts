/**
 * `pglisten listen` losing its connection, as a user watches it on stderr: a line per retry
 * with its attempt number ("of N" with --max-attempts) and the wait before it, each distinct
 * failure once, a failure that waiting cannot cure explained once, and giving up with status
 * 1. And the settings that steer it: --reconnect-delay, --max-attempts, --heartbeat,
 * --connect-timeout. The built command against the real server, through a TCP proxy where the
 * network must fail.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeAll, describe, expect, test } from 'vitest'
import type { Connection } from '../../src/protocol/io/connection.ts'
import { connectSuperuser, server } from '../support/connect.ts'
import { ensureBuilt, runCli, startCli, stackTrace, type Running } from '../support/cli.ts'
import { uniqueChannel } from '../support/listener.ts'
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts'

beforeAll(ensureBuilt, 120_000)

const pg = server()
const running: Running[] = []
const proxies: FaultProxy[] = []
const connections: Connection[] = []
const folders: string[] = []
afterEach(async () => {
  for (const cli of running.splice(0)) if (cli.child.exitCode === null) cli.child.kill('SIGKILL')
  await Promise.all([...proxies.splice(0).map((p) => p.close()), ...connections.splice(0).map((c) => c.close())])
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true })
})

async function proxy(): Promise<FaultProxy> {
  const p = await startFaultProxy(pg.host, pg.port)
  proxies.push(p)
  return p
}

async function terminate(pid: number): Promise<void> {
  const c = await connectSuperuser()
  connections.push(c)
  await c.query(`SELECT pg_terminate_backend(${pid})`)
}

/** The superuser at `port` (the server's, or a proxy's): -h -p -U -d, and its password if it has one. */
function at(port: number): { args: string[]; env: Record<string, string> } {
  const args = ['-h', pg.host, '-p', String(port), '-U', pg.superuser.user, '-d', pg.database]
  return { args, env: pg.superuser.password === undefined ? {} : { PGPASSWORD: pg.superuser.password } }
}

/** `pglisten listen ARGS` once it says it is listening. */
async function listening(args: string[], env: Record<string, string>): Promise<Running> {
  const cli = startCli(['listen', ...args], { env })
  running.push(cli)
  await cli.stderrLine(/^pglisten: listening on /)
  return cli
}

/** The stderr lines after "listening on", with the attempt's waits as "W s" (they are random). */
function after(cli: Running): string[] {
  const from = cli.stderr.findIndex((line) => line.startsWith('pglisten: listening on '))
  return cli.stderr.slice(from + 1).map((line) => line.replace(/ in \d+(\.\d+)? s\b/, ' in W s'))
}

/** The wait each "reconnecting" line announces, in seconds. */
function waits(cli: Running): number[] {
  return cli.stderr.flatMap((line) => {
    const wait = /^pglisten: reconnecting: attempt \d+.* in (\d+(?:\.\d+)?) s/.exec(line)
    return wait ? [Number(wait[1])] : []
  })
}

describe('retry lines', () => {
  test('a server that went away: attempts numbered "of N" with their wait, the error once, then giving up with status 1', async () => {
    const p = await proxy()
    const { args, env } = at(p.port)
    const cli = await listening([...args, '--reconnect-delay', '0.05,0.1', '--max-attempts', '3', uniqueChannel('cli retry')], env)
    await p.close() // the connection drops, and nothing listens on the port any more
    expect(await cli.exited).toEqual({ status: 1, signal: null })

    const refused = `cannot connect to ${pg.host}:${p.port}: connect ECONNREFUSED ${pg.host}:${p.port}`
    expect(after(cli)).toEqual([
      expect.stringMatching(/^pglisten: connection lost at \S+: .*; reconnecting$/),
      'pglisten: reconnecting: attempt 1 of 3 in W s',
      `pglisten: reconnect attempt 1 failed: ${refused}`,
      'pglisten: reconnecting: attempt 2 of 3 in W s',
      'pglisten: reconnecting: attempt 3 of 3 in W s (attempt 2 failed the same way)',
      'pglisten: gave up after 3 attempts to reconnect (attempt 3 failed the same way)',
    ])
    // --reconnect-delay 0.05,0.1: from the upper half of 0.05, then of 0.1.
    const [first, second, third] = waits(cli)
    expect(first).toBeGreaterThanOrEqual(0.025)
    expect(first).toBeLessThanOrEqual(0.05)
    for (const wait of [second!, third!]) {
      expect(wait).toBeGreaterThanOrEqual(0.05)
      expect(wait).toBeLessThanOrEqual(0.1)
    }
    expect(cli.stderr.join('\n')).not.toMatch(stackTrace)
  })

  test.skipIf(!pg.users)('a password refused after a change: explained once, then only the attempt lines; Ctrl-C still exits 0', async () => {
    const user = pg.users!.scram
    const folder = mkdtempSync(join(tmpdir(), 'pglisten-cli-pgpass-'))
    folders.push(folder)
    const passfile = join(folder, 'pgpass')
    // The password file (0600, as libpq wants it): read again at every attempt to connect.
    const write = (password: string) => {
      writeFileSync(passfile, `*:*:*:${user.user}:${password.replaceAll('\\', '\\\\').replaceAll(':', '\\:')}\n`, { mode: 0o600 })
      chmodSync(passfile, 0o600)
    }
    write(user.password!)
    const args = ['-h', pg.host, '-p', String(pg.port), '-U', user.user, '-d', pg.database, '--reconnect-delay', '0.05,0.1']
    const cli = await listening([...args, uniqueChannel('cli retry')], { PGPASSFILE: passfile })
    const pid = Number(/backend pid (\d+)/.exec(cli.stderr[0]!)![1])
    write('not the password any more')
    await terminate(pid)
    await cli.stderrLine(/^pglisten: reconnecting: attempt 5 /)
    cli.child.kill('SIGINT')
    expect(await cli.exited).toEqual({ status: 0, signal: null })

    const lines = after(cli)
    expect(lines.slice(0, 6)).toEqual([
      expect.stringMatching(/^pglisten: connection lost at \S+: .*57P01.*; reconnecting$/),
      'pglisten: reconnecting: attempt 1 in W s',
      `pglisten: reconnect attempt 1 failed: FATAL: password authentication failed for user "${user.user}" (SQLSTATE 28P01)`,
      'pglisten: the server refused the password: every attempt will fail this way until it changes, on the server or in a password file (read again at each attempt); pglisten will keep trying, at most 0.1 s apart, and not repeat this error (Ctrl-C stops it)',
      'pglisten: reconnecting: attempt 2 in W s',
      'pglisten: reconnecting: attempt 3 in W s (attempt 2 failed the same way)',
    ])
    expect(lines.filter((line) => line.includes('28P01'))).toHaveLength(1)
    for (const line of lines.slice(6)) expect(line).toMatch(/^pglisten: reconnecting: attempt (\d+) in W s \(attempt \d+ failed the same way\)$/)
  })
})

describe('liveness and timeouts', () => {
  test('--heartbeat SECONDS: a connection gone silent is found lost that soon', async () => {
    const p = await proxy()
    const { args, env } = at(p.port)
    const cli = await listening([...args, '--heartbeat', '0.3', '--max-attempts', '1', '--reconnect-delay', '5', uniqueChannel('cli beat')], env)
    p.blackhole()
    const lost = await cli.stderrLine(/^pglisten: connection lost /, 5_000)
    expect(lost).toMatch(/: no byte arrived for 300 ms while a heartbeat waited for its answer; the connection is presumed dead; reconnecting$/)
    cli.child.kill('SIGTERM')
    expect((await cli.exited).status).toBe(0)
  })

  test('--heartbeat 0: none is sent, so a silent connection is not noticed', async () => {
    const p = await proxy()
    const { args, env } = at(p.port)
    const cli = await listening([...args, '--heartbeat', '0', uniqueChannel('cli beat')], env)
    p.blackhole()
    await new Promise((r) => setTimeout(r, 1500))
    expect(cli.stderr.some((line) => line.startsWith('pglisten: connection lost'))).toBe(false)
    cli.child.kill('SIGTERM')
    expect((await cli.exited).status).toBe(0)
  })

  test('--connect-timeout SECONDS: a host that never answers is given up that soon, over PGCONNECT_TIMEOUT and the connection string', async () => {
    const p = await proxy()
    p.blackhole() // connections are accepted, and never answered
    const conninfo = (timeout: number) => `host=${pg.host} port=${p.port} user=${pg.superuser.user} dbname=${pg.database} connect_timeout=${timeout}`
    for (const [args, env] of [
      [['-h', pg.host, '-p', String(p.port), '--connect-timeout', '1'], { PGCONNECT_TIMEOUT: '30' }],
      [[conninfo(30), '--connect-timeout', '1'], {}],
      [[conninfo(1)], { PGCONNECT_TIMEOUT: '30' }], // the connection string's, as before
    ] as const) {
      const started = Date.now()
      const result = await runCli(['listen', ...args, 'jobs'], { env })
      const took = Date.now() - started
      expect(result.status).toBe(1)
      expect(result.stderr).toBe('pglisten: startup did not finish within 1000 ms\n')
      expect(took).toBeGreaterThanOrEqual(900)
      expect(took).toBeLessThan(10_000)
    }
  }, 40_000)
})
