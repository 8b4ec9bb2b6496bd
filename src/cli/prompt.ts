/**
 * A password typed at the terminal, not echoed, as psql's simple_prompt reads it. Imports only
 * the command's errors and its escaping of what a terminal acts on. It never reads a pipe: a
 * password prompt on a non-terminal would swallow the input the command is meant to read
 * (notify's payloads) or hang a script.
 */
import { InputError } from './errors.ts'
import { terminalSafe } from './terminal.ts'

/** Whether a prompt can be answered: standard input is a terminal. */
export function canPrompt(input: NodeJS.ReadStream = process.stdin): boolean {
  return input.isTTY === true && typeof input.setRawMode === 'function'
}

const ignore = (): void => undefined

export function readPassword(prompt: string, input: NodeJS.ReadStream = process.stdin, output: NodeJS.WriteStream = process.stderr): Promise<string> {
  if (!canPrompt(input)) {
    return Promise.reject(new InputError('cannot ask for a password: standard input is not a terminal (use PGPASSWORD, a password file, or a connection string)'))
  }
  return new Promise((resolve, reject) => {
    let typed = ''
    // The keys are decoded here, not by input.setEncoding(): that cannot be undone, and whoever
    // reads standard input after the prompt (notify's payload lines) must still get its bytes.
    // In stream mode, a character whose bytes come in two reads is decoded once it is whole.
    const keys = new TextDecoder()
    const finish = (): void => {
      input.off('data', onData)
      input.off('end', onEnd)
      // Kept: a terminal that has gone fails setRawMode too, with an 'error' event, which
      // unheard would end the process as an uncaught exception, with a stack trace.
      input.off('error', onError).on('error', ignore)
      input.setRawMode(false)
      input.off('error', ignore)
      input.pause()
      output.write('\n')
    }
    // The terminal went away before Enter: a terminal that hangs up reads as end of file. Without
    // an answer here the prompt would wait for ever on nothing, the event loop would run dry,
    // and the command would leave with status 0 having done nothing.
    const onEnd = (): void => {
      finish()
      reject(new InputError('standard input ended at the password prompt'))
    }
    const onError = (error: Error): void => {
      finish()
      reject(new InputError(`standard input failed at the password prompt: ${error.message}`, { cause: error }))
    }
    // Raw mode: keys arrive one by one, unechoed, and Ctrl-C is a byte rather than SIGINT.
    const onData = (chunk: Uint8Array): void => {
      for (const key of keys.decode(chunk, { stream: true })) {
        if (key === '\r' || key === '\n' || key === '\u0004') {
          finish()
          return resolve(typed)
        }
        if (key === '\u0003') {
          finish()
          return reject(new InputError('cancelled at the password prompt'))
        }
        if (key === '\u007f' || key === '\b') typed = [...typed].slice(0, -1).join('')
        else typed += key
      }
    }
    // The prompt names the user, which may be any text (-U, PGUSER): nothing in it may act on the terminal.
    output.write(terminalSafe(prompt))
    input.setRawMode(true)
    input.on('data', onData)
    input.once('end', onEnd)
    input.once('error', onError)
    input.resume()
  })
}
