/**
 * What `pglisten` writes to a terminal holds nothing the terminal would act on, whoever wrote
 * it: a real server made to send hostile text (a WARNING at login, a FATAL that echoes a
 * setting, a database whose name is an escape sequence) and hostile arguments. Each control
 * character must come out as its escape (src/cli/terminal.ts): ESC as \u001b, CSI (U+009B) as
 * \u009b, BEL, backspace and CR, and the line separator U+2028; letters beyond ASCII as they are.
 */
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeAll, describe, expect, test } from 'vitest'
import { quoteIdentifier, quoteLiteral } from '../../src/protocol/quote.ts'
import { connectSuperuser, server } from '../support/connect.ts'
import { ensureBuilt, runCli, startCli, superuserArgs, type Running } from '../support/cli.ts'
import { uniqueChannel } from '../support/listener.ts'

beforeAll(ensureBuilt, 120_000)

/**
 * Clears the screen, sets the window title (OSC ... BEL), turns the text red by CSI, backs up
 * over what came before and returns to the line's start, as an attacker would; then letters
 * that must stay as they are. 31 bytes in UTF-8: a database name may have 63.
 */
const hostile = '\u001b[2J\u001b]0;x\u0007\u009b31m\b\rforged\u2028ü日本'
/** `hostile` as it must be shown, written out by hand rather than by the code under test. */
const shown = '\\u001b[2J\\u001b]0;x\\u0007\\u009b31m\\b\\rforged\\u2028ü日本'
/** `hostile` in an error's line, where a line break (CR too) was a space before it was escaped (errors.ts, describeError). */
const shownInError = '\\u001b[2J\\u001b]0;x\\u0007\\u009b31m\\b forged\\u2028ü日本'

/** Every control character (C0 but the newline that ends each line, DEL, C1) and U+2028/U+2029. */
const rawControl = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/

const running: Running[] = []
/** Databases a test made, dropped after it whether it passed or not. */
const databases: string[] = []
afterEach(async () => {
  const clis = running.splice(0)
  for (const cli of clis) if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL')
  await Promise.all(clis.map((cli) => cli.exited))
  const admin = await connectSuperuser()
  try {
    for (const name of databases.splice(0)) await admin.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`)
  } finally {
    await admin.close()
  }
})

let serial = 0
/** A database of the test's own, its name beginning with `hostile`, made to `settings` (ALTER DATABASE ... SET). */
async function hostileDatabase(settings: Record<string, string> = {}): Promise<string> {
  const name = `${hostile}_${process.pid}_${++serial}`
  expect(Buffer.byteLength(name)).toBeLessThan(64) // NAMEDATALEN: longer would be truncated
  const admin = await connectSuperuser()
  try {
    await admin.query(`CREATE DATABASE ${quoteIdentifier(name)}`)
    databases.push(name)
    for (const [setting, value] of Object.entries(settings)) await admin.query(`ALTER DATABASE ${quoteIdentifier(name)} SET ${setting} = ${quoteLiteral(value)}`)
  } finally {
    await admin.close()
  }
  return name
}

/** stderr shows `hostile` only escaped, as `form`, and nothing raw. */
function expectEscaped(stderr: string, form: string): void {
  expect(stderr).toContain(form)
  expect(stderr).not.toMatch(rawControl)
  expect(stderr).not.toContain('forged\n') // neither U+2028 nor anything else began a line of the server's
}

describe('server text on stderr', () => {
  test("listen: the database's name, a WARNING at login, and a failed reconnect's FATAL are escaped", async () => {
    // A role that does not exist as the database's setting: every login to it gets
    // WARNING: role "<the value>" does not exist (guc.c, call_string_check_hook).
    const database = await hostileDatabase({ role: `${hostile}\nsecond line` })
    const { args, env } = superuserArgs(database)
    // Two attempts: the DROP below may come within the 10 ms the reconnect waited, so soon that
    // the listener counts that connection's loss as a failed attempt (the backoff starts over
    // only after a connection that stayed up as long as the wait before it); one attempt more
    // then meets the FATAL, whichever way the timing falls.
    const cli = startCli(['listen', ...args, '--reconnect-delay', '0.01', '--max-attempts', '2', uniqueChannel('esc')], { env })
    running.push(cli)
    await cli.stderrLine(/^pglisten: listening on /)
    const connected = await cli.stderrLine(/^pglisten: connected to /)
    expect(connected).toContain(`database "${shown}_`)
    // The first login's WARNING is shown, before the line that says it connected.
    const warning = `pglisten: WARNING: role "${shown}\\nsecond line" does not exist`
    expect(cli.stderr.indexOf(warning)).toBeGreaterThanOrEqual(0)
    expect(cli.stderr.indexOf(warning)).toBeLessThan(cli.stderr.indexOf(connected))

    // A later login's too: end the backend, and the listener logs in again.
    const admin = await connectSuperuser()
    try {
      const pid = /\(backend pid (\d+)\)$/.exec(connected)![1]!
      await admin.query(`SELECT pg_terminate_backend(${pid})`)
      await cli.stderrLine(/^pglisten: reconnected /)
      expect(cli.stderr.filter((line) => line === warning)).toHaveLength(2)
      // Gone while listening: the attempt to reconnect is refused with its name in the FATAL.
      await admin.query(`DROP DATABASE ${quoteIdentifier(database)} WITH (FORCE)`)
    } finally {
      await admin.close()
    }
    expect(await cli.stderrLine(/^pglisten: reconnect attempt [12] failed: /)).toContain(`database "${shownInError}_`)
    expect((await cli.exited).status).toBe(1)
    expectEscaped(cli.stderr.join('\n'), shown)
  })

  test("notify: an ErrorResponse whose message quotes the server's setting is escaped", async () => {
    // A library that cannot be loaded, set for the database: every login to it ends with
    // FATAL: could not access file "<the value>" (dfmgr.c), before the first query.
    const database = await hostileDatabase({ session_preload_libraries: hostile })
    const { args, env } = superuserArgs(database)
    const result = await runCli(['notify', ...args, 'jobs', 'x'], { env })
    expect(result.status).toBe(1)
    expect(result.stderr).toMatch(/^pglisten: FATAL: /)
    expectEscaped(result.stderr, shownInError)
  })

  test("notify: a database that does not exist, named in the server's FATAL", async () => {
    const { args, env } = superuserArgs(`${hostile}_absent`)
    const result = await runCli(['notify', ...args, 'jobs', 'x'], { env })
    expect(result.status).toBe(1)
    expect(result.stderr).toMatch(/^pglisten: FATAL: database ".*" does not exist \(SQLSTATE 3D000\)\n$/)
    expectEscaped(result.stderr, shownInError)
  })
})

describe("the user's own arguments, quoted back", () => {
  test('a usage error', async () => {
    const result = await runCli(['listen', '--max-attempts', hostile, 'jobs'])
    expect(result.status).toBe(2)
    expect(result.stderr.split('\n')[0]).toBe(`pglisten: --max-attempts takes a whole number from 1 to ${Number.MAX_SAFE_INTEGER}, not "${shownInError}"`)
    expectEscaped(result.stderr, shownInError)
  })

  // The Unix socket's folder, reached through a link whose name is `hostile`: the command shows
  // the path it connected to. Only where the test server has a socket here (the embedded one).
  test.runIf(server().socketDir !== undefined)("bench: the table on stdout, whose title names the socket's path", async () => {
    const pg = server()
    const folder = mkdtempSync(join(tmpdir(), 'pglisten-esc-'))
    try {
      symlinkSync(pg.socketDir!, join(folder, hostile))
      const args = ['-h', join(folder, hostile), '-p', String(pg.port), '-U', pg.superuser.user, '-d', pg.database]
      const env: Record<string, string> = pg.superuser.password === undefined ? {} : { PGPASSWORD: pg.superuser.password }
      const result = await runCli(['bench', ...args, '--listeners', '1', '--notifiers', '1', '--payload', '16', '--count', '20', '--warmup', '0'], { env })
      expect(result.status).toBe(0)
      expect(result.stdout.split('\n')[0]).toContain(` at ${folder}/${shown}/.s.PGSQL.${pg.port};`)
      expect(result.stdout).not.toMatch(rawControl)
      expect(result.stderr).not.toMatch(rawControl)
    } finally {
      rmSync(folder, { recursive: true, force: true })
    }
  })

  // pglisten/replication needs PostgreSQL 14 (the matrix also runs 13), as in cli-replicate.test.ts.
  test.runIf((server().serverVersion ?? 180000) >= 140000)('replicate: a publication that does not exist', async () => {
    const { args, env } = superuserArgs(server().database)
    const result = await runCli(['replicate', ...args, '--slot', `esc_${process.pid}`, '--publication', hostile, '--create', '--temporary'], { env })
    expect(result.status).toBe(1)
    expect(result.stderr).toMatch(/^pglisten: publication .* does not exist in this database/)
    expectEscaped(result.stderr, shownInError)
  })
})
