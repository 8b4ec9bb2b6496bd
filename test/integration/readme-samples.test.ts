/**
 * The README's output samples, found in README.md and run as written: `npm run demo` (which
 * starts a throwaway server of its own), and against the real server the command line's
 * `replicate` session (its psql lines, the command, the other terminal's psql,
 * the stop line and the slot's removal), the `--trace` sample and both `bench` tables. The
 * connection comes from PG* variables, as a user's shell gives it (the README's commands name
 * none). What each prints must have the shape the README shows: the same lines, fields and
 * columns, in the same order, but for what differs from run to run (addresses, LSNs, xids,
 * times, process IDs, nonces, and the figures a bench measures).
 */
import { spawn } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { Connection } from '../../src/protocol/io/connection.ts'
import { connectSuperuser, databaseOfItsOwn, eventually, server } from '../support/connect.ts'
import { ensureBuilt, runCli, stackTrace, startCli, type Running } from '../support/cli.ts'
import { blockAfter, inlineCode, section, shellWords, theBlock } from '../support/readme.ts'

beforeAll(ensureBuilt, 120_000)

const pg = server()
/** NOTIFY and publications stay in their database: the README's names meet no other test's here. */
const database = databaseOfItsOwn('readme_cli')
const commandLine = () => section('## The command line')

/** The README's commands take their connection from the environment: this server's superuser. */
function superuserEnv(): Record<string, string> {
  const env: Record<string, string> = { PGHOST: pg.host, PGPORT: String(pg.port), PGUSER: pg.superuser.user, PGDATABASE: database }
  if (pg.superuser.password !== undefined) env['PGPASSWORD'] = pg.superuser.password
  return env
}

/** The words of a README command that must be `program ...`: the rest of them. */
function argsOf(command: string, program: string): string[] {
  const [first, ...rest] = shellWords(command)
  expect(first, command).toBe(program)
  return rest
}

/** `psql -c SQL [-c SQL]...` as psql runs it: each -c on its own, committed before the next. */
async function psql(command: string): Promise<void> {
  const args = argsOf(command, 'psql')
  const sql = await connectSuperuser({ database })
  try {
    for (let i = 0; i < args.length; i += 2) {
      if (args[i] !== '-c' || args[i + 1] === undefined) throw new Error(`the test runs psql's -c SQL only, not: ${command}`)
      await sql.query(args[i + 1]!)
    }
  } finally {
    await sql.close()
  }
}

const lsn = /\b[0-9A-F]{1,8}\/[0-9A-F]{1,8}\b/g
const isoMillis = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

/** A `replicate` stderr line, with the server, database, user and LSNs named rather than given. */
function statusShape(line: string): string {
  return line.replace(/^pglisten: connected to \S+, database "[^"]*" as "[^"]*"$/, 'pglisten: connected to SERVER, database "DATABASE" as "USER"').replace(lsn, 'LSN')
}

/** A `replicate` stdout line: its fields in order, with what varies replaced by its kind. */
function changeShape(line: string): [string, unknown][] {
  return Object.entries(JSON.parse(line) as Record<string, unknown>).map(([field, value]): [string, unknown] => {
    if (field === 'lsn' || field === 'commit_lsn') return [field, typeof value === 'string' && value.replace(lsn, 'LSN')]
    if (field === 'xid') return [field, Number.isInteger(value) ? 'XID' : value]
    if (field === 'commit_time') return [field, typeof value === 'string' && isoMillis.test(value) ? 'TIME' : value]
    return [field, value]
  })
}

describe.runIf((pg.serverVersion ?? 180000) >= 140000)('the README\'s replicate session', () => {
  const running: Running[] = []
  afterAll(() => {
    for (const cli of running) if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL')
  })

  test('its psql lines, `pglisten replicate` as written, the other terminal\'s psql: the lines shown; then the stop line, and the slot dropped as the README drops it', async () => {
    const text = commandLine()
    const commands = theBlock(text, 'commands with `pglisten replicate`', (b) => b.language === 'sh' && b.lines.some((l) => l.startsWith('pglisten replicate ')) && !b.lines.some((l) => l.includes('[OPTION]')))
    const shown = blockAfter(text, commands)
    const [otherTerminal, ...more] = inlineCode(shown.before, 'psql ')
    expect(otherTerminal, 'the psql "from another terminal" before the replicate output').toBeDefined()
    expect(more).toEqual([])

    let cli: Running | undefined
    for (const line of commands.lines) {
      if (line.startsWith('psql ')) await psql(line)
      else running.push((cli = startCli(argsOf(line, 'pglisten'), { env: superuserEnv() })))
    }
    expect(cli, 'a pglisten line among the commands').toBeDefined()
    await cli!.stderrLine(/^pglisten: streaming /)
    await psql(otherTerminal!)

    const shownChanges = shown.lines.filter((line) => line.startsWith('{'))
    const shownStatus = shown.lines.filter((line) => !line.startsWith('{'))
    expect(shownChanges.length).toBeGreaterThan(0)
    const printed = await cli!.stdoutLines(shownChanges.length)
    expect(printed.map(changeShape)).toEqual(shownChanges.map(changeShape))
    expect(cli!.stderr.slice(0, shownStatus.length).map(statusShape)).toEqual(shownStatus.map(statusShape))
    expect(cli!.stderr[0]).toBe(`pglisten: connected to ${pg.host}:${pg.port}, database "${database}" as "${pg.superuser.user}"`)

    // "Ctrl-C or SIGTERM ... exits 0 (`pglisten: stopped; acknowledged up to ...`)"
    const [stopped] = inlineCode(text, 'pglisten: stopped;')
    expect(stopped).toBeDefined()
    cli!.child.kill('SIGTERM')
    expect(await cli!.exited).toEqual({ status: 0, signal: null })
    expect(cli!.stdout).toHaveLength(shownChanges.length)
    expect(statusShape(cli!.stderr.at(-1)!)).toBe(statusShape(stopped!))
    expect(cli!.stderr.join('\n')).not.toMatch(stackTrace)

    // "drop one you no longer use, `SELECT pg_drop_replication_slot('orders_cli')`"
    const [drop, ...others] = inlineCode(text, 'SELECT pg_drop_replication_slot(')
    expect(others).toEqual([])
    const slot = /'(\w+)'/.exec(drop!)![1]!
    expect(commands.lines.join('\n')).toContain(`--slot ${slot} `)
    const sql = await connectSuperuser({ database })
    try {
      // A walsender outlives its client by a moment; its slot can be dropped only once it is gone.
      const active = `SELECT count(*) FROM pg_replication_slots WHERE slot_name = '${slot}' AND active`
      await eventually(async () => (await sql.query(active))[0]!.rows[0]![0] === '0', 10_000)
      await sql.query(drop!)
      const [left] = await sql.query(`SELECT count(*) FROM pg_replication_slots WHERE slot_name = '${slot}'`)
      expect(left!.rows[0]![0]).toBe('0')
    } finally {
      await sql.close()
    }
  }, 40_000)
})

/** A trace line: "<time>\t<F|B>\t<length>\t<name>\t <fields>", with what varies replaced by its kind. */
const traceLine = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\t[FB]\t\d+\t[A-Za-z]+(\t .*)?$/
function traceShape(line: string): string {
  return line
    .replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\t/, 'TIME\t')
    .replace(/\br=[A-Za-z0-9+/]+/g, 'r=NONCE') // the client's nonce, or the client's and the server's
    .replace(/\bs=[A-Za-z0-9+/]+=*/, 's=SALT')
    // The channel binding: its GS2 header as text, then the server certificate's hash (RFC 5929 4.1), whose length is kept.
    .replace(/\bc=([A-Za-z0-9+/]+=*)/, (_, base64: string) => {
      const bound = Buffer.from(base64, 'base64')
      const header = bound.subarray(0, bound.indexOf(',,') + 2).toString('latin1')
      return `c=base64(${header} + ${bound.length - header.length} bytes)`
    })
    .replace(/(\tNotificationResponse\t )\d+ /, '$1PID ')
}

/** Each of `wanted` in `lines`, in order, other lines between them allowed: the index of each. */
function inOrder(lines: string[], wanted: string[]): number[] {
  const found: number[] = []
  let from = 0
  for (const line of wanted) {
    const at = lines.indexOf(line, from)
    if (at === -1) throw new Error(`not found in order: ${line}\namong:\n${lines.join('\n')}`)
    found.push(at)
    from = at + 1
  }
  return found
}

describe.skipIf(!pg.users || !pg.tls)('the README\'s --trace sample', () => {
  test('`pglisten listen --trace` over TLS with SCRAM, and the notify it names: the three lines shown are among its lines, in order', async () => {
    const text = commandLine()
    const sample = theBlock(text, 'trace lines', (b) => b.lines.every((line) => traceLine.test(line)))
    const [listen, ...moreListens] = inlineCode(sample.before, 'pglisten listen ')
    const [notify, ...moreNotifies] = inlineCode(sample.before, 'pglisten notify ')
    expect([listen, notify].every(Boolean), 'the listen and notify commands the sample comes from').toBe(true)
    expect([...moreListens, ...moreNotifies]).toEqual([])

    // "SCRAM over TLS": the role that authenticates with SCRAM, and TLS (channel binding comes with it).
    const scram = pg.users!.scram
    const env = { PGHOST: pg.host, PGPORT: String(pg.port), PGUSER: scram.user, PGPASSWORD: scram.password!, PGDATABASE: database, PGSSLMODE: 'require' }
    const cli = startCli(argsOf(listen!, 'pglisten'), { env })
    try {
      await cli.stderrLine(/^pglisten: listening on /)
      const sent = await runCli(argsOf(notify!, 'pglisten'), { env })
      expect(sent.status, sent.stderr).toBe(0)
      await cli.stdoutLines(1)
      await cli.stderrLine(/\tNotificationResponse\t/)
    } finally {
      cli.child.kill('SIGTERM')
    }
    expect((await cli.exited).status).toBe(0)
    const traced = cli.stderr.filter((line) => traceLine.test(line))
    inOrder(traced.map(traceShape), sample.lines.map(traceShape))
    expect(cli.stderr.join('\n')).not.toContain(scram.password!)
  }, 30_000)
})

/**
 * A bench table's shape: the header's cells as they are; the separator's columns; in each row
 * the payload size and `lost` as they are, and every figure as its kind (an integer, or a number
 * with so many decimals). And the columns line up: every line has its `|` (the separator its `+`)
 * where the header has them.
 */
function tableShape(lines: string[]): string[] {
  const header = lines[0]!.split('|').map((cell) => cell.trim())
  const columns = (line: string) => [...line].flatMap((c, i) => (c === '|' || c === '+' ? [i] : []))
  for (const line of lines) expect(columns(line), line).toEqual(columns(lines[0]!))
  const kept = new Set(['payload', 'lost'])
  const figure = (cell: string) => cell.replace(/\d+(\.\d+)?/g, (_, decimals: string | undefined) => (decimals ? `N.${'d'.repeat(decimals.length - 1)}` : 'N'))
  return lines.map((line, row) => {
    if (row === 0) return header.join(' | ')
    if (/^-+(\+-+)*$/.test(line)) return `separator of ${line.split('+').length} columns`
    return line.split('|').map((cell, column) => (kept.has(header[column]!) ? cell.trim() : figure(cell.trim()))).join(' | ')
  })
}

/** The README's bench table headed by `head`: the command named just before it, run as written; the table it prints has the shape shown. */
async function benchTable(what: string, head: RegExp): Promise<void> {
  const text = commandLine()
  const sample = theBlock(text, `a bench table (${what})`, (b) => head.test(b.lines[0]!))
  const commands = inlineCode(sample.before, 'pglisten bench ')
  expect(commands, 'the command the table comes from, named just before it').toHaveLength(1)
  const result = await runCli(argsOf(commands[0]!, 'pglisten'), { env: superuserEnv() })
  expect(result.status, result.stderr).toBe(0)
  const lines = result.stdout.split('\n')
  const at = lines.findIndex((line) => head.test(line))
  expect(at, result.stdout).toBeGreaterThanOrEqual(0)
  expect(tableShape(lines.slice(at, at + sample.lines.length))).toEqual(tableShape(sample.lines))
  // Nothing more in the table than the README shows.
  expect(lines[at + sample.lines.length] ?? '').not.toMatch(/\|/)
}

describe('the README\'s bench tables', () => {
  test('notifications: the command the README names, run as written, prints a table of the shape shown', () => benchTable('notifications', /^ payload \| sent /), 60_000)

  test.runIf((pg.serverVersion ?? 180000) >= 140000)('--replication: the command the README names, run as written, prints a table of the shape shown', () =>
    benchTable('--replication', /^ payload \| +rows +\| changes\/s /), 60_000)
})

/** A demo line, with what varies from run to run (times, the server's minor version) replaced by its kind. */
function demoShape(line: string): string {
  return line
    .replace(/ in \d+ ms\b/g, ' in N ms')
    .replace(/^ {2}\+ *\d+ ms {2}/, '  + N ms  ')
    .replace(/^PostgreSQL \d+\.\d+,/, 'PostgreSQL N.N,')
}

describe('the README\'s demo', () => {
  test('`npm run demo`, run as written: the lines shown, "..." standing for the changes left out', async () => {
    const text = section('## Two commands')
    const commands = theBlock(text, 'the two commands', (b) => b.language === 'sh' && b.lines.some((l) => l.startsWith('npm run demo')))
    const demo = commands.lines.find((line) => line.startsWith('npm run demo'))!.replace(/ +#.*$/, '')
    const words = shellWords(demo)
    expect(words).toEqual(['npm', 'run', 'demo'])
    const sample = blockAfter(text, commands)

    // Nothing of this machine's PostgreSQL settings: the demo starts and uses its own server.
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('PG') || name.startsWith('PGLISTEN_')))
    const run = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(words[0]!, words.slice(1), { cwd: fileURLToPath(new URL('../..', import.meta.url)), env: { ...env, PGPASSFILE: '/nonexistent' }, stdio: ['ignore', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t))
      child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t))
      child.on('error', reject)
      child.on('close', (status) => resolve({ status, stdout, stderr }))
    })
    expect(run.status, run.stderr).toBe(0)
    // npm's own echo of the script ("> pglisten@0.1.0 demo", "> tsx scripts/demo.ts") comes first.
    const printed = run.stdout.split('\n')
    while (printed[0] === '' || printed[0]?.startsWith('> ')) printed.shift()
    while (printed.at(-1) === '') printed.pop()
    // The first line is the demo's stderr (the server starting), the rest its stdout.
    const lines = [...run.stderr.trimEnd().split('\n'), ...printed]
    const elided = sample.lines.indexOf('  ...')
    expect(elided, 'the sample\'s "..."').toBeGreaterThan(0)
    const head = sample.lines.slice(0, elided)
    const tail = sample.lines.slice(elided + 1)
    expect(lines.slice(0, head.length).map(demoShape)).toEqual(head.map(demoShape))
    expect(lines.slice(-tail.length).map(demoShape)).toEqual(tail.map(demoShape))
    expect(lines.length).toBeGreaterThan(head.length + tail.length)
  }, 90_000)
})

describe.skipIf(!pg.users)('the README\'s one-line samples of the command line', () => {
  test('listen\'s stdout line: the fields shown, in order, for `pglisten listen jobs` and a NOTIFY of 42 on jobs', async () => {
    const [shown, ...more] = inlineCode(commandLine(), '{"channel":')
    expect(more).toEqual([])
    const sample = JSON.parse(shown!) as { channel: string; payload: string }
    const cli = startCli(['listen', sample.channel], { env: superuserEnv() })
    try {
      await cli.stderrLine(/^pglisten: listening on /)
      const sent = await runCli(['notify', sample.channel, sample.payload], { env: superuserEnv() })
      expect(sent.status, sent.stderr).toBe(0)
      const [line] = await cli.stdoutLines(1)
      const shape = (text: string) =>
        Object.entries(JSON.parse(text) as Record<string, unknown>).map(([field, value]) =>
          field === 'pid' ? [field, Number.isInteger(value)] : field === 'received_at' ? [field, isoMillis.test(String(value))] : [field, value])
      expect(shape(line!)).toEqual(shape(shown!))
    } finally {
      cli.child.kill('SIGTERM')
    }
    expect((await cli.exited).status).toBe(0)
  })

  test('a refused password: the one error line shown, but for the user\'s name', async () => {
    const [shown, ...more] = inlineCode(commandLine(), 'pglisten: FATAL: password authentication failed')
    expect(more).toEqual([])
    const scram = pg.users!.scram
    const env = { PGHOST: pg.host, PGPORT: String(pg.port), PGUSER: scram.user, PGDATABASE: database, PGPASSWORD: 'not-the-password-in-test' }
    const result = await runCli(['notify', 'jobs', '42'], { env })
    expect(result.status).toBe(1)
    const user = (line: string) => line.replace(/for user "[^"]*"/, 'for user "USER"')
    expect(result.stderr.trimEnd().split('\n').map(user)).toEqual([user(shown!)])
  })

  test('a password file others can read: the one warning line shown, but for the file\'s name, before the error', async () => {
    const [shown, ...more] = inlineCode(commandLine(), 'pglisten: WARNING: password file')
    expect(more).toEqual([])
    const folder = mkdtempSync(join(tmpdir(), 'pglisten-readme-pgpass-'))
    try {
      const passfile = join(folder, 'pgpass')
      writeFileSync(passfile, `*:*:*:${pg.users!.scram.user}:secret-in-test\n`)
      chmodSync(passfile, 0o644)
      const env = { PGHOST: pg.host, PGPORT: String(pg.port), PGUSER: pg.users!.scram.user, PGDATABASE: database, PGPASSFILE: passfile }
      const result = await runCli(['notify', 'jobs', '42'], { env })
      expect(result.status).toBe(1)
      const lines = result.stderr.trimEnd().split('\n')
      const file = (line: string) => line.replace(/password file "[^"]*"/, 'password file "PATH"')
      expect(lines).toHaveLength(2)
      expect(file(lines[0]!)).toBe(file(shown!))
      expect(lines[1]).toMatch(/^pglisten: /)
    } finally {
      rmSync(folder, { recursive: true, force: true })
    }
  })
})
