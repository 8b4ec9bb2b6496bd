/**
 * The password prompt, on a stand-in terminal: keys arrive raw and unechoed, backspace
 * works, Enter ends, Ctrl-C cancels, the terminal is put back; a pipe is never read. When the
 * terminal goes away before Enter (standard input ends, as a terminal that hangs up reads, or
 * fails), the prompt settles with an InputError: one that waited for ever let the event loop run
 * dry, and the command left with status 0, having connected to nothing.
 */
import { PassThrough } from 'node:stream'
import { describe, expect, test } from 'vitest'
import { InputError } from '../../../src/cli/errors.ts'
import { readLines } from '../../../src/cli/lines.ts'
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

  test('standard input is bytes again after the prompt: a payload line that is not UTF-8 is still refused (notify -W)', async () => {
    const { input, ask } = setup()
    const answer = ask()
    input.write('secret\r')
    expect(await answer).toBe('secret')
    input.end(Uint8Array.of(0x61, 0xff, 0x0a)) // "a", a byte that begins no UTF-8 character, "\n"
    const reading = (async () => {
      for await (const _ of readLines(input as AsyncIterable<Uint8Array | string>, 64_000));
    })()
    await expect(reading).rejects.toThrow(new InputError('standard input line 1: not valid UTF-8'))
  })

  test('a character split between two reads of the terminal is one key', async () => {
    const { input, ask } = setup()
    const answer = ask()
    const eAcute = Uint8Array.of(0xc3, 0xa9) // "é" in UTF-8
    input.write(eAcute.subarray(0, 1))
    input.write(eAcute.subarray(1))
    input.write('\r')
    expect(await answer).toBe('é')
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

describe('readPassword, its input gone', () => {
  test('standard input ending before Enter (the terminal hung up) rejects, and raw mode is undone', async () => {
    const { input, shown, ask } = setup()
    const answer = ask()
    input.end('half a passw') // keys typed, then end of file: no Enter, so no password
    await expect(answer).rejects.toThrow(new InputError('standard input ended at the password prompt'))
    expect(input.raw).toBe(false)
    expect(shown()).toBe('Password for user app: \n')
  })

  test('standard input failing (EIO) rejects with an InputError caused by it, not an uncaught error event', async () => {
    const { input, ask } = setup()
    const answer = ask()
    const eio = Object.assign(new Error('read EIO'), { code: 'EIO' })
    input.destroy(eio)
    const error = await answer.catch((e: unknown) => e)
    expect(error).toEqual(new InputError('standard input failed at the password prompt: read EIO'))
    expect((error as Error).cause).toBe(eio)
    expect(input.raw).toBe(false)
  })
})
