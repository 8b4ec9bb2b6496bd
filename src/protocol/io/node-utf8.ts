/**
 * A faster strict UTF-8 decoder for Node (and Bun and Deno, which provide `node:buffer`).
 * The I/O edge may use Buffer; this is the one place the decoding hot path does.
 *
 * Buffer's utf8Slice is several times cheaper per call than TextDecoder, but it replaces
 * invalid sequences with U+FFFD instead of failing. So: decode, and only if the result holds a
 * U+FFFD (rare: the server sends valid UTF-8) ask the strict decoder whether the bytes were
 * really invalid or a genuine, correctly encoded U+FFFD. For a string of one-byte characters
 * V8 answers `includes('\uFFFD')` without scanning.
 */
import { Buffer } from 'node:buffer'
import { decodeUtf8, type Utf8Decoder } from '../bytes/utf8.ts'

type Utf8Slice = (this: Uint8Array, start: number, end: number) => string

const utf8Slice = (Buffer.prototype as unknown as { utf8Slice?: Utf8Slice }).utf8Slice

export const decodeUtf8Fast: Utf8Decoder = utf8Slice === undefined
  ? decodeUtf8 // a runtime whose Buffer lacks the internal method: the portable path
  : (bytes, start, end) => {
      if (start === end) return ''
      const text = utf8Slice.call(bytes, start, end)
      return text.includes('\uFFFD') ? decodeUtf8(bytes, start, end) : text
    }
