/**
 * The README's command-line examples, run as written: every `$ pglisten ...` transcript in its
 * "The command line" section is typed as it stands (the connection from PG* variables and a
 * password file, as a user's shell would give it), against the real server, and what it
 * prints on stderr must be the transcript's lines, but for what differs from run to run (the
 * server, times, waits, process IDs, the role's name). The scene is the README's: the role's
 * password changes while pglisten listens, and its connection is then lost.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeAll, describe, expect, test } from 'vitest'
import type { Connection } from '../../src/protocol/io/connection.ts'
import { connectSuperuser, server } from '../support/connect.ts'
import { ensureBuilt, startCli, type Running } from '../support/cli.ts'

beforeAll(ensureBuilt, 120_000)

const pg = server()
const running: Running[] = []
const connections: Connection[] = []
const folders: string[] = []
afterEach(async () => {
  for (const cli of running.splice(0)) if (cli.child.exitCode === null) cli.child.kill('SIGKILL')
  await Promise.all(connections.splice(0).map((c) => c.close()))
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true })
})

/** The README's "The command line" section, up to the next section. */
function cliSection(): string {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  const start = readme.indexOf('\n## The command line\n')
  if (start === -1) throw new Error('README.md has no "## The command line" section')
  const end = readme.indexOf('\n## ', start + 1)
  return readme.slice(start, end === -1 ? undefined : end)
}

/** Each code block that starts with a `$ ` command line: the command's words, and the lines shown after it. */
function transcripts(section: string): { command: string; words: string[]; shown: string[] }[] {
  const blocks = [...section.matchAll(/^```[a-z]*\n([\s\S]*?)^```$/gm)].map((match) => match[1]!.trimEnd().split('\n'))
  return blocks
    .filter((lines) => lines[0]!.startsWith('$ '))
    .map(([first, ...shown]) => {
      const command = first!.slice(2)
      // Words split on spaces: an example needing quotes would need a shell here, so say so.
      if (/["'\\$`]/.test(command)) throw new Error(`a README example needs a shell to split it: ${command}`)
      return { command, words: command.split(/ +/), shown }
    })
}

/** What differs between the README's run and this one, made the same in both. */
function normalized(line: string, user: string): string {
  return line
    .replace(/^pglisten: connected to .*\(backend pid \d+\)$/, 'pglisten: connected to SERVER (backend pid PID)')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, 'TIME')
    .replace(/ in \d+(\.\d+)? s\b/, ' in WAIT s')
    .replaceAll(`"${user}"`, '"USER"')
    .replace('"app"', '"USER"')
}

describe('the README\'s command line', () => {
  test.skipIf(!pg.users)('each `$ pglisten` transcript, run as written, prints what the README shows', async () => {
    const examples = transcripts(cliSection())
    expect(examples.length).toBeGreaterThan(0)
    const user = pg.users!.scram
    for (const { command, words, shown } of examples) {
      expect(words[0], command).toBe('pglisten')
      const folder = mkdtempSync(join(tmpdir(), 'pglisten-cli-readme-'))
      folders.push(folder)
      const passfile = join(folder, 'pgpass')
      const password = (text: string) => {
        writeFileSync(passfile, `*:*:*:${user.user}:${text}\n`, { mode: 0o600 })
        chmodSync(passfile, 0o600)
      }
      password(user.password!)
      const env = { PGHOST: pg.host, PGPORT: String(pg.port), PGUSER: user.user, PGDATABASE: pg.database, PGPASSFILE: passfile }
      const cli = startCli(words.slice(1), { env })
      running.push(cli)
      await cli.stderrLine(/^pglisten: listening on /)
      // The README's scene: the password changes, then the connection is lost.
      password('changed since')
      const admin = await connectSuperuser()
      connections.push(admin)
      const pid = Number(/backend pid (\d+)/.exec(cli.stderr[0]!)![1])
      await admin.query(`SELECT pg_terminate_backend(${pid})`)
      const deadline = Date.now() + 15_000
      while (cli.stderr.length < shown.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
      cli.child.kill('SIGTERM')
      expect((await cli.exited).status, command).toBe(0)
      expect(cli.stderr.slice(0, shown.length).map((line) => normalized(line, user.user)), command).toEqual(shown.map((line) => normalized(line, user.user)))
    }
  }, 40_000)
})
