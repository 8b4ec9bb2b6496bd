/**
 * UTF-8 between strings and bytes, strictly: invalid input is an error, never U+FFFD.
 * Imports only the error classes. Portable: TextEncoder and TextDecoder exist in every runtime.
 */
import { ProtocolViolationError } from '../errors.ts'

/**
 * Decodes bytes[start, end) as UTF-8, throwing on invalid input. A parameter so that an I/O
 * edge can supply a faster decoder for its runtime (see io/node-bytes.ts); the contract is the
 * same: the exact string, or an error.
 */
export type Utf8Decoder = (bytes: Uint8Array, start: number, end: number) => string

const encoder = new TextEncoder()

// `ignoreBOM: true` keeps a leading U+FEFF in the string: a payload that starts with one must
// arrive as sent, and TextDecoder would otherwise swallow it.
const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

export function encodeUtf8(text: string): Uint8Array {
  return encoder.encode(text)
}

/** Whether every code unit of `text` is ASCII, so that its UTF-8 is one byte per character. */
export function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false
  return true
}

/** The number of bytes `text` takes in UTF-8, without encoding it. */
export function utf8Length(text: string): number {
  let length = 0
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i)
    if (unit < 0x80) length += 1
    else if (unit < 0x800) length += 2
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        length += 4 // a surrogate pair is one code point, four bytes
        i++
      } else length += 3 // a lone surrogate is encoded as U+FFFD
    } else length += 3
  }
  return length
}

/** The portable decoder: TextDecoder with `fatal: true`. */
export const decodeUtf8: Utf8Decoder = (bytes, start, end) => {
  if (start === end) return ''
  try {
    return strict.decode(bytes.subarray(start, end))
  } catch (cause) {
    // Bad bytes are a TypeError (the Encoding Standard's fatal mode); anything else is the
    // runtime's limit on a string's length (about 512 MiB of ASCII in V8), not the server's fault.
    if (!(cause instanceof TypeError)) throw new RangeError(`the server sent a text of ${end - start} bytes, longer than a string can be here`, { cause })
    throw new ProtocolViolationError('the server sent text that is not valid UTF-8', { cause })
  }
}
