/**
 * The bench's progress on stderr: on a terminal, one line rewritten in place; elsewhere (a
 * pipe, a log file, a test) a line every few seconds at most, since carriage returns make a
 * mess of a log, and one line per finished phase. Imports nothing.
 */

export class Progress {
  readonly #stream: NodeJS.WriteStream
  readonly #live: boolean
  readonly #intervalMs: number
  #shown = false
  /** When the last line that stays was written (off a terminal): the next waits #intervalMs. */
  #lastLine = performance.now()

  constructor(intervalMs: number, stream: NodeJS.WriteStream = process.stderr) {
    this.#stream = stream
    this.#live = stream.isTTY === true
    this.#intervalMs = intervalMs
  }

  /**
   * Replaces the line on a terminal, cut to the terminal's width so it never wraps. Elsewhere
   * it is appended, as "pglisten: bench: <text>", if no line came for the interval: the caller
   * updates often, and a log gets one line in so many.
   */
  update(text: string): void {
    if (!this.#live) {
      if (performance.now() - this.#lastLine >= this.#intervalMs) this.log(`pglisten: bench: ${text}`)
      return
    }
    const width = (this.#stream.columns || 80) - 1
    this.#stream.write(`\r${text.slice(0, width)}\x1b[K`)
    this.#shown = true
  }

  /** A line that stays: replaces the progress line on a terminal, is appended elsewhere. */
  log(text: string): void {
    this.clear()
    this.#stream.write(`${text}\n`)
    this.#lastLine = performance.now()
  }

  clear(): void {
    if (this.#shown) this.#stream.write('\r\x1b[K')
    this.#shown = false
  }
}
