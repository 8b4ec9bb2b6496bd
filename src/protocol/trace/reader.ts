/**
 * A reader bounded to one frontend message body, for the tracer. Like ../bytes/reader.ts, every
 * read checks the bound; unlike it, text is decoded leniently (a trace shows what was sent, even
 * if it is not UTF-8) and a short read throws Malformed, which the decoder turns into a line.
 * Imports nothing.
 */

/** The bytes do not follow the message's grammar; `message` says how, for the trace line. */
export class Malformed extends Error {
  override name = 'Malformed'
}

// Not fatal: invalid bytes become U+FFFD, which the trace shows. `ignoreBOM` keeps a leading
// U+FEFF, as the strict decoder does.
const lenient = new TextDecoder('utf-8', { ignoreBOM: true })

export class TraceReader {
  #position: number
  readonly #data: Uint8Array
  readonly #limit: number

  /** Reads data[start, end). */
  constructor(data: Uint8Array, start: number, end: number) {
    this.#data = data
    this.#position = start
    this.#limit = end
  }

  get remaining(): number {
    return this.#limit - this.#position
  }

  #need(count: number, what: string): number {
    const at = this.#position
    if (count > this.#limit - at) throw new Malformed(`the message ends inside ${what}`)
    this.#position = at + count
    return at
  }

  byte(what: string): number {
    return this.#data[this.#need(1, what)]!
  }

  /** The next byte, not consumed; undefined at the end of the body. */
  peek(): number | undefined {
    return this.#position < this.#limit ? this.#data[this.#position] : undefined
  }

  int32(what: string): number {
    const at = this.#need(4, what)
    const b = this.#data
    return (b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!
  }

  /** Byte[n], copied. */
  bytes(count: number, what: string): Uint8Array {
    if (count < 0) throw new Malformed(`${what} has a negative length (${count})`)
    const at = this.#need(count, what)
    return this.#data.slice(at, at + count)
  }

  /** Everything left, copied. */
  rest(): Uint8Array {
    return this.bytes(this.remaining, 'the rest')
  }

  /** String: text up to a NUL that must lie inside the body. */
  cstring(what: string): string {
    const at = this.#position
    const nul = this.#data.subarray(at, this.#limit).indexOf(0)
    if (nul === -1) throw new Malformed(`${what} has no NUL terminator`)
    this.#position = at + nul + 1
    return lenient.decode(this.#data.subarray(at, at + nul))
  }

  /** Throws unless every byte of the body was read. */
  end(what: string): void {
    const left = this.remaining
    if (left !== 0) throw new Malformed(`${plural(left, 'unexpected byte')} after ${what}`)
  }
}

/** "1 byte", "2 bytes". */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`
}
