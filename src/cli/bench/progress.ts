/**
 * The bench's progress: on a terminal, one line on stderr rewritten in place; elsewhere (a
 * pipe, a log file, a test) one line per finished phase, since carriage returns make a mess
 * of a log. Imports nothing.
 */

export class Progress {
  readonly #stream: NodeJS.WriteStream
  readonly #live: boolean
  #shown = false

  constructor(stream: NodeJS.WriteStream = process.stderr) {
    this.#stream = stream
    this.#live = stream.isTTY === true
  }

  /** Replaces the line (on a terminal only), cut to the terminal's width so it never wraps. */
  update(text: string): void {
    if (!this.#live) return
    const width = (this.#stream.columns || 80) - 1
    this.#stream.write(`\r${text.slice(0, width)}\x1b[K`)
    this.#shown = true
  }

  /** A line that stays: replaces the progress line on a terminal, is appended elsewhere. */
  log(text: string): void {
    this.clear()
    this.#stream.write(`${text}\n`)
  }

  clear(): void {
    if (this.#shown) this.#stream.write('\r\x1b[K')
    this.#shown = false
  }
}
