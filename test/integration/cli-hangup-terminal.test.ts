/**
 * The terminal itself hanging up (its window closed, an ssh connection dropped), not a SIGHUP
 * sent by hand (cli-hangup.test.ts): the command runs in a pseudo-terminal of its own, as the
 * session leader it controls, and the terminal's master side is closed. The kernel sends the
 * SIGHUP, and from then on every ioctl and write on the terminal fails with EIO: the command
 * must still stop as on SIGTERM and exit 0, where Node, restoring the terminal's settings as it
 * exits, aborted (src/cli/hung-up-terminal.ts). Node makes no pseudo-terminal, so Python's pty
 * module (python3, the standard library) does. Every wait is for a line or a state.
 */
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { afterEach, beforeAll, describe, expect, test } from 'vitest'
import type { Connection } from '../../src/protocol/io/connection.ts'
import { parseLsn } from '../../src/protocol/replication/lsn.ts'
import { cliEnv, ensureBuilt, mainJs, superuserArgs } from '../support/cli.ts'
import { connectSuperuser, databaseOfItsOwn, eventually, server } from '../support/connect.ts'
import { uniqueChannel } from '../support/listener.ts'

beforeAll(ensureBuilt, 120_000)

const database = databaseOfItsOwn('cli_hangup_terminal')
/** pglisten/replication needs PostgreSQL 14 (the matrix also runs 13). */
const replicationSupported = (server().serverVersion ?? 180000) >= 140000

/**
 * Runs argv in a new pseudo-terminal (pty.fork: a session of its own, the terminal its
 * controlling one), copies what the terminal shows to stdout, and closes the master side,
 * hanging the terminal up, at the first byte (or the end) of stdin. Then it waits for the
 * command and writes how it ended on stderr: "exit N" or "signal N".
 */
const terminalDriver = `
import os, pty, select, sys
pid, master = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
while master is not None:
    ready, _, _ = select.select([master, 0], [], [])
    if 0 in ready:
        os.read(0, 1)
        os.close(master)
        master = None
        continue
    try:
        shown = os.read(master, 65536)
    except OSError:
        shown = b''
    if not shown:
        break
    sys.stdout.buffer.write(shown)
    sys.stdout.flush()
_, status = os.waitpid(pid, 0)
sys.stderr.write('exit %d' % os.WEXITSTATUS(status) if os.WIFEXITED(status) else 'signal %d' % os.WTERMSIG(status))
`

interface InTerminal {
  /** Resolves once the terminal has shown a line matching `pattern`. */
  shown(pattern: RegExp): Promise<string>
  /** Everything the terminal showed, a line each. */
  lines(): string[]
  /** Hangs the terminal up; resolves with how the command ended: "exit N" or "signal N". */
  hangUp(): Promise<string>
}

const drivers: ReturnType<typeof spawn>[] = []
const connections: Connection[] = []
afterEach(async () => {
  // Closing the driver's stdin hangs the terminal up: the command stops, and so does the driver.
  for (const driver of drivers.splice(0)) driver.stdin!.end()
  await Promise.all(connections.splice(0).map((c) => c.close()))
})

function inTerminal(args: string[], env: Record<string, string>): InTerminal {
  const driver = spawn('python3', ['-c', terminalDriver, process.execPath, mainJs, ...args], { env: cliEnv(env), stdio: 'pipe' })
  drivers.push(driver)
  let shown = ''
  let ended = ''
  driver.stdout!.setEncoding('utf8').on('data', (text: string) => (shown += text))
  driver.stderr!.setEncoding('utf8').on('data', (text: string) => (ended += text))
  const closed = new Promise<string>((resolve) => driver.on('close', () => resolve(ended)))
  // The terminal turns each "\\n" into "\\r\\n".
  const lines = () => shown.split(/\r?\n/)
  return {
    lines,
    shown: async (pattern) => {
      await eventually(() => lines().some((line) => pattern.test(line)), 20_000).catch(() => {
        throw new Error(`no line matching ${pattern}; the terminal showed:\n${shown}${ended}`)
      })
      return lines().find((line) => pattern.test(line))!
    },
    hangUp: () => {
      driver.stdin!.end('h')
      return closed
    },
  }
}

describe('a hung-up terminal', () => {
  test('listen: exits 0, as on SIGTERM, not aborted by Node as it leaves', async () => {
    const { args, env } = superuserArgs()
    const cli = inTerminal(['listen', ...args, uniqueChannel('tty')], env)
    await cli.shown(/^pglisten: listening on /)
    expect(await cli.hangUp()).toBe('exit 0')
  })

  test.runIf(replicationSupported)('replicate: tells the server where it stopped and exits 0', async () => {
    const sql = await connectSuperuser({ database })
    connections.push(sql)
    const name = `cli_tty_${process.pid}`
    await sql.query(`CREATE TABLE ${name} (id int PRIMARY KEY); CREATE PUBLICATION ${name} FOR TABLE ${name}`)
    try {
      const { args, env } = superuserArgs(database)
      const cli = inTerminal(['replicate', ...args, '--slot', name, '--publication', name, '--create'], env)
      await cli.shown(/^pglisten: streaming /)
      await sql.query(`INSERT INTO ${name} VALUES (1)`)
      const line = await cli.shown(/^\{.*"id":1\b/)
      const commit = parseLsn((JSON.parse(line) as { commit_lsn: string }).commit_lsn)

      expect(await cli.hangUp()).toBe('exit 0')
      // The last acknowledgement reached the server before the command left: past the insert's commit.
      const slot = async () => (await sql.query(`SELECT active, confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '${name}'`))[0]!.rows[0]!
      // A walsender outlives its client by a moment.
      await eventually(async () => (await slot())[0] === 'f', 20_000)
      expect(parseLsn((await slot())[1]!)).toBeGreaterThan(commit)
    } finally {
      await sql.query(`SELECT pg_drop_replication_slot('${name}') FROM pg_replication_slots WHERE slot_name = '${name}'`)
      await sql.query(`DROP PUBLICATION IF EXISTS ${name}; DROP TABLE IF EXISTS ${name}`)
    }
  })

  test('listen at the password prompt (-W), the terminal in raw mode: leaves without aborting', async () => {
    // A server that asks for a password and waits (AuthenticationCleartextPassword), so that
    // the prompt is up when the terminal hangs up; nothing is typed, nothing sent.
    const asking = createServer((socket) => socket.once('data', () => socket.write(Uint8Array.of(0x52, 0, 0, 0, 8, 0, 0, 0, 3))))
    await new Promise<void>((resolve) => asking.listen(0, '127.0.0.1', resolve))
    try {
      const port = String((asking.address() as { port: number }).port)
      const cli = inTerminal(['listen', '-h', '127.0.0.1', '-p', port, '-U', 'someone', '-d', 'db', '-W', uniqueChannel('tty')], {})
      await cli.shown(/^Password for user someone: $/)
      // The hang-up is told twice (SIGHUP, and end of input at the prompt), in either order:
      // status 0 if the signal is heard first, 1 (an error: no password) if the prompt's end is.
      expect(await cli.hangUp()).toMatch(/^exit [01]$/)
    } finally {
      asking.close()
    }
  })
})
