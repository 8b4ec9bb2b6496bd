/**
 * `pglisten notify` against the real server, heard by a listener of the test's own: a payload
 * argument, payloads from stdin (in order, over one connection), and lines the server would
 * refuse, refused first with their line number.
 */
import { spawn } from 'node:child_process'
import { beforeAll, describe, expect, test } from 'vitest'
import type { Notification } from '../../src/listener/subscription.ts'
import { connectSuperuser, eventually, server } from '../support/connect.ts'
import { cliEnv, ensureBuilt, mainJs, runCli, stackTrace, superuserArgs, type Finished } from '../support/cli.ts'
import { collect, listener, uniqueChannel } from '../support/listener.ts'

beforeAll(ensureBuilt, 120_000)

/**
 * Runs `pglisten notify ARGS PAYLOAD` with PAYLOAD's bytes as they are: a shell's printf makes
 * them (spawn would encode a string argument as UTF-8, so bytes that are not could not pass).
 */
function notifyWithBytes(args: string[], printfFormat: string, env: Record<string, string>): Promise<Finished> {
  const script = 'exec "$0" "$@" "$(printf "$PAYLOAD_FORMAT")"'
  const child = spawn('/bin/sh', ['-c', script, process.execPath, mainJs, 'notify', ...args], { env: cliEnv({ ...env, PAYLOAD_FORMAT: printfFormat }), stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text))
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text))
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }))
  })
}

/** A listener on a fresh channel, and what it hears. */
async function hear(): Promise<{ channel: string; heard: Notification[] }> {
  const l = await listener()
  const channel = uniqueChannel('cli notify')
  const { items } = collect(l.notifications({ gaps: false }))
  await l.listen(channel)
  return { channel, heard: items as Notification[] }
}

describe('pglisten notify', () => {
  test('a payload argument, connecting with a URL', async () => {
    const { channel, heard } = await hear()
    const pg = server()
    const password = pg.superuser.password === undefined ? '' : `:${encodeURIComponent(pg.superuser.password)}`
    const url = `postgresql://${encodeURIComponent(pg.superuser.user)}${password}@${pg.host}:${pg.port}/${encodeURIComponent(pg.database)}?sslmode=disable`
    const payload = `it's "quoted" \\ ✓ 🔔`
    const result = await runCli(['notify', url, channel, payload])
    expect(result).toMatchObject({ status: 0, stdout: '', stderr: '' })
    await eventually(() => heard.length === 1)
    expect(heard[0]).toMatchObject({ channel, payload })
  })

  test('stdin: one notification per line, in order, over one connection', async () => {
    const { channel, heard } = await hear()
    const { args, env } = superuserArgs()
    const lines = ['first', '', 'thïrd ✓', '{"json":true}', 'windows line end', 'last, without a newline']
    const input = `${lines.slice(0, 4).join('\n')}\n${lines[4]}\r\n${lines[5]}`
    const result = await runCli(['notify', ...args, channel], { env, input })
    expect(result).toMatchObject({ status: 0, stdout: '', stderr: '' })
    await eventually(() => heard.length === lines.length)
    expect(heard.map((n) => n.payload)).toEqual(lines)
    expect(new Set(heard.map((n) => n.processId)).size).toBe(1)
  })

  test('a line of 8000 bytes is refused with its number, after the lines before it', async () => {
    const { channel, heard } = await hear()
    const { args, env } = superuserArgs()
    const input = `sent\n${'é'.repeat(4000)}\nnever sent\n`
    const result = await runCli(['notify', ...args, channel], { env, input })
    expect(result.status).toBe(1)
    expect(result.stderr).toBe('pglisten: standard input line 2: the payload is 8000 bytes in UTF8; PostgreSQL takes payloads under 8000 bytes; line 1 was sent\n')
    await eventually(() => heard.length === 1)
    await new Promise((r) => setTimeout(r, 100)) // nothing else comes
    expect(heard.map((n) => n.payload)).toEqual(['sent'])
  })

  test('a line that is not UTF-8 is refused with its number', async () => {
    const { channel } = await hear()
    const { args, env } = superuserArgs()
    const input = Buffer.concat([Buffer.from('fine\nfine too\nbad '), Buffer.from([0xff, 0xfe]), Buffer.from('\n')])
    const result = await runCli(['notify', ...args, channel], { env, input })
    expect(result.status).toBe(1)
    expect(result.stderr).toBe('pglisten: standard input line 3: not valid UTF-8; lines 1 to 2 were sent\n')
  })

  test('a line with no end in sight is refused once it passes the limit, saying what was sent before it', async () => {
    const { channel, heard } = await hear()
    const { args, env } = superuserArgs()
    const result = await runCli(['notify', ...args, channel], { env, input: `one\ntwo\n${'x'.repeat(70_000)}` })
    expect(result.status).toBe(1)
    expect(result.stderr).toBe('pglisten: standard input line 3: longer than 64000 bytes; lines 1 to 2 were sent\n')
    await eventually(() => heard.length === 2)
    expect(heard.map((n) => n.payload)).toEqual(['one', 'two'])
  })

  test('the connection lost between two lines: the error names the line, and what was sent before it', async () => {
    const { channel, heard } = await hear()
    const { args, env } = superuserArgs()
    const child = spawn(process.execPath, [mainJs, 'notify', ...args, channel], { env: cliEnv(env), stdio: ['pipe', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text))
    const exited = new Promise<number | null>((resolve) => child.on('close', (status) => resolve(status)))
    child.stdin.write('one\ntwo\n')
    await eventually(() => heard.length === 2)
    const c = await connectSuperuser()
    try {
      await c.query(`SELECT pg_terminate_backend(${heard[0]!.processId})`)
    } finally {
      await c.close()
    }
    await new Promise((r) => setTimeout(r, 200)) // the FATAL and the close reach it before line 3
    child.stdin.end('three\n')
    expect(await exited).toBe(1)
    // Found by review: it said "whether line 3 was is not known" of a line never sent.
    expect(stderr).toMatch(/^pglisten: standard input line 3: .*57P01.*; lines 1 to 2 were sent; line 3 was not\n$/)
  })

  test('a payload argument that is too long is a usage error, and nothing is sent', async () => {
    const { channel, heard } = await hear()
    const { args, env } = superuserArgs()
    const result = await runCli(['notify', ...args, channel, 'x'.repeat(8000)], { env })
    expect(result.status).toBe(2)
    const lines = result.stderr.trimEnd().split('\n')
    expect(lines).toEqual(['pglisten: the payload is 8000 bytes in UTF8; PostgreSQL takes payloads under 8000 bytes', 'Try "pglisten notify --help" for more information.'])
    expect(result.stderr).not.toMatch(stackTrace)
    await new Promise((r) => setTimeout(r, 100))
    expect(heard).toEqual([])
  })

  test('a payload argument that is not UTF-8 is refused, as on standard input, and nothing is sent', async () => {
    const { channel, heard } = await hear()
    const { args, env } = superuserArgs()
    const result = await notifyWithBytes([...args, channel], 'caf\\303 \\377', env)
    expect(result.status).toBe(2)
    expect(result.stderr.trimEnd().split('\n')).toEqual([
      'pglisten: the payload argument is not UTF-8: its byte 4 (0xc3) begins no valid UTF-8 character; nothing was sent',
      'Try "pglisten notify --help" for more information.',
    ])
    await new Promise((r) => setTimeout(r, 100))
    expect(heard).toEqual([])
  })

  test('a stderr reader that falls behind still gets every --trace line: the command waits for it before it exits', async () => {
    const { channel, heard } = await hear()
    const { args, env } = superuserArgs()
    const count = 2000
    const child = spawn(process.execPath, [mainJs, 'notify', '--trace', ...args, channel], { env: cliEnv(env), stdio: ['pipe', 'ignore', 'pipe'] })
    const exited = new Promise<number | null>((resolve) => child.on('close', (status) => resolve(status)))
    child.stdin.end(Array.from({ length: count }, (_, i) => `payload ${i}\n`).join(''))
    // Nothing read from stderr until every line has been sent: megabytes of trace are waiting.
    child.stderr.pause()
    await eventually(() => heard.length === count, 20_000)
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text))
    child.stderr.resume() // after pause(), a 'data' handler alone does not
    expect(await exited).toBe(0)
    expect(stderr.split('\n').filter((line) => /\tF\t\d+\tQuery\t/.test(line))).toHaveLength(count)
    expect(stderr).toMatch(/\tF\t4\tTerminate\n$/)
  }, 30_000)

  test('a payload argument that begins with U+FEFF and is not UTF-8 after it is refused all the same', async () => {
    const { channel, heard } = await hear()
    const { args, env } = superuserArgs()
    const result = await notifyWithBytes([...args, channel], '\\357\\273\\277 \\377', env)
    expect(result.status).toBe(2)
    expect(result.stderr.trimEnd().split('\n')[0]).toBe('pglisten: the payload argument is not UTF-8: its byte 5 (0xff) begins no valid UTF-8 character; nothing was sent')
    await new Promise((r) => setTimeout(r, 100))
    expect(heard).toEqual([])
  })

  test('U+FFFD typed as such (valid UTF-8) is sent as it is', async () => {
    const { channel, heard } = await hear()
    const { args, env } = superuserArgs()
    const result = await notifyWithBytes([...args, channel], 'replacement \\357\\277\\275 character', env)
    expect(result).toMatchObject({ status: 0, stderr: '' })
    await eventually(() => heard.length === 1)
    expect(heard[0]!.payload).toBe('replacement \uFFFD character')
  })
})
