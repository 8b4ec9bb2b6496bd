/**
 * A reader bounded to one message body. Every read checks the bound, so a decoder can never
 * read into the next message; `end()` checks that the body was consumed exactly.
 * Imports only errors and utf8; knows nothing of message types.
 */
import { ProtocolViolationError } from '../errors.ts'
import { decodeUtf8, type Utf8Decoder } from './utf8.ts'

export class BodyReader {
  #bytes: Uint8Array = new Uint8Array(0)
  #position = 0
  #end = 0
  /** Recently seen C strings, so that a channel name repeated in every message is decoded once. */
  readonly #interned = new Interner()

  constructor(readonly decodeText: Utf8Decoder = decodeUtf8) {}

  /** Points the reader at bytes[start, end), the body of one message. */
  reset(bytes: Uint8Array, start: number, end: number): this {
    this.#bytes = bytes
    this.#position = start
    this.#end = end
    return this
  }

  get remaining(): number {
    return this.#end - this.#position
  }

  /** Throws unless the body has been read to its last byte. */
  end(what: string): void {
    if (this.#position !== this.#end) {
      throw new ProtocolViolationError(`${what}: ${this.#end - this.#position} unexpected trailing bytes`)
    }
  }

  #need(count: number, what: string): number {
    const at = this.#position
    if (count > this.#end - at) throw new ProtocolViolationError(`${what}: the message ends too early`)
    this.#position = at + count
    return at
  }

  byte(what: string): number {
    return this.#bytes[this.#need(1, what)]!
  }

  int16(what: string): number {
    const at = this.#need(2, what)
    const b = this.#bytes
    // Shifts rather than a DataView: no object per message, and `<< 16 >> 16` sign-extends.
    return ((b[at]! << 24) | (b[at + 1]! << 16)) >> 16
  }

  int32(what: string): number {
    const at = this.#need(4, what)
    const b = this.#bytes
    return (b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!
  }

  /** Byte[n], copied: a decoded message never shares memory with the framer's buffer. */
  bytes(count: number, what: string): Uint8Array {
    if (count < 0) throw new ProtocolViolationError(`${what}: negative length ${count}`)
    const at = this.#need(count, what)
    return copy(this.#bytes, at, at + count)
  }

  /** Everything left in the body, copied. */
  rest(): Uint8Array {
    const at = this.#position
    this.#position = this.#end
    return copy(this.#bytes, at, this.#end)
  }

  /** Byte[n] decoded as UTF-8. */
  text(count: number, what: string): string {
    if (count < 0) throw new ProtocolViolationError(`${what}: negative length ${count}`)
    const at = this.#need(count, what)
    return this.decodeText(this.#bytes, at, at + count)
  }

  /** String: UTF-8 up to a NUL that must lie inside the body. */
  cstring(what: string): string {
    const at = this.#position
    const nul = this.#nul(at, what)
    this.#position = nul + 1
    return this.decodeText(this.#bytes, at, nul)
  }

  /** Like cstring(), but a string equal to a recently read one comes back without decoding. */
  internedCString(what: string): string {
    const at = this.#position
    const nul = this.#nul(at, what)
    this.#position = nul + 1
    return this.#interned.get(this.#bytes, at, nul, this.decodeText)
  }

  /**
   * The last String of a message: its NUL must be the body's last byte, so the length already
   * says where it ends and nothing needs scanning for it. A NUL hidden inside would make the
   * message longer than its grammar; the decoded string shows it more cheaply than the bytes.
   */
  finalCString(what: string): string {
    const at = this.#position
    const last = this.#end - 1
    if (last < at || this.#bytes[last] !== 0) throw new ProtocolViolationError(`${what}: missing NUL terminator`)
    this.#position = this.#end
    const text = this.decodeText(this.#bytes, at, last)
    if (text.includes('\0')) throw new ProtocolViolationError(`${what}: unexpected trailing bytes after a NUL`)
    return text
  }

  /**
   * The first NUL at or after `from`, inside the body. Names are short: a plain loop beats a
   * native call for them; past 64 bytes the native indexOf takes over.
   */
  #nul(from: number, what: string): number {
    const bytes = this.#bytes
    const end = this.#end
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

/**
 * A tiny cache of decoded strings keyed by their bytes. Listeners hear a few channels over and
 * over; comparing up to 63 bytes is much cheaper than creating the same string again.
 */
class Interner {
  static readonly size = 8
  static readonly maxLength = 64
  readonly #keys: Uint8Array[] = []
  readonly #values: string[] = []
  #nextSlot = 0

  get(bytes: Uint8Array, start: number, end: number, decode: Utf8Decoder): string {
    const length = end - start
    if (length > Interner.maxLength) return decode(bytes, start, end)
    const keys = this.#keys
    search: for (let slot = 0; slot < keys.length; slot++) {
      const key = keys[slot]!
      if (key.length !== length) continue
      for (let i = 0; i < length; i++) if (key[i] !== bytes[start + i]) continue search
      return this.#values[slot]!
    }
    const value = decode(bytes, start, end)
    const slot = this.#nextSlot
    this.#nextSlot = (slot + 1) % Interner.size
    keys[slot] = copy(bytes, start, end)
    this.#values[slot] = value
    return value
  }
}
