/**
 * terminalSafe: what the command writes holds no character a terminal acts on, each control
 * character shown as its JSON escape, and ordinary text (letters beyond ASCII, the tab) as it
 * is; and the lines that carry the server's text (status, errors, the password prompt) use it.
 */
import { fc, test as prop } from '@fast-check/vitest'
import { PassThrough } from 'node:stream'
import { afterEach, describe, expect, test, vi } from 'vitest'
import { errorLines, UsageError } from '../../../src/cli/errors.ts'
import { status, warning } from '../../../src/cli/output.ts'
import { readPassword } from '../../../src/cli/prompt.ts'
import { terminalSafe, terminalSafeLines } from '../../../src/cli/terminal.ts'
import { DatabaseError } from '../../../src/protocol/errors.ts'

/** Anything a terminal acts on: C0 but the tab, DEL, C1, U+2028/U+2029, the bidi embeddings, overrides and isolates. */
const acted = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/

/** Text rich in control characters: any code unit, or one of U+0000 to U+00A0, or a separator, or the tab. */
const controlRich = fc.string({
  unit: fc.oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), fc.integer({ min: 0, max: 0xa0 }).map((code) => String.fromCharCode(code)), fc.constantFrom('\u2028', '\u2029', '\t', '\u202a', '\u202e', '\u2066', '\u2069', '\u200e', '\u200d')),
  maxLength: 200,
})

describe('terminalSafe', () => {
  test.each([
    ['ESC, which begins a sequence (clear the screen)', '\u001b[2J', '\\u001b[2J'],
    ['CSI, U+009B, which a terminal reads as ESC [', '\u009b31m', '\\u009b31m'],
    ['an OSC sequence ended by BEL (set the window title)', '\u001b]0;x\u0007', '\\u001b]0;x\\u0007'],
    ['backspace and CR, which write over what came before', 'ok\b\b\rno', 'ok\\b\\b\\rno'],
    ['a line break, which would start a line that is not ours', 'a\npglisten: b', 'a\\npglisten: b'],
    ['form feed, vertical tab, NUL', '\f\u000b\u0000', '\\f\\u000b\\u0000'],
    ['DEL and the C1 controls at both ends', '\u007f\u0080\u0085\u009f', '\\u007f\\u0080\\u0085\\u009f'],
    ['the line and paragraph separators', '\u2028\u2029', '\\u2028\\u2029'],
    // "admin" shown as "nimda" and the rest of the line after it reversed, on a terminal that lays out bidi text.
    ['the bidi embeddings, overrides and isolates at both ends of each range', 'a\u202a\u202eb\u2066\u2069c', 'a\\u202a\\u202eb\\u2066\\u2069c'],
    ['the marks and joiners, which reorder nothing, as they are', 'x\u200e\u200f\u200c\u200dy', 'x\u200e\u200f\u200c\u200dy'],
  ])('%s', (_, text, shown) => {
    expect(terminalSafe(text)).toBe(shown)
  })

  test('ordinary text as it is: letters beyond ASCII, emoji, quotes, backslashes, and the tab', () => {
    for (const text of ['héllo wörld', '日本語 ✓ 🔔', 'Ωμέγα', '"quoted" \\ back\\slash', 'a\tb', '\\u001b typed out']) expect(terminalSafe(text)).toBe(text)
  })

  prop.prop([controlRich])('nothing a terminal acts on is left', (text) => {
    expect(terminalSafe(text)).not.toMatch(acted)
  })

  prop.prop([controlRich.filter((text) => !acted.test(text))])('text with no control character is not changed', (text) => {
    expect(terminalSafe(text)).toBe(text)
  })

  prop.prop([controlRich])('made safe twice is made safe once: the escapes are printable', (text) => {
    expect(terminalSafe(terminalSafe(text))).toBe(terminalSafe(text))
  })

  prop.prop([controlRich])('JSON made safe is the same value to a JSON reader', (text) => {
    expect(JSON.parse(terminalSafe(JSON.stringify({ [text]: text })))).toEqual({ [text]: text })
  })

  prop.prop([controlRich.filter((text) => !/["\\\t]/.test(text))])('each escape is the one a JSON string reads back', (text) => {
    expect(JSON.parse(`"${terminalSafe(text)}"`)).toBe(text)
  })

  test('terminalSafeLines keeps the line breaks between lines, and escapes the rest', () => {
    expect(terminalSafeLines('title \u001b[2J\nrow\r\n')).toBe('title \\u001b[2J\nrow\\r\n')
  })
})

describe('the lines that carry text the command did not write', () => {
  afterEach(() => {
    vi.restoreAllMocks()
  })

  /** What `write` sends to stderr. */
  function stderrOf(write: () => void): string {
    let written = ''
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written += String(chunk)
      return true
    })
    write()
    return written
  }

  test("a status line: a server's NOTICE with a line break and ESC in it stays one line", () => {
    expect(stderrOf(() => status('NOTICE: a\npglisten: forged \u001b[2J'))).toBe('pglisten: NOTICE: a\\npglisten: forged \\u001b[2J\n')
  })

  test('a warning', () => {
    expect(stderrOf(() => warning('a password file \u009b2J others can read'))).toBe('pglisten: WARNING: a password file \\u009b2J others can read\n')
  })

  test("an error's line: the server's message, and a usage error's quoted argument", () => {
    const error = new DatabaseError({ severity: 'ERROR', code: 'P0001', message: 'bad \u001b]0;title\u0007 thing\u2028' })
    expect(errorLines(error)).toEqual(['pglisten: ERROR: bad \\u001b]0;title\\u0007 thing\\u2028 (SQLSTATE P0001)'])
    expect(errorLines(new UsageError('there is no command "\u001b[2J"'))[0]).toBe('pglisten: there is no command "\\u001b[2J"')
  })

  test('the password prompt, which names the user', async () => {
    const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => input })
    const output = new PassThrough()
    let shown = ''
    output.setEncoding('utf8').on('data', (text: string) => (shown += text))
    const answer = readPassword('Password for user \u001b[2Japp\r: ', input as unknown as NodeJS.ReadStream, output as unknown as NodeJS.WriteStream)
    input.write('secret-in-test\r')
    await answer
    expect(shown).toBe('Password for user \\u001b[2Japp\\r: \n')
  })
})
