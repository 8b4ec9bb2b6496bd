/**
 * Writing the command's lines: data to stdout, one write per line, waiting when the reader is
 * slower than we are, or until it has taken the line (for what is acknowledged once written);
 * status and warnings to stderr, prefixed "pglisten: ". Imports node:events only.
 *
 * Waiting for 'drain' is what gives `listen` backpressure end to end: while stdout is full the
 * iterator is not read, the listener's queue grows to its high-water mark, and the listener
 * stops reading the socket, so the backlog waits in PostgreSQL rather than in this process.
 */
import { once } from 'node:events'

export function status(text: string): void {
  process.stderr.write(`pglisten: ${text}\n`)
}

const warned = new Set<string>()

/**
 * The library's warnings (its onWarning: a password file others can read), in the tool's
 * voice, as psql prints libpq's: `pglisten: WARNING: ...`, one line, where Node would print
 * "(node:PID) PgListenWarning: ...". Written as they come, so before the error they lead to;
 * each once, not again at every reconnect.
 */
export function warning(message: string): void {
  if (warned.has(message)) return
  warned.add(message)
  status(`WARNING: ${message.replace(/\s*[\r\n]+\s*/g, ' ').trim()}`)
}

/**
 * Writes one line (with its newline) to stdout; resolves once stdout can take more. When the
 * reader has gone (EPIPE), resolves at once: onStdoutClosed's handler is stopping the command.
 */
export async function writeLine(line: string): Promise<void> {
  if (process.stdout.destroyed) return
  if (!process.stdout.write(line)) {
    await once(process.stdout, 'drain').catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error
    })
  }
}

/**
 * Writes one line (with its newline) to stdout and resolves once stdout has taken it: the
 * write's callback, which Node calls when the bytes have gone to the operating system (a file,
 * a pipe, a terminal), not merely into the stream's buffer. Resolves 'written', or else 'gone'
 * (the reader has gone, EPIPE, or stdout was closed) or 'failed' (any other error: a full disk,
 * an I/O error): what a caller acknowledges on the strength of a line must wait for this, not
 * for write() to return. One line at a time: the next write waits for this one, so stdout's
 * buffer never holds more than a line, and a slow reader holds the caller back as 'drain' would.
 */
export function writeLineConfirmed(line: string): Promise<'written' | 'gone' | 'failed'> {
  if (process.stdout.destroyed || !process.stdout.writable) return Promise.resolve('gone')
  return new Promise((resolve) => {
    process.stdout.write(line, (error?: NodeJS.ErrnoException | null) => resolve(error == null ? 'written' : error.code === 'EPIPE' ? 'gone' : 'failed'))
  })
}

/**
 * Calls `onClosed` when whoever reads stdout goes away (`pglisten listen jobs | head -1`):
 * the write fails with EPIPE, which is an end, not an error worth a message.
 */
export function onStdoutClosed(onClosed: () => void): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') onClosed()
    else status(`cannot write to standard output: ${error.message}`)
  })
}
