/**
 * Writing the command's lines: data to stdout, one write per line, waiting when the reader is
 * slower than we are, or until it has taken the line (for what is acknowledged once written);
 * status and warnings to stderr, prefixed "pglisten: "; and leaving the process once both have
 * taken what was written to them. Imports node:events, and the escaping of what a terminal acts on.
 *
 * Waiting for 'drain' is what gives `listen` backpressure end to end: while stdout is full the
 * iterator is not read, the listener's queue grows to its high-water mark, and the listener
 * stops reading the socket, so the backlog waits in PostgreSQL rather than in this process.
 */
import { once } from 'node:events'
import { terminalSafe } from './terminal.ts'

/**
 * One status line. Its text is made safe here, where it leaves, rather than where it is put
 * together: much of it is the server's (a NOTICE, an error, server_version) or a name it
 * echoes (a database), and a line break in any of it would start a line that is not ours.
 */
export function status(text: string): void {
  process.stderr.write(`pglisten: ${terminalSafe(text)}\n`)
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
 * Once `stop` is aborted it resolves without waiting for more room, and takes its 'drain' and
 * 'error' listeners off stdout (events.once does, on abort): many lines written after a stop
 * would otherwise leave two listeners each, waiting for a 'drain' that may never come.
 */
export async function writeLine(line: string, stop?: AbortSignal): Promise<void> {
  if (process.stdout.destroyed) return
  if (!process.stdout.write(line) && !stop?.aborted) {
    await once(process.stdout, 'drain', stop ? { signal: stop } : {}).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && error.name !== 'AbortError') throw error
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

const stdoutClosedHandlers: (() => void)[] = []
/** Stdout failed for another reason than its reader going away (a full disk): the command did not do its job. */
let stdoutFailed = false
/** The errors a status line has said already: a command that fails with one of them leaves without saying it again. */
const said = new WeakSet<object>()

/** Whether `error` is a failure to write to stdout, which stderr has been told of as it came. */
export function alreadySaid(error: unknown): boolean {
  return typeof error === 'object' && error !== null && said.has(error)
}

/**
 * Calls `onClosed` when whoever reads stdout goes away (`pglisten listen jobs | head -1`):
 * the write fails with EPIPE, which is an end, not an error worth a message.
 */
export function onStdoutClosed(onClosed: () => void): void {
  stdoutClosedHandlers.push(onClosed)
}

/**
 * Installed once, before anything is written (main.ts), so that a failed write to stdout or
 * stderr never ends the process as an uncaught 'error' event, with a stack trace.
 *
 * Stdout's reader going away (EPIPE) is an end: the commands that stream stop on it
 * (onStdoutClosed), and the others, having written all they had (`pglisten --help | true`),
 * have nothing more to say to it. Any other failure to write is said on stderr.
 *
 * Stderr's reader going away (`2> >(head -2)`) ends nothing: status lines are for a person,
 * and stdout may still have a reader. An error writing to stderr has nowhere to be told, so it
 * is dropped, as the lines after it are.
 */
export function handleOutputErrors(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') for (const onClosed of stdoutClosedHandlers) onClosed()
    else {
      stdoutFailed = true
      said.add(error)
      status(`cannot write to standard output: ${error.message}`)
    }
  })
  process.stderr.on('error', () => undefined)
}

/**
 * How long leaving waits for stderr to take its last lines: long enough for a reader that is
 * behind to catch up, not so long that one which has stopped reading (a parent that never
 * reads the pipe) keeps the process alive for ever.
 */
const stderrWaitMs = 5_000

/**
 * Ends the process with `status` once stdout and stderr have handed what they hold to the
 * operating system: process.exit() drops whatever a pipe has not yet taken. Stdout, the data,
 * is waited for up to `waitMs.stdout` (by default for as long as it takes), stderr up to
 * `waitMs.stderr`. Exits even if something forgot to let go of the event loop.
 */
export async function exitWhenWritten(status: number, waitMs = { stdout: Infinity, stderr: stderrWaitMs }): Promise<never> {
  process.exitCode = status
  // A turn of the event loop first: a write that failed says so by an 'error' event, emitted
  // on the next tick, which promise callbacks (this one's caller) would otherwise run ahead of.
  await new Promise((resolve) => setImmediate(resolve))
  await Promise.all([written(process.stdout, waitMs.stdout), written(process.stderr, waitMs.stderr)])
  process.exit(stdoutFailed && status === 0 ? 1 : status)
}

/**
 * Ends the process with `status` as exitWhenWritten does, but without waiting for stdout, whose
 * reader may have stopped reading: what stderr holds (why it stopped, --trace) is still waited for.
 */
export function exitWithoutStdout(status: number): Promise<never> {
  return exitWhenWritten(status, { stdout: 0, stderr: stderrWaitMs })
}

/**
 * Resolves once `stream` has taken everything written to it (the callback of an empty write
 * comes after the writes before it, and comes with an error on a stream that has failed), or
 * once `ms` have passed.
 */
function written(stream: NodeJS.WriteStream, ms: number): Promise<void> {
  return new Promise((resolve) => {
    // Nothing waiting to be written: no empty write either, which a stream that was never
    // written to would fail on a full device, for a command that wrote nothing there (notify).
    if (stream.writableLength === 0) return resolve()
    if (ms !== Infinity) setTimeout(resolve, ms)
    stream.write('', () => resolve())
  })
}
