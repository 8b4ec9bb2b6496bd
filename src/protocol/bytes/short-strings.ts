/**
 * Short ASCII strings, cut from a window of the received bytes that was decoded once. Imports
 * nothing. The reader uses it for payloads when an I/O edge supplies a one-byte-per-character
 * decoder (io/node-bytes.ts: Buffer's latin1Slice).
 *
 * Why: the commonest payload of all is short ASCII, an id such as "42". Creating it costs
 * one native call (about 0.1 µs, most of a small notification's cost), while cutting it
 * from an existing string with substring() is a builtin that costs about a third of that
 * (bench/e2e: npm run bench). So a run of short payloads shares one native call: the bytes
 * from the payload on, up to 4 KiB, decoded at once, then one substring per payload.
 *
 * Why it is exact: for bytes 1..127, one byte is one character in Latin-1 and in UTF-8
 * alike; any other byte (a NUL, which finalCString must refuse, or a multi-byte sequence)
 * sends the payload the usual way. Why it keeps no memory alive: V8 copies a substring of
 * fewer than 13 characters instead of pointing into its parent (SlicedString::kMinLength).
 */
export type Latin1Decoder = (bytes: Uint8Array, start: number, end: number) => string

/** Longer strings would be slices of the window and keep it alive. */
export const shortMaxLength = 12
const windowLength = 4096

// The limits are module constants rather than static fields: a bundler inlines a constant,
// and keeps a static field (and the class's name) in every bundle.
export class ShortStrings {
  private window = ''
  /** The array the window was decoded from, and where; undefined: no window. */
  private bytes: Uint8Array | undefined
  private start = 0
  private end = 0
  /** A short ASCII string was asked for and not covered by the window: the next one makes one. */
  private asked = false

  constructor(private readonly decodeLatin1: Latin1Decoder) {}

  /** The bytes under the window may have changed (a new read into the same array). */
  forget(): void {
    this.bytes = undefined
    this.window = ''
  }

  /** A string that is not short: a run of short ones, if any, has ended. */
  interrupt(): void {
    this.asked = false
  }

  /**
   * bytes[start, end) as a string, given 1..maxLength bytes, of which bytes[start, available)
   * are valid; undefined if they are not all 1..127, or if this is the first short string
   * of a run (a lone short string would not repay decoding a window).
   */
  get(bytes: Uint8Array, start: number, end: number, available: number): string | undefined {
    for (let i = start; i < end; i++) {
      const byte = bytes[i]!
      if (byte === 0 || byte > 0x7f) return undefined
    }
    if (bytes !== this.bytes || start < this.start || end > this.end) {
      if (!this.asked) {
        this.asked = true
        return undefined
      }
      this.bytes = bytes
      this.start = start
      this.end = Math.min(available, start + windowLength)
      this.window = this.decodeLatin1(bytes, start, this.end)
    }
    return this.window.substring(start - this.start, end - this.start)
  }
}
