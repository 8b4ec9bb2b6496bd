/**
 * The password prompt, on a stand-in terminal: keys arrive raw and unechoed, backspace
 * works, Enter ends, Ctrl-C cancels, the terminal is put back; a pipe is never read.
 */
import { PassThrough } from 'node:stream'
import { describe, expect, test } from 'vitest'
import { InputError } from '../../../src/cli/errors.ts'
import { readPassword } from '../../../src/cli/prompt.ts'

/** What readPassword needs of a terminal: isTTY and setRawMode. */
class Terminal extends PassThrough {
  isTTY = true
  raw = false
  setRawMode(on: boolean): this {
    this.raw = on
    return this
  }
}

function setup() {
  const input = new Terminal()
  const output = new PassThrough()
  let shown = ''
  output.setEncoding('utf8').on('data', (text: string) => (shown += text))
  return { input, output, shown: () => shown, ask: () => readPassword('Password for user app: ', input as unknown as NodeJS.ReadStream, output as unknown as NodeJS.WriteStream) }
}

describe('readPassword', () => {
  test('keys until Enter, backspace removes one character, nothing is echoed, raw mode is undone', async () => {
    const { input, shown, ask } = setup()
    const answer = ask()
    expect(input.raw).toBe(true)
    input.write('sé')
    input.write('cx\u007f')
    input.write('ret\r')
    expect(await answer).toBe('sécret')
    expect(input.raw).toBe(false)
    expect(shown()).toBe('Password for user app: \n')
  })

  test('Ctrl-C cancels', async () => {
    const { input, ask } = setup()
    const answer = ask()
    input.write('abc\u0003')
    await expect(answer).rejects.toThrow(new InputError('cancelled at the password prompt'))
    expect(input.raw).toBe(false)
  })

  test('standard input that is not a terminal is not read', async () => {
    const pipe = new PassThrough()
    await expect(readPassword('Password: ', pipe as unknown as NodeJS.ReadStream)).rejects.toThrow(/^cannot ask for a password: standard input is not a terminal/)
  })
})
