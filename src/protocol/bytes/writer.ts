/**
 * A growable byte writer. Encoders append to a caller's writer (as in rust-postgres's
 * postgres-protocol), so several messages can go out in one write without copying.
 * Imports only utf8.
 */
import { encodeUtf8 } from './utf8.ts'

export class ByteWriter {
  #bytes: Uint8Array
  #length = 0

  constructor(capacity = 256) {
    this.#bytes = new Uint8Array(capacity)
  }

  get length(): number {
    return this.#length
  }

  #reserve(count: number): number {
    const at = this.#length
    const needed = at + count
    if (needed > this.#bytes.length) {
      const grown = new Uint8Array(Math.max(needed, this.#bytes.length * 2))
      grown.set(this.#bytes.subarray(0, at))
      this.#bytes = grown
    }
    this.#length = needed
    return at
  }

  // Each method reserves first and reads #bytes after: #reserve may replace the array.
  byte(value: number): this {
    const at = this.#reserve(1)
    this.#bytes[at] = value
    return this
  }

  int16(value: number): this {
    const at = this.#reserve(2)
    this.#bytes[at] = value >>> 8
    this.#bytes[at + 1] = value
    return this
  }

  int32(value: number): this {
    this.#setInt32(this.#reserve(4), value)
    return this
  }

  bytes(value: Uint8Array): this {
    const at = this.#reserve(value.length)
    this.#bytes.set(value, at)
    return this
  }

  /** String: UTF-8 then a NUL. The caller makes sure `text` holds no NUL. */
  cstring(text: string): this {
    return this.bytes(encodeUtf8(text)).byte(0)
  }

  /**
   * Starts a message: Byte1(type) unless type is undefined (startup-phase messages have none),
   * then an Int32 length filled in by endMessage(). Returns the position of the length.
   */
  beginMessage(type?: number): number {
    if (type !== undefined) this.byte(type)
    const lengthAt = this.#reserve(4)
    return lengthAt
  }

  /** Writes the length of the message begun at `lengthAt`: it counts itself, not the type. */
  endMessage(lengthAt: number): this {
    this.#setInt32(lengthAt, this.#length - lengthAt)
    return this
  }

  /** A copy of everything written so far. */
  toBytes(): Uint8Array {
    return this.#bytes.slice(0, this.#length)
  }

  clear(): this {
    this.#length = 0
    return this
  }

  #setInt32(at: number, value: number): void {
    const b = this.#bytes
    b[at] = value >>> 24
    b[at + 1] = value >>> 16
    b[at + 2] = value >>> 8
    b[at + 3] = value
  }
}
