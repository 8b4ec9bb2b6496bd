/**
 * A channel name typed in bytes that are not UTF-8 (a Latin-1 terminal's "caf\xe9"): Node
 * hands them to pglisten as U+FFFD, so only the real command, reading its own command line,
 * can tell them from a U+FFFD typed on purpose. Each run ends before any connection: refused
 * (status 2), or, for a name that is UTF-8, failing to reach a socket folder that does not
 * exist (status 1). No server is needed.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'

const root = fileURLToPath(new URL('../../../', import.meta.url))

/**
 * Runs `pglisten COMMAND -w -h FOLDER WORDS... WORD...` from the sources, each WORD made by printf
 * from one of `printfFormats` so its bytes pass as they are (spawn would encode a string argument
 * as UTF-8).
 */
function run(command: string, words: string[], ...printfFormats: string[]): Promise<{ status: number | null; stderr: string }> {
  return runWith({}, command, words, ...printfFormats)
}

/** As run, with more variables in the command's environment. */
function runWith(moreEnv: Record<string, string>, command: string, words: string[], ...printfFormats: string[]): Promise<{ status: number | null; stderr: string }> {
  const script = `exec "$0" "$@" ${printfFormats.map((_, i) => `"$(printf "$WORD_FORMAT_${i}")"`).join(' ')}`
  const argv = [process.execPath, '--import', 'tsx', 'src/cli/main.ts', command, '-w', '-h', '/nonexistent/pglisten-channel-bytes', ...words]
  const formats = Object.fromEntries(printfFormats.map((format, i) => [`WORD_FORMAT_${i}`, format]))
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent/pglisten-channel-bytes', PGPASSFILE: '/nonexistent/pgpass', ...formats, ...moreEnv }
  const child = spawn('/bin/sh', ['-c', script, ...argv], { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text))
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (status) => resolve({ status, stderr }))
  })
}

describe('a channel name that is not UTF-8 as typed is refused, never used with U+FFFD in it', () => {
  test.each([
    ['listen', [], 'caf\\351', 'channel name "caf\uFFFD" is not UTF-8 as typed: its byte 4 (0xe9) begins no valid UTF-8 character'],
    // The UTF-8 form of a surrogate (ED A0 80): CESU-8, not UTF-8 (RFC 3629, section 3).
    ['listen, after a channel that is fine', ['jobs'], '\\355\\240\\200', 'channel name "\uFFFD\uFFFD\uFFFD" is not UTF-8 as typed: its byte 1 (0xed) begins no valid UTF-8 character'],
    ['notify, after "--"', ['--'], 'caf\\351', 'channel name "caf\uFFFD" is not UTF-8 as typed: its byte 4 (0xe9) begins no valid UTF-8 character'],
  ])('%s', async (name, words, format, message) => {
    const command = name.split(',')[0]!
    const { status, stderr } = await run(command, words, format)
    expect(stderr.trimEnd().split('\n')).toEqual([`pglisten: ${message}`, `Try "pglisten ${command} --help" for more information.`])
    expect(status).toBe(2)
  }, 30_000)

  test('U+FFFD typed as such (valid UTF-8) is a channel like any other: the command goes on to connect', async () => {
    const { status, stderr } = await run('listen', [], 'caf\\357\\277\\275')
    expect(stderr).toMatch(/^pglisten: cannot connect to \/nonexistent\/pglisten-channel-bytes\//)
    expect(status).toBe(1)
  }, 30_000)
})

// Another word whose bad bytes read as the same text is not taken for the channel or payload:
// each is read back at its own place on the command line.
describe('a word is judged by its own bytes, not by those of another word that reads the same', () => {
  test('notify: a channel typed as U+FFFD and a payload of bad bytes: the payload is blamed', async () => {
    const { status, stderr } = await run('notify', [], 'caf\\357\\277\\275', 'caf\\351')
    expect(stderr.trimEnd().split('\n')[0]).toBe('pglisten: the payload argument is not UTF-8: its byte 4 (0xe9) begins no valid UTF-8 character; nothing was sent')
    expect(status).toBe(2)
  }, 30_000)

  test.each([
    ['listen', 'a channel', []],
    ['notify', 'a payload', ['jobs']],
  ])('%s: %s typed as U+FFFD, after a database name of bad bytes, is used: the command goes on to connect', async (command, _, channel) => {
    const { status, stderr } = await run(command, ['-d'], 'caf\\351', ...channel, 'caf\\357\\277\\275')
    expect(stderr).toMatch(/^pglisten: cannot connect to \/nonexistent\/pglisten-channel-bytes\//)
    expect(status).toBe(1)
  }, 30_000)
})

// Node's --title (in NODE_OPTIONS too) writes the process title over the command line's bytes,
// so /proc/self/cmdline no longer holds the words: their bytes cannot be read, as off Linux.
describe('where a process title was written over the command line, U+FFFD is taken for bad bytes', () => {
  const titled = { NODE_OPTIONS: '--title=pglisten' }

  test('listen: a channel of bad bytes is refused, not listened on as "caf\uFFFD"', async () => {
    const { status, stderr } = await runWith(titled, 'listen', [], 'caf\\351')
    expect(stderr.trimEnd().split('\n')[0]).toBe('pglisten: channel name "caf\uFFFD" is not UTF-8 as typed: it holds U+FFFD, the character put in place of bytes that are not UTF-8')
    expect(status).toBe(2)
  }, 30_000)

  test('notify: a payload of bad bytes is refused, not sent with U+FFFD in it', async () => {
    const { status, stderr } = await runWith(titled, 'notify', ['jobs'], 'caf\\351')
    expect(stderr.trimEnd().split('\n')[0]).toBe('pglisten: the payload argument is not UTF-8: it holds U+FFFD, the character put in place of bytes that are not UTF-8; nothing was sent')
    expect(status).toBe(2)
  }, 30_000)
})
