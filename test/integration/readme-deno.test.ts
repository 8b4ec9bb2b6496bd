/**
 * The README's Deno least-privilege line, `deno run --no-prompt --allow-net=127.0.0.1:5432
 * app.ts`, run as a user runs it: from the app's own folder (no deno.json, no package.json, no
 * lock file), with app.ts the runtimes' listener scenario (test/runtimes/main.ts, which fails on
 * any warning pglisten gives for a look-up Deno refused) against the built package, given what
 * the README lists (a user, a password, `env: {}`, `sslrootcert` as `{ pem }`,
 * `sslcertmode: 'disable'`). The one word changed is the README's stand-in for "your server":
 * 127.0.0.1:5432 becomes this server's address and port. npm run test:runtimes runs the same
 * scenario from inside the repository, where it needs --no-config --no-lock as well (the
 * repository's package.json, and no deno.lock written into it); a user's app does not.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { databaseOfItsOwn, server } from '../support/connect.ts'
import { ensureBuilt } from '../support/cli.ts'
import { inlineCode, section, shellWords } from '../support/readme.ts'
import type { ScenarioConfig } from '../runtimes/scenario.ts'

beforeAll(ensureBuilt, 120_000)

const pg = server()
const database = databaseOfItsOwn('readme_deno')
const root = fileURLToPath(new URL('../../', import.meta.url))
const folder = mkdtempSync(join(tmpdir(), 'pglisten-readme-deno-'))
afterAll(() => rmSync(folder, { recursive: true, force: true }))

/** Runs `program args` in `cwd` with `input` on stdin; its exit status and all it printed. */
function run(program: string, args: string[], cwd: string, input: string): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    // What Deno needs to start, and nothing of this machine's PG* settings.
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/nonexistent', NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' }
    const child = spawn(program, args, { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text))
    child.stderr.setEncoding('utf8').on('data', (text: string) => (output += text))
    child.on('error', reject)
    child.on('close', (status) => resolve({ status, output }))
    child.stdin.end(input)
  })
}

describe.skipIf(!pg.users || !pg.tls)('the README\'s Deno command', () => {
  test('`deno run --no-prompt --allow-net=HOST:PORT app.ts`, in the app\'s folder: the scenario passes with no permission refused', async () => {
    const commands = inlineCode(section('### Runtimes: Node, Bun, Deno, Cloudflare Workers'), 'deno run ')
    expect(commands, 'one `deno run` command').toHaveLength(1)
    const [deno, ...args] = shellWords(commands[0]!)
    expect(deno).toBe('deno')
    const net = args.filter((word) => word.startsWith('--allow-net='))
    expect(net, 'one --allow-net').toHaveLength(1)
    const address = /^--allow-net=127\.0\.0\.1:\d+$/.exec(net[0]!)
    expect(address, 'the README allows the network to one loopback address and port').not.toBeNull()
    const asRun = args.map((word) => (word === net[0] ? `--allow-net=${pg.host}:${pg.port}` : word))
    expect(asRun.at(-1)).toBe('app.ts')

    writeFileSync(join(folder, 'app.ts'), `import ${JSON.stringify(pathToFileURL(join(root, 'test/runtimes/main.ts')).href)}\n`)
    const scram = pg.users!.scram
    const config: ScenarioConfig = {
      runtime: 'deno-readme',
      host: pg.host,
      port: pg.port,
      database,
      user: scram.user,
      password: scram.password!,
      ca: pg.tls!.ca,
      channelBinding: true,
      ownTrustStore: false,
    }
    // The password goes on stdin, never in argv or the environment, and is never printed.
    const result = await run(join(root, 'node_modules/.bin/deno'), asRun, folder, JSON.stringify(config))
    expect(result.output).not.toContain(scram.password!)
    expect(result.output).toMatch(/^PASS: deno-readme$/m)
    expect(result.status, result.output).toBe(0)
    // Run as written, Deno wrote nothing beside the app (no lock file: there is no configuration).
    expect(readdirSync(folder)).toEqual(['app.ts'])
  }, 90_000)
})
