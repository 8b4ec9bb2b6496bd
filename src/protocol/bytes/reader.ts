/**
 * A reader bounded to one message body. Every read checks the bound, so a decoder can never
 * read into the next message; `end()` checks that the body was consumed exactly.
 * Imports only errors, utf8 and short-strings; knows nothing of message types.
 */
import { ProtocolViolationError } from '../errors.ts'
import { shortMaxLength, type ShortStrings } from './short-strings.ts'
import { decodeUtf8, type Utf8Decoder } from './utf8.ts'

// Plain (TypeScript-private) fields rather than #private ones, here and in Interner: this is
// the hot loop of every notification, and on Node 20's V8 #private access measurably slowed it
// (bench/parser.ts). Nothing secret lives in a reader.
export class BodyReader {
  private data: Uint8Array = new Uint8Array(0)
  private position = 0
  private limit = 0
  /** Where the valid bytes of `data` end: past the body, later messages (for ShortStrings). */
  private available = 0
  /** Recently seen C strings, so that a channel name repeated in every message is decoded once. */
  private readonly interned = new Interner()
  constructor(
    readonly decodeText: Utf8Decoder = decodeUtf8,
    /** Short ASCII payloads cut from one decoded window, where the runtime can decode Latin-1 fast. */
    private readonly short?: ShortStrings,
  ) {}

  /**
   * Points the reader at bytes[start, end), the body of one message, in an array whose bytes
   * are valid up to `available` (by default, the body's end).
   */
  reset(bytes: Uint8Array, start: number, end: number, available = end): this {
    this.data = bytes
    this.position = start
    this.limit = end
    this.available = available
    return this
  }

  /** The bytes of the array last given to reset() are about to change (a new read into it). */
  forgetBytes(): void {
    this.short?.forget()
  }

  get remaining(): number {
    return this.limit - this.position
  }

  /** Throws unless the body has been read to its last byte. */
  end(what: string): void {
    if (this.position !== this.limit) {
      throw new ProtocolViolationError(`${what}: ${this.limit - this.position} unexpected trailing bytes`)
    }
  }

  private need(count: number, what: string): number {
    const at = this.position
    if (count > this.limit - at) throw new ProtocolViolationError(`${what}: the message ends too early`)
    this.position = at + count
    return at
  }

  byte(what: string): number {
    return this.data[this.need(1, what)]!
  }

  int16(what: string): number {
    const at = this.need(2, what)
    const b = this.data
    // Shifts rather than a DataView: no object per message, and `<< 16 >> 16` sign-extends.
    return ((b[at]! << 24) | (b[at + 1]! << 16)) >> 16
  }

  int32(what: string): number {
    const at = this.need(4, what)
    const b = this.data
    return (b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!
  }

  /** Byte[n], copied: a decoded message never shares memory with the framer's buffer. */
  bytes(count: number, what: string): Uint8Array {
    if (count < 0) throw new ProtocolViolationError(`${what}: negative length ${count}`)
    const at = this.need(count, what)
    return copy(this.data, at, at + count)
  }

  /** Everything left in the body, copied. */
  rest(): Uint8Array {
    const at = this.position
    this.position = this.limit
    return copy(this.data, at, this.limit)
  }

  /** Byte[n] decoded as UTF-8. */
  text(count: number, what: string): string {
    if (count < 0) throw new ProtocolViolationError(`${what}: negative length ${count}`)
    const at = this.need(count, what)
    return this.decodeText(this.data, at, at + count)
  }

  /** String: UTF-8 up to a NUL that must lie inside the body. */
  cstring(what: string): string {
    const at = this.position
    const nul = this.findNul(at, what)
    this.position = nul + 1
    return this.decodeText(this.data, at, nul)
  }

  /**
   * Like cstring(), but a string equal to a recently read one comes back without decoding.
   * The last one is tried first, in one pass that compares and finds the NUL together: a
   * listener usually hears one channel many times in a row.
   */
  internedCString(what: string): string {
    const at = this.position
    const interned = this.interned
    const again = interned.matchLast(this.data, at, this.limit)
    if (again !== undefined) {
      this.position = at + interned.lastLength + 1
      return again
    }
    const nul = this.findNul(at, what)
    this.position = nul + 1
    return interned.get(this.data, at, nul, this.decodeText)
  }

  /**
   * The last String of a message: its NUL must be the body's last byte, so the length already
   * says where it ends and nothing needs scanning for it. A NUL hidden inside would make the
   * message longer than its grammar; the decoded string shows it more cheaply than the bytes.
   */
  finalCString(what: string): string {
    const at = this.position
    const last = this.limit - 1
    if (last < at || this.data[last] !== 0) throw new ProtocolViolationError(`${what}: missing NUL terminator`)
    this.position = this.limit
    if (last === at) return '' // an empty payload: nothing to decode, nothing to check
    const short = this.short
    if (short !== undefined) {
      if (last - at <= shortMaxLength) {
        const text = short.get(this.data, at, last, this.available)
        if (text !== undefined) return text // 1..127 only: no NUL inside, nothing to check
      } else short.interrupt()
    }
    const text = this.decodeText(this.data, at, last)
    if (text.includes('\0')) throw new ProtocolViolationError(`${what}: unexpected trailing bytes after a NUL`)
    return text
  }

  /**
   * The first NUL at or after `from`, inside the body. Names are short: a plain loop beats a
   * native call for them; past 64 bytes the native indexOf takes over.
   */
  private findNul(from: number, what: string): number {
    const bytes = this.data
    const end = this.limit
    const stop = Math.min(end, from + 64)
    for (let i = from; i < stop; i++) if (bytes[i] === 0) return i
    const nul = stop === end ? -1 : bytes.indexOf(0, stop)
    if (nul === -1 || nul >= end) throw new ProtocolViolationError(`${what}: missing NUL terminator`)
    return nul
  }
}

/**
 * A copy of bytes[start, end). Not `bytes.slice()`: when `bytes` is a Node Buffer, its slice()
 * is a view that the next socket read may overwrite.
 */
function copy(bytes: Uint8Array, start: number, end: number): Uint8Array {
  return new Uint8Array(bytes.subarray(start, end))
}

/** The Interner's slots, and the longest string it keeps (module constants, which a bundler inlines). */
const internerSize = 8
const internedMaxLength = 64

/**
 * A tiny cache of decoded strings keyed by their bytes. Listeners hear a few channels over and
 * over; comparing up to 64 bytes is much cheaper than creating the same string again.
 */
class Interner {
  private readonly keys: Uint8Array[] = []
  private readonly values: string[] = []
  private nextSlot = 0
  /** The key and value found or stored last. */
  private lastKey: Uint8Array = new Uint8Array(0)
  private lastValue = ''

  get lastLength(): number {
    return this.lastKey.length
  }

  /** The last string again, if its bytes and then a NUL start at bytes[at], before `end`. */
  matchLast(bytes: Uint8Array, at: number, end: number): string | undefined {
    const key = this.lastKey
    const length = key.length
    if (at + length >= end || bytes[at + length] !== 0) return undefined
    for (let i = 0; i < length; i++) if (bytes[at + i] !== key[i]) return undefined
    return this.lastValue
  }

  get(bytes: Uint8Array, start: number, end: number, decode: Utf8Decoder): string {
    const length = end - start
    if (length > internedMaxLength) return decode(bytes, start, end)
    const keys = this.keys
    search: for (let slot = 0; slot < keys.length; slot++) {
      const key = keys[slot]!
      if (key.length !== length) continue
      for (let i = 0; i < length; i++) if (key[i] !== bytes[start + i]) continue search
      return this.remember(key, this.values[slot]!)
    }
    const value = decode(bytes, start, end)
    const slot = this.nextSlot
    this.nextSlot = (slot + 1) % internerSize
    keys[slot] = copy(bytes, start, end)
    this.values[slot] = value
    return this.remember(keys[slot], value)
  }

  private remember(key: Uint8Array, value: string): string {
    this.lastKey = key
    this.lastValue = value
    return value
  }
}
