/**
 * SIGHUP, as a closed terminal or a dropped ssh connection sends it, stops the long-running
 * commands the way SIGTERM does (src/cli/stop-signals.ts says why), instead of killing them by
 * the signal's default action: listen exits with SIGTERM's status; replicate finishes the
 * transaction being printed and tells the server, so that the slot's confirmed_flush_lsn is
 * where the command says it stopped and a restart repeats nothing; bench prints the results
 * so far, its listener processes (which the hang-up reaches too) outliving the signal.
 * Every wait is for something to happen (a line, a slot's state), never a fixed time.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { afterEach, beforeAll, describe, expect, test } from 'vitest'
import type { Connection } from '../../src/protocol/io/connection.ts'
import { parseLsn } from '../../src/protocol/replication/lsn.ts'
import { until, untilInactive, confirmedFlush } from '../support/replication.ts'
import { cliEnv, ensureBuilt, mainJs, startCli, superuserArgs, type Running } from '../support/cli.ts'
import { connectSuperuser, databaseOfItsOwn, server } from '../support/connect.ts'
import { uniqueChannel } from '../support/listener.ts'

beforeAll(ensureBuilt, 120_000)

const pg = server()
const database = databaseOfItsOwn('cli_hangup')
/** pglisten/replication needs PostgreSQL 14 (the matrix also runs 13). */
const replicationSupported = (pg.serverVersion ?? 180000) >= 140000

const children: ChildProcess[] = []
const connections: Connection[] = []
const made: string[] = []
afterEach(async () => {
  const left = children.splice(0)
  for (const child of left) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  await Promise.all(connections.splice(0).map((c) => c.close()))
  if (made.length === 0) return
  const sql = await connectSuperuser({ database })
  // A walsender outlives its client by a moment; its slot can be dropped only once it is gone.
  for (const name of made.splice(0)) {
    await untilInactive(sql, name)
    await sql.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '${name}'`)
    await sql.query(`DROP PUBLICATION IF EXISTS ${name}; DROP TABLE IF EXISTS ${name}`)
  }
  await sql.close()
})

async function sqlConnection(db?: string): Promise<Connection> {
  const c = await connectSuperuser(db === undefined ? {} : { database: db })
  connections.push(c)
  return c
}

/** `pglisten COMMAND` on the test server, once stderr says `ready`. */
async function started(command: string, args: string[], ready: RegExp, db?: string): Promise<Running> {
  const { args: connection, env } = superuserArgs(db)
  const cli = startCli([command, ...connection, ...args], { env })
  children.push(cli.child)
  await cli.stderrLine(ready)
  return cli
}

const replicate = (args: string[]) => started('replicate', args, /^pglisten: streaming /, database)

let serial = 0
/** A fresh table, a publication of it and a slot name, all the same name; dropped after the test. */
async function setup(sql: Connection): Promise<string> {
  const name = `cli_hup_${process.pid}_${++serial}`
  made.push(name)
  await sql.query(`CREATE TABLE ${name} (id int PRIMARY KEY, note text); CREATE PUBLICATION ${name} FOR TABLE ${name}`)
  return name
}

const ids = (lines: readonly string[]) => lines.map((line) => (JSON.parse(line) as { key: { id: number } }).key.id)
const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1)

describe('SIGHUP', () => {
  test('listen: stops as on SIGTERM, with the same status and last line, the notifications before it printed', async () => {
    const channel = uniqueChannel('hup')
    const [hup, term] = await Promise.all([started('listen', [channel], /^pglisten: listening on /), started('listen', [channel], /^pglisten: listening on /)])
    const c = await sqlConnection()
    await c.query(`SELECT pg_notify('${channel}', 'before the hang-up')`)
    for (const cli of [hup, term]) expect((JSON.parse((await cli.stdoutLines(1))[0]!) as { payload: string }).payload).toBe('before the hang-up')

    hup.child.kill('SIGHUP')
    term.child.kill('SIGTERM')
    const [hupExit, termExit] = await Promise.all([hup.exited, term.exited])
    expect(termExit).toEqual({ status: 0, signal: null })
    expect(hupExit).toEqual(termExit)
    expect(hup.stderr.at(-1)).toBe(term.stderr.at(-1))
    expect(hup.stdout).toHaveLength(1)
  })

  test.runIf(replicationSupported)('replicate between transactions: exits 0 after the last acknowledgement, which the slot confirms', async () => {
    const sql = await sqlConnection(database)
    const name = await setup(sql)
    const cli = await replicate(['--slot', name, '--publication', name, '--create'])
    for (let id = 1; id <= 3; id++) await sql.query(`INSERT INTO ${name} VALUES (${id}, 'row')`)
    const lines = await cli.stdoutLines(3)
    const lastCommit = parseLsn((JSON.parse(lines[2]!) as { commit_lsn: string }).commit_lsn)

    cli.child.kill('SIGHUP')
    expect(await cli.exited).toEqual({ status: 0, signal: null })
    const stopped = /^pglisten: stopped; acknowledged up to ([0-9A-F]+\/[0-9A-F]+), where a restart resumes$/.exec(cli.stderr.at(-1)!)
    expect(stopped).not.toBeNull()
    // The Standby status update close() sent reached the server: the slot has what was said.
    await untilInactive(sql, name)
    expect(await confirmedFlush(sql, name)).toBe(parseLsn(stopped![1]!))
    expect(parseLsn(stopped![1]!)).toBeGreaterThan(lastCommit)

    // So a restart prints only what came after.
    await sql.query(`INSERT INTO ${name} VALUES (4, 'after')`)
    const again = await replicate(['--slot', name, '--publication', name])
    expect(ids(await again.stdoutLines(1))).toEqual([4])
    again.child.kill('SIGTERM')
    expect(await again.exited).toEqual({ status: 0, signal: null })
    expect(ids(again.stdout)).toEqual([4])
  })

  test.runIf(replicationSupported)('replicate while a transaction is being printed: it is finished and acknowledged; a restart repeats none of it', async () => {
    const sql = await sqlConnection(database)
    const name = await setup(sql)
    const rows = 3000
    const first = await replicate(['--slot', name, '--publication', name, '--create'])
    // This process stops reading: the transaction's lines (about 750 kB) cannot all fit in the
    // pipe and this process's buffer, so the hang-up comes with the command inside it.
    first.child.stdout!.pause()
    await sql.query(`INSERT INTO ${name} SELECT i, repeat('x', 100) FROM generate_series(1, ${rows}) i`)
    await until(() => first.child.stdout!.readableLength >= 16_384, 'the transaction to be printed')
    first.child.kill('SIGHUP')
    // Not "signal again": the same signal again would change nothing.
    await first.stderrLine(/^pglisten: stopping after transaction \d+, so that it is not printed again; SIGINT or SIGTERM to stop at once$/)
    // The same hang-up told again, as bash does to its jobs when it is hung up itself: no
    // second signal, which would stop at once and print the transaction again next time.
    first.child.kill('SIGHUP')
    // Nothing must follow while stdout is held: taken as a second signal, it stopped at once and
    // exited within milliseconds, the transaction half printed. A wait for what must not come
    // can only be bounded; a slow machine could hide the fault, never fail a correct command.
    expect(await Promise.race([first.exited, new Promise((resolve) => setTimeout(resolve, 1000, 'still running'))])).toBe('still running')
    first.child.stdout!.resume()
    expect(await first.exited).toEqual({ status: 0, signal: null })
    expect(ids(first.stdout)).toEqual(oneTo(rows))

    await sql.query(`INSERT INTO ${name} VALUES (${rows + 1}, 'after')`)
    const second = await replicate(['--slot', name, '--publication', name])
    expect(ids(await second.stdoutLines(1))).toEqual([rows + 1])
    second.child.kill('SIGTERM')
    expect(await second.exited).toEqual({ status: 0, signal: null })
    expect(ids(second.stdout)).toEqual([rows + 1])
  })

  test('bench, the hang-up reaching its whole process group: the results so far, status 129, listeners that outlived it', async () => {
    const { args, env } = superuserArgs()
    // A process group of its own, as a shell starts a job: the hang-up reaches the bench and
    // its listener processes alike.
    const child = spawn(process.execPath, [mainJs, 'bench', ...args, '--listeners', '2', '--payload', '100', '--duration', '20', '--warmup', '0', '--progress-interval', '0.2', '--json'], {
      env: cliEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    children.push(child)
    const stdout: string[] = []
    const stderr: string[] = []
    createInterface({ input: child.stdout! }).on('line', (line) => stdout.push(line))
    createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line))
    const exited = new Promise<{ status: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (status, signal) => resolve({ status, signal })))
    await until(() => stderr.some((line) => /^pglisten: bench: 100 B \(1\/1\): [1-9]\d* sent, /.test(line)), 'a progress line')

    process.kill(-child.pid!, 'SIGHUP')
    await until(() => stderr.some((line) => line.startsWith('pglisten: bench: SIGHUP: stopping')), 'the stopping line')
    process.kill(-child.pid!, 'SIGHUP') // the same hang-up told again (bash's to its jobs): not "quit at once"
    expect(await exited).toEqual({ status: 129, signal: null })
    expect(stderr).toContain('pglisten: bench: SIGHUP: stopping; the results so far follow (SIGINT or SIGTERM to quit at once)')
    const report = JSON.parse(stdout.join('\n'))
    expect(report).toMatchObject({ interrupted: 'SIGHUP' })
    // lost 0: both listener processes were still there to report what they received.
    expect(report.results).toMatchObject([{ payload_bytes: 100, partial: true, lost: 0 }])
    expect(report.results[0].notifications).toBeGreaterThan(0)
  }, 60_000)
})
