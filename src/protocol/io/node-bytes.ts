/**
 * Node's faster ways with bytes, handed to the framer by the Node I/O edge (Bun and Deno
 * provide node:buffer too). The one place the decoding hot path uses Buffer.
 *
 * Buffer's utf8Slice is several times cheaper per call than TextDecoder, but it replaces
 * invalid sequences with U+FFFD instead of failing. So: decode, and only if the result holds a
 * U+FFFD (rare: the server sends valid UTF-8) ask the strict decoder whether the bytes were
 * really invalid or a genuine, correctly encoded U+FFFD. For a string of one-byte characters
 * V8 answers `includes('\uFFFD')` without scanning.
 */
import { Buffer } from 'node:buffer'
import type { Latin1Decoder } from '../bytes/short-strings.ts'
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

type Latin1Slice = (this: Uint8Array, start: number, end: number) => string

const latin1Slice = (Buffer.prototype as unknown as { latin1Slice?: Latin1Slice }).latin1Slice

/** One character per byte, for ShortStrings' windows; undefined where Buffer lacks it. */
export const decodeLatin1Fast: Latin1Decoder | undefined = latin1Slice === undefined
  ? undefined
  : (bytes, start, end) => latin1Slice.call(bytes, start, end)

/**
 * Storage for the framer that is a Buffer, like the socket's chunks: utf8Slice runs about a
 * third faster on a Buffer than on a plain Uint8Array, and the framer's reads stay
 * monomorphic. allocUnsafeSlow: the framer writes before it reads, and a pooled slice would
 * keep the whole pool alive.
 */
export const allocateBuffer = (length: number): Uint8Array => Buffer.allocUnsafeSlow(length)
