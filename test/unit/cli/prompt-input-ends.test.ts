/**
 * The password prompt when its terminal goes away before Enter: standard input ends (a
 * terminal that hangs up reads as end of file) or fails. The prompt must settle, with an
 * InputError, and put the terminal back: a prompt that waited for ever let the event loop run
 * dry, and the command left with status 0 as though it had run, having connected to nothing.
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
  return { input, shown: () => shown, ask: () => readPassword('Password for user app: ', input as unknown as NodeJS.ReadStream, output as unknown as NodeJS.WriteStream) }
}

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
