/**
 * Lines of a byte stream, numbered from 1, for `pglisten notify` reading payloads from stdin.
 * Imports the command's errors only.
 *
 * Unlike node:readline, a line that is not UTF-8 is refused by number rather than sent with
 * U+FFFD in it, and a line is never held in memory past `maxBytes`: input without newlines
 * cannot grow this process without bound. Splitting happens on bytes, which is safe because
 * UTF-8 never uses 0x0A inside a multibyte character. "\r\n" ends a line as "\n" does.
 */
import { InputError } from './errors.ts'

export interface Line {
  /** 1 for the first line. */
  number: number
  text: string
}

const newline = 0x0a
const encoder = new TextEncoder()
// ignoreBOM: a line that begins with U+FEFF keeps it, as a payload argument does. Left to its
// default the decoder takes it for a byte order mark and drops it (WHATWG Encoding, "decode").
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

export async function* readLines(input: AsyncIterable<Uint8Array | string>, maxBytes: number, what = 'standard input'): AsyncGenerator<Line> {
  let pending: Uint8Array[] = []
  let pendingBytes = 0
  let number = 1
  const line = (): Line => {
    const bytes = pending.length === 1 ? pending[0]! : concat(pending, pendingBytes)
    pending = []
    pendingBytes = 0
    let text: string
    try {
      text = decoder.decode(bytes)
    } catch {
      throw new InputError(`${what} line ${number}: not valid UTF-8`)
    }
    return { number: number++, text: text.endsWith('\r') ? text.slice(0, -1) : text }
  }
  for await (const chunk of input) {
    const bytes = typeof chunk === 'string' ? encoder.encode(chunk) : chunk
    let start = 0
    for (let end = bytes.indexOf(newline); end !== -1; end = bytes.indexOf(newline, start)) {
      pending.push(bytes.subarray(start, end))
      pendingBytes += end - start
      yield line()
      start = end + 1
    }
    if (start < bytes.length) {
      pending.push(bytes.subarray(start))
      pendingBytes += bytes.length - start
      if (pendingBytes > maxBytes) throw new InputError(`${what} line ${number}: longer than ${maxBytes} bytes`)
    }
  }
  // A last line without its newline is a line; the newline that ends the input starts none.
  if (pendingBytes > 0) yield line()
}

function concat(parts: Uint8Array[], length: number): Uint8Array {
  const whole = new Uint8Array(length)
  let at = 0
  for (const part of parts) {
    whole.set(part, at)
    at += part.length
  }
  return whole
}
