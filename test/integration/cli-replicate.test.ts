/**
 * `pglisten replicate` as a user runs it: the built command in a child process, against the
 * real server (wal_level=logical). One JSON line per change, in commit order; a change is
 * acknowledged only once stdout has taken its line, so a signal lets the transaction being
 * printed finish and a restart repeats nothing, and after kill -9 (stdout blocked, lines in
 * flight) a restart loses nothing and repeats only what the server was not yet told of.
 * Every wait is for something to happen (a line, a slot's state), never a fixed time.
 */
import { spawn } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { afterEach, beforeAll, describe, expect, test } from 'vitest'
import type { Connection } from '../../src/protocol/io/connection.ts'
import { parseLsn } from '../../src/protocol/replication/lsn.ts'
import { until, untilInactive, confirmedFlush } from '../support/replication.ts'
import { connectSuperuser, databaseOfItsOwn, server } from '../support/connect.ts'
import { cliEnv, ensureBuilt, mainJs, runCli, stackTrace, startCli, superuserArgs, type Running } from '../support/cli.ts'

beforeAll(ensureBuilt, 120_000)

const pg = server()
/** Its commands read messages, which cross publications but not databases. */
const database = databaseOfItsOwn('cli_replicate')
/** pglisten/replication needs PostgreSQL 14 (the matrix also runs 13). */
const supported = (pg.serverVersion ?? 180000) >= 140000

const running: Running[] = []
const connections: Connection[] = []
const made: string[] = []
afterEach(async () => {
  const clis = running.splice(0)
  for (const cli of clis) if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL')
  await Promise.all(clis.map((cli) => cli.exited))
  const sql = await connectSuperuser({ database })
  // A walsender outlives its client by a moment; its slot can be dropped only once it is gone.
  for (const name of made.splice(0)) {
    await untilInactive(sql, name)
    await sql.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '${name}'`)
    await sql.query(`DROP PUBLICATION IF EXISTS ${name}; DROP TABLE IF EXISTS ${name}`)
  }
  await sql.close()
  await Promise.all(connections.splice(0).map((c) => c.close()))
})

async function sqlConnection(): Promise<Connection> {
  const c = await connectSuperuser({ database })
  connections.push(c)
  return c
}

let serial = 0
/** A fresh table, a publication of it and a slot name, all the same name; dropped after the test. */
async function setup(sql: Connection, columns = 'id int PRIMARY KEY, note text'): Promise<string> {
  const name = `cli_repl_${process.pid}_${++serial}`
  made.push(name)
  await sql.query(`CREATE TABLE ${name} (${columns}); CREATE PUBLICATION ${name} FOR TABLE ${name}`)
  return name
}

/** `pglisten replicate` on the test server, once it says it is streaming. */
async function replicate(args: string[], env: Record<string, string> = {}): Promise<Running> {
  const { args: connection, env: password } = superuserArgs(database)
  const cli = startCli(['replicate', ...connection, ...args], { env: { ...password, ...env } })
  running.push(cli)
  await cli.stderrLine(/^pglisten: streaming /)
  return cli
}

/**
 * `pglisten replicate` sent SIGTERM while blocked on stdout inside a transaction of `rows` rows:
 * this process stops reading its stdout, and the transaction's lines (100 bytes of text a row,
 * about 750 kB for 3,000) cannot all fit in the pipe and this process's buffer.
 */
async function signalledInTransaction(rows: number): Promise<{ sql: Connection; name: string; cli: Running }> {
  const sql = await sqlConnection()
  const name = await setup(sql)
  const cli = await replicate(['--slot', name, '--publication', name, '--create'])
  cli.child.stdout!.pause()
  await sql.query(`INSERT INTO ${name} SELECT i, repeat('x', 100) FROM generate_series(1, ${rows}) i`)
  // Lines are waiting in this process's buffer: the command has begun the transaction.
  await until(() => cli.child.stdout!.readableLength >= 16_384, 'the transaction to be printed')
  cli.child.kill('SIGTERM')
  return { sql, name, cli }
}

interface Line {
  lsn: string
  xid: number
  commit_time: string
  commit_lsn: string
  relation: string
  op: string
  key: Record<string, unknown>
  row?: Record<string, unknown>
  old?: Record<string, unknown>
  [field: string]: unknown
}
const records = (lines: readonly string[]) => lines.map((line) => JSON.parse(line) as Line)
const ids = (lines: readonly string[]) => records(lines).map((r) => r.key['id'] as number)
const isoMillis = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/
const lsnText = /^[0-9A-F]+\/[0-9A-F]+$/
const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1)

describe.runIf(supported)('pglisten replicate', () => {
  test('inserts, updates and deletes as JSON lines in commit order; status on stderr; exit 0 on SIGTERM', async () => {
    const sql = await sqlConnection()
    const name = await setup(sql, 'id int PRIMARY KEY, note text, amount numeric, at timestamptz, data bytea')
    const cli = await replicate(['--slot', name, '--publication', name, '--create'])
    expect(cli.stderr[0]).toMatch(new RegExp(`^pglisten: connected to \\S+, database "${database}" as "${pg.superuser.user}"$`))
    // Where it really started: the new slot's consistent point.
    const from = /^pglisten: streaming slot "(\w+)" \(publication "(\w+)"\) from ([0-9A-F]+\/[0-9A-F]+)$/.exec(cli.stderr[1]!)
    expect(from?.slice(1, 3)).toEqual([name, name])
    const start = parseLsn(from![3]!)
    expect(start).toBeLessThanOrEqual(await confirmedFlush(sql, name))

    await sql.query(`INSERT INTO ${name} VALUES (1, 'one', 1.50, '2026-12-05 10:00:00+00', '\\x00ff'), (2, 'two', NULL, 'infinity', NULL)`)
    await sql.query(`BEGIN; UPDATE ${name} SET note = 'uno' WHERE id = 1; DELETE FROM ${name} WHERE id = 2; COMMIT`)
    await sql.query(`ALTER TABLE ${name} REPLICA IDENTITY FULL`)
    await sql.query(`UPDATE ${name} SET id = 3 WHERE id = 1`)
    await sql.query(`DELETE FROM ${name} WHERE id = 3`)
    const got = records(await cli.stdoutLines(6))

    const row1 = { id: 1, note: 'one', amount: '1.50', at: '2026-12-05 10:00:00+00', data: '\\x00ff' }
    expect(got.map(({ op, key, row, old }) => ({ op, key, row, old }))).toEqual([
      { op: 'insert', key: { id: 1 }, row: row1, old: undefined },
      { op: 'insert', key: { id: 2 }, row: { id: 2, note: 'two', amount: null, at: 'infinity', data: null }, old: undefined },
      { op: 'update', key: { id: 1 }, row: { ...row1, note: 'uno' }, old: undefined },
      { op: 'delete', key: { id: 2 }, row: undefined, old: undefined },
      // REPLICA IDENTITY FULL: the whole old row, and the key from it.
      { op: 'update', key: { ...row1, note: 'uno' }, row: { ...row1, id: 3, note: 'uno' }, old: { ...row1, note: 'uno' } },
      { op: 'delete', key: { ...row1, id: 3, note: 'uno' }, row: undefined, old: { ...row1, id: 3, note: 'uno' } },
    ])
    expect(Object.keys(got[0]!)).toEqual(['lsn', 'xid', 'commit_time', 'commit_lsn', 'seq', 'relation', 'op', 'key', 'row'])
    expect(Object.keys(got[3]!)).toEqual(['lsn', 'xid', 'commit_time', 'commit_lsn', 'seq', 'relation', 'op', 'key'])
    for (const r of got) {
      expect(r.relation).toBe(`public.${name}`)
      expect(r.commit_time).toMatch(isoMillis)
      expect(r.lsn).toMatch(lsnText)
      expect(parseLsn(r.lsn)).toBeLessThan(parseLsn(r.commit_lsn))
      expect(parseLsn(r.lsn)).toBeGreaterThanOrEqual(start)
    }
    // One transaction: one xid and commit; the next commits later.
    expect(got[2]!.xid).toBe(got[3]!.xid)
    expect(got[2]!.commit_lsn).toBe(got[3]!.commit_lsn)
    // Each change's place in its transaction: with commit_lsn, what to deduplicate by.
    expect(got.map((r) => r.seq)).toEqual([1, 2, 1, 2, 1, 1])
    expect(parseLsn(got[4]!.commit_lsn)).toBeGreaterThan(parseLsn(got[3]!.commit_lsn))

    cli.child.kill('SIGTERM')
    expect(await cli.exited).toEqual({ status: 0, signal: null })
    expect(cli.stdout).toHaveLength(6)
    // What it says it acknowledged is what the slot now has, and past the last line.
    const stopped = /^pglisten: stopped; acknowledged up to ([0-9A-F]+\/[0-9A-F]+), where a restart resumes$/.exec(cli.stderr.at(-1)!)
    expect(stopped).not.toBeNull()
    await untilInactive(sql, name)
    expect(await confirmedFlush(sql, name)).toBe(parseLsn(stopped![1]!))
    expect(parseLsn(stopped![1]!)).toBeGreaterThan(parseLsn(got[5]!.commit_lsn))
    expect(cli.stderr.join('\n')).not.toMatch(stackTrace)
  })

  test('values as JSON holds them, whatever the TZ: date and timestamp as text, int8 and numeric as text, bytea as hex, an unchanged TOAST value marked', async () => {
    const sql = await sqlConnection()
    const name = await setup(sql, 'id int PRIMARY KEY, day date, at timestamp, at_tz timestamptz, days date[], big int8, exact numeric, ratio float8, ok bool, doc jsonb, data bytea, tags text[], body text')
    // EXTERNAL: stored out of line, uncompressed, once the row is over ~2 kB; so a value to leave unchanged.
    await sql.query(`ALTER TABLE ${name} ALTER body SET STORAGE EXTERNAL`)
    // Fourteen hours east of UTC: a date read as local midnight would print as the day before.
    const cli = await replicate(['--slot', name, '--publication', name, '--create'], { TZ: 'Pacific/Kiritimati' })
    await sql.query(
      `INSERT INTO ${name} VALUES (1, '2026-12-05', '2026-12-05 00:30:00.123456', '2026-12-05 00:30:00.654321+00', '{2026-12-05,NULL}', ` +
        `9223372036854775807, 0.1, 'NaN', true, '{"a":[1,null]}', '\\x00ff', '{"a b",NULL}', repeat('x', 5000))`,
    )
    await sql.query(`UPDATE ${name} SET ok = false WHERE id = 1`)
    const [insert, update] = records(await cli.stdoutLines(2))
    const row = {
      id: 1,
      day: '2026-12-05',
      at: '2026-12-05 00:30:00.123456',
      at_tz: '2026-12-05 00:30:00.654321+00', // microseconds kept, in UTC whatever the server's TimeZone
      days: ['2026-12-05', null],
      big: '9223372036854775807',
      exact: '0.1',
      ratio: 'NaN',
      ok: true,
      doc: { a: [1, null] },
      data: '\\x00ff',
      tags: ['a b', null],
    }
    expect(insert!.row).toEqual({ ...row, body: 'x'.repeat(5000) })
    // The update left body alone, and pgoutput did not send it again: marked, not missing.
    expect(update!.row).toEqual({ ...row, ok: false, body: { unchanged_toast: true } })
    cli.child.kill('SIGTERM')
    expect((await cli.exited).status).toBe(0)
  })

  test('SIGTERM while a transaction is being printed: it is finished and reported; a restart prints only what came after', async () => {
    const rows = 3000
    const { sql, name, cli: first } = await signalledInTransaction(rows)
    await first.stderrLine(/^pglisten: stopping after transaction \d+, so that it is not printed again; signal again to stop at once$/)
    first.child.stdout!.resume()
    expect(await first.exited).toEqual({ status: 0, signal: null })
    expect(ids(first.stdout)).toEqual(oneTo(rows))

    await sql.query(`INSERT INTO ${name} VALUES (${rows + 1}, 'after'); INSERT INTO ${name} VALUES (${rows + 2}, 'after')`)
    const second = await replicate(['--slot', name, '--publication', name])
    expect(ids(await second.stdoutLines(2))).toEqual([rows + 1, rows + 2])
    // A SIGINT between transactions stops at once, and the next run repeats nothing either.
    second.child.kill('SIGINT')
    expect(await second.exited).toEqual({ status: 0, signal: null })
    expect(second.stdout).toHaveLength(2)

    await sql.query(`INSERT INTO ${name} VALUES (${rows + 3}, 'last')`)
    const third = await replicate(['--slot', name, '--publication', name])
    expect(ids(await third.stdoutLines(1))).toEqual([rows + 3])
    third.child.kill('SIGTERM')
    expect(await third.exited).toEqual({ status: 0, signal: null })
    expect(third.stdout).toHaveLength(1)
  })

  test('kill -9 with stdout blocked and lines in flight, then a restart: nothing lost; only what the slot had not confirmed comes again', async () => {
    const sql = await sqlConnection()
    const name = await setup(sql)
    // A short wal_sender_timeout makes the stream report what it acknowledged every half second.
    const env = { PGOPTIONS: '-c wal_sender_timeout=1500' }
    const first = await replicate(['--slot', name, '--publication', name, '--create'], env)
    for (let id = 1; id <= 20; id++) await sql.query(`INSERT INTO ${name} VALUES (${id}, 'before')`)
    const printed = records(await first.stdoutLines(20))
    // Reported while it runs: the slot confirms the last transaction printed.
    const last = parseLsn(printed.at(-1)!.commit_lsn)
    await until(async () => (await confirmedFlush(sql, name)) > last, 'the slot to confirm the changes printed')

    // Stdout blocked: this process stops reading, the pipe fills, and the command's writes
    // wait. Then 2,000 transactions of one row each (a DO block commits each).
    first.child.stdout!.pause()
    const total = 2020
    await sql.query(`DO $$ BEGIN FOR i IN 21..${total} LOOP INSERT INTO ${name} VALUES (i, repeat('y', 200)); COMMIT; END LOOP; END $$`)
    await until(() => first.child.stdout!.readableLength >= 16_384, 'the lines to fill this process\'s buffer')
    // A status update sent while blocked has reached the server: had the command acknowledged
    // a line before stdout took it, the slot would now confirm a transaction never printed.
    const [now] = await sql.query('SELECT clock_timestamp()')
    const blockedAt = now!.rows[0]![0]!
    await until(async () => {
      const [reply] = await sql.query(
        `SELECT r.reply_time > '${blockedAt}'::timestamptz FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = '${name}'`,
      )
      return reply!.rows[0]?.[0] === 't'
    }, 'a status update while stdout is blocked')
    first.child.kill('SIGKILL')
    // What reached the pipe before the kill is still read, to the end.
    first.child.stdout!.resume()
    expect(await first.exited).toEqual({ status: null, signal: 'SIGKILL' })
    await untilInactive(sql, name)
    const confirmed = await confirmedFlush(sql, name)
    const before = records(first.stdout)
    expect(before.length).toBeLessThan(total) // it was killed with changes to go

    const second = await replicate(['--slot', name, '--publication', name], env)
    // Commit order is id order here: the last insert's line is the last line to come.
    await until(() => second.stdout.some((line) => (JSON.parse(line) as Line).key['id'] === total), 'the last change after the restart')
    second.child.kill('SIGTERM')
    expect(await second.exited).toEqual({ status: 0, signal: null })
    const after = records(second.stdout)

    // Nothing lost: the first run printed a prefix, the second the rest, perhaps overlapping.
    expect(ids(first.stdout)).toEqual(oneTo(before.length))
    expect(after[0]!.key['id']).toBeLessThanOrEqual(before.length + 1)
    expect([...new Set([...ids(first.stdout), ...ids(second.stdout)])].sort((a, b) => a - b)).toEqual(oneTo(total))
    // Everything the slot confirmed was printed by the first run: the first transaction it did
    // not print commits at or after the confirmed position (the server skips one that commits
    // before it). And nothing the slot confirmed comes again.
    expect(parseLsn(after.find((r) => r.key['id'] === before.length + 1)!.commit_lsn)).toBeGreaterThanOrEqual(confirmed)
    for (const r of after) expect(parseLsn(r.commit_lsn)).toBeGreaterThanOrEqual(confirmed)
    // What comes again is the same line, byte for byte.
    const firstById = new Map(before.map((r) => [r.key['id'], JSON.stringify(r)]))
    for (const r of after) if (firstById.has(r.key['id'])) expect(JSON.stringify(r)).toBe(firstById.get(r.key['id']))
    // Each run in commit order.
    for (const run of [before, after]) for (let i = 1; i < run.length; i++) expect(parseLsn(run[i]!.commit_lsn)).toBeGreaterThan(parseLsn(run[i - 1]!.commit_lsn))
  })

  test('a walsender terminated mid-stream: said on stderr, reconnected, resumed from the slot with nothing lost', async () => {
    const sql = await sqlConnection()
    const name = await setup(sql)
    const cli = await replicate(['--slot', name, '--publication', name, '--create', '--reconnect-delay', '0.05,0.2'])
    await sql.query(`INSERT INTO ${name} VALUES (1, 'before')`)
    await cli.stdoutLines(1)
    await sql.query(`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '${name}'`)
    await cli.stderrLine(/^pglisten: connection lost: .*; reconnecting \(attempt 1\) to resume from [0-9A-F]+\/[0-9A-F]+$/)
    await sql.query(`INSERT INTO ${name} VALUES (2, 'after')`)
    // Line 1 may come again (if the slot had not been told of it); line 2 comes, once.
    await until(() => ids(cli.stdout).includes(2), 'the change made after the reconnect')
    expect(ids(cli.stdout).filter((id) => id !== 1)).toEqual([2])
    cli.child.kill('SIGTERM')
    expect(await cli.exited).toEqual({ status: 0, signal: null })
  })

  test('--messages prints pg_logical_emit_message, in or out of a transaction, text or not; --trace traces the stream', async () => {
    const sql = await sqlConnection()
    const name = await setup(sql)
    const cli = await replicate(['--slot', name, '--publication', name, '--create', '--messages', '--trace'])
    expect(cli.stderr.some((line) => /\tF\t\d+\tQuery\t "START_REPLICATION SLOT/.test(line))).toBe(true)
    await sql.query(`BEGIN; INSERT INTO ${name} VALUES (1, 'with a message'); SELECT pg_logical_emit_message(true, 'jobs', '{"job":42} ✓'); COMMIT`)
    await sql.query(`SELECT pg_logical_emit_message(false, 'audit', 'not in a transaction')`)
    await sql.query(`SELECT pg_logical_emit_message(true, 'bin', '\\xff00'::bytea)`)
    const [insert, jobs, audit, bin] = records(await cli.stdoutLines(4))

    expect(insert).toMatchObject({ op: 'insert', key: { id: 1 } })
    expect(Object.keys(jobs!)).toEqual(['lsn', 'xid', 'commit_time', 'commit_lsn', 'seq', 'op', 'transactional', 'prefix', 'content'])
    expect(jobs).toMatchObject({ op: 'message', transactional: true, prefix: 'jobs', content: '{"job":42} ✓', xid: insert!.xid, commit_lsn: insert!.commit_lsn })
    expect(audit).toEqual({ lsn: expect.stringMatching(lsnText), op: 'message', transactional: false, prefix: 'audit', content: 'not in a transaction' })
    expect(bin).toMatchObject({ op: 'message', transactional: true, prefix: 'bin', content_base64: '/wA=' })
    expect(bin).not.toHaveProperty('content')
    // The replication messages inside the copy are traced by their fields, as the other commands' are.
    expect(cli.stderr.some((line) => /\tB\t\d+\tCopyData\t.*XLogData/.test(line))).toBe(true)

    cli.child.kill('SIGTERM')
    expect((await cli.exited).status).toBe(0)
  })

  test('without --messages, messages are not printed', async () => {
    const sql = await sqlConnection()
    const name = await setup(sql)
    const cli = await replicate(['--slot', name, '--publication', name, '--create'])
    await sql.query(`SELECT pg_logical_emit_message(true, 'jobs', 'unseen'); INSERT INTO ${name} VALUES (1, 'seen')`)
    expect(ids(await cli.stdoutLines(1))).toEqual([1])
    cli.child.kill('SIGTERM')
    expect((await cli.exited).status).toBe(0)
    expect(cli.stdout).toHaveLength(1)
  })

  test('stdout closed by its reader (| head -1): status 0, and the line not written is not acknowledged', async () => {
    const sql = await sqlConnection()
    const name = await setup(sql)
    const cli = await replicate(['--slot', name, '--publication', name, '--create'])
    await sql.query(`INSERT INTO ${name} VALUES (1, 'read')`)
    await cli.stdoutLines(1)
    cli.child.stdout!.destroy() // the reader goes: the next write fails with EPIPE
    await sql.query(`INSERT INTO ${name} VALUES (2, 'never read')`)
    expect(await cli.exited).toEqual({ status: 0, signal: null })
    expect(cli.stderr.join('\n')).not.toMatch(stackTrace)
    expect(cli.stderr.at(-1)).toMatch(/^pglisten: stopped; acknowledged up to /)
    // The slot still has the row whose line no one read, and only that.
    const again = await replicate(['--slot', name, '--publication', name])
    expect(ids(await again.stdoutLines(1))).toEqual([2])
    again.child.kill('SIGTERM')
    expect((await again.exited).status).toBe(0)
  })

  test('a second signal while stdout is blocked mid-transaction stops at once: status 0, the line not taken not acknowledged', async () => {
    const rows = 3000
    const { name, cli: first } = await signalledInTransaction(rows)
    await first.stderrLine(/^pglisten: stopping after transaction \d+/)
    // Stdout stays blocked: the second signal must not wait for it (before, it took a third).
    first.child.kill('SIGTERM')
    const exited = await Promise.race([first.exited, new Promise<'still running'>((resolve) => setTimeout(resolve, 15_000, 'still running'))])
    expect(exited).toEqual({ status: 0, signal: null })
    await first.stderrLine(/^pglisten: stopped; acknowledged up to /)
    // The transaction was never finished, so nothing of it was acknowledged: it all comes again.
    first.child.stdout!.resume()
    const again = await replicate(['--slot', name, '--publication', name])
    expect(ids(await again.stdoutLines(rows))).toEqual(oneTo(rows))
    again.child.kill('SIGTERM')
    expect((await again.exited).status).toBe(0)
  })

  // Found by review: stopping at once left by process.exit(), which dropped what stderr had not
  // yet taken, the "stopped" line among it; listen waits for stderr, and so does replicate now.
  test('a second signal while stdout and stderr are both blocked: stderr still gets every line, "stopped" last', async () => {
    const sql = await sqlConnection()
    const name = await setup(sql)
    const cli = await replicate(['--trace', '--slot', name, '--publication', name, '--create'])
    cli.child.stdout!.pause()
    cli.child.stderr!.pause() // --trace's line per XLogData, hundreds of kB, wait in the command
    await sql.query(`INSERT INTO ${name} SELECT i, repeat('x', 100) FROM generate_series(1, 3000) i`)
    await until(() => cli.child.stdout!.readableLength >= 16_384, 'the transaction to be printed')
    cli.child.kill('SIGTERM')
    await new Promise((r) => setTimeout(r, 300))
    cli.child.kill('SIGTERM')
    await new Promise((r) => setTimeout(r, 500))
    cli.child.stderr!.resume()
    expect(await cli.exited).toEqual({ status: 0, signal: null })
    expect(cli.stderr.filter((line) => line.startsWith('pglisten: ')).slice(-2)).toEqual([
      expect.stringMatching(/^pglisten: stopping after transaction \d+/),
      expect.stringMatching(/^pglisten: stopped; acknowledged up to /),
    ])
  })

  test('one signal while a message outside any transaction is being written lets it finish and be acknowledged', async () => {
    const sql = await sqlConnection()
    const name = await setup(sql)
    const cli = await replicate(['--slot', name, '--publication', name, '--create', '--messages'])
    cli.child.stdout!.pause()
    // A 2 MB line: more than the pipe and this process's buffer take, so the write waits.
    await sql.query(`SELECT pg_logical_emit_message(false, 'big', repeat('x', 2000000))`)
    await until(() => cli.child.stdout!.readableLength >= 16_384, 'the line to be written')
    cli.child.kill('SIGTERM')
    await cli.stderrLine(/^pglisten: stopping after the line being written, so that it is not printed again; signal again to stop at once$/)
    cli.child.stdout!.resume()
    expect(await cli.exited).toEqual({ status: 0, signal: null })
    expect(records(cli.stdout).map((r) => [r.op, r.prefix, (r.content as string).length])).toEqual([['message', 'big', 2_000_000]])
    // Acknowledged: a restart does not print it again.
    await sql.query(`INSERT INTO ${name} VALUES (1, 'after')`)
    const again = await replicate(['--slot', name, '--publication', name, '--messages'])
    expect(records(await again.stdoutLines(1)).map((r) => r.op)).toEqual(['insert'])
    again.child.kill('SIGTERM')
    expect((await again.exited).status).toBe(0)
    expect(again.stdout).toHaveLength(1)
  })

  test('stdout that fails (a full disk: /dev/full): status 1 and why, nothing acknowledged', async () => {
    const sql = await sqlConnection()
    const name = await setup(sql)
    const { args, env } = superuserArgs(database)
    const full = openSync('/dev/full', 'w')
    const child = spawn(process.execPath, [mainJs, 'replicate', ...args, '--slot', name, '--publication', name, '--create'], { env: cliEnv(env), stdio: ['ignore', full, 'pipe'] })
    closeSync(full)
    let stderr = ''
    child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text))
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
    await until(() => stderr.includes('pglisten: streaming '), 'the stream to start')
    await sql.query(`INSERT INTO ${name} VALUES (1, 'lost to a full disk')`)
    expect(await exited).toBe(1)
    expect(stderr).toMatch(/^pglisten: cannot write to standard output: .*ENOSPC/m)
    expect(stderr).not.toMatch(stackTrace)
    // The slot still has the change: a run with somewhere to write prints it.
    const again = await replicate(['--slot', name, '--publication', name])
    expect(ids(await again.stdoutLines(1))).toEqual([1])
    again.child.kill('SIGTERM')
    expect((await again.exited).status).toBe(0)
  })

  test('a slot that does not exist, without --create: status 1 and why, one line', async () => {
    const sql = await sqlConnection()
    const name = await setup(sql)
    const { args, env } = superuserArgs(database)
    const result = await runCli(['replicate', ...args, '--slot', name, '--publication', name], { env })
    expect(result.status).toBe(1)
    expect(result.stdout).toBe('')
    expect(result.stderr).toMatch(new RegExp(`^pglisten: replication slot "${name}" does not exist[^\\n]*\\n$`))
  })

  test('a publication that does not exist: status 1, named, before any slot is made', async () => {
    const sql = await sqlConnection()
    const name = await setup(sql)
    const { args, env } = superuserArgs(database)
    const result = await runCli(['replicate', ...args, '--slot', name, '--publication', `${name}_absent`, '--create'], { env })
    expect(result.status).toBe(1)
    expect(result.stdout).toBe('')
    expect(result.stderr).toBe(`pglisten: publication ${name}_absent does not exist in this database; create it (CREATE PUBLICATION) or leave it out of publications\n`)
    const [slots] = await sql.query(`SELECT count(*) FROM pg_replication_slots WHERE slot_name = '${name}'`)
    expect(slots!.rows[0]![0]).toBe('0')
  })

  test('--temporary: a slot of its own, gone when the command ends', async () => {
    const sql = await sqlConnection()
    const name = await setup(sql)
    const cli = await replicate(['--slot', name, '--publication', name, '--temporary'])
    expect(cli.stderr[1]).toMatch(new RegExp(`^pglisten: streaming temporary slot "${name}" \\(publication "${name}"\\) from [0-9A-F]+/[0-9A-F]+$`))
    await sql.query(`INSERT INTO ${name} VALUES (1, 'one')`)
    expect(ids(await cli.stdoutLines(1))).toEqual([1])
    cli.child.kill('SIGTERM')
    expect(await cli.exited).toEqual({ status: 0, signal: null })
    expect(cli.stderr.at(-1)).toBe('pglisten: stopped; the temporary slot went with the connection')
    await untilInactive(sql, name)
    const [left] = await sql.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = '${name}'`)
    expect(left!.rows).toHaveLength(0)
  })
})

describe('pglisten replicate, refused before connecting', () => {
  test('a bad --start is a usage error: status 2, the option named, the help suggested', async () => {
    const result = await runCli(['replicate', '--slot', 's', '--publication', 'p', '--start', '0/xyz'])
    expect(result).toMatchObject({ status: 2, stdout: '' })
    expect(result.stderr).toBe('pglisten: --start takes an LSN, two hex numbers as in 16/B374D848, not "0/xyz"\nTry "pglisten replicate --help" for more information.\n')
  })

  test('--help prints the command\'s help, laid out as the other commands\' are', async () => {
    const result = await runCli(['replicate', '--help'])
    expect(result).toMatchObject({ status: 0, stderr: '' })
    expect(result.stdout.split('\n')[0]).toBe("pglisten replicate: print a replication slot's changes as JSON lines.")
    expect(result.stdout).toContain('Usage:\n  pglisten replicate ')
    expect(result.stdout).toContain('-h, --host=HOSTNAME')
  })
})
