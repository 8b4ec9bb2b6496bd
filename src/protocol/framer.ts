/**
 * The incremental framer: bytes in, whole backend messages out, whatever the chunking.
 * Pure: no sockets. Decoding is delegated to backend/decode.ts.
 *
 * Every backend message is Byte1 type, Int32 length (counting itself, not the type), body.
 * The framer answers "not a whole message yet" (undefined) instead of waiting, like
 * rust-postgres's decoder, so the I/O edge decides when to read more.
 */
import { decodeBackendMessage } from './backend/decode.ts'
import { decodeNotificationResponse } from './backend/notification.ts'
import type { BackendMessage } from './backend/messages.ts'
import { BodyReader } from './bytes/reader.ts'
import type { ShortStrings } from './bytes/short-strings.ts'
import type { Utf8Decoder } from './bytes/utf8.ts'
import { ProtocolViolationError } from './errors.ts'

export interface FramerOptions {
  /**
   * The largest Int32 length a message may declare, in bytes. Checked before anything is
   * allocated, so a hostile length cannot make us reserve gigabytes; under it, storage grows
   * with the bytes that actually arrive, not with the length declared. Default 64 MiB.
   */
  maxMessageLength?: number
  /** UTF-8 decoder for the reader; an I/O edge may pass a faster one for its runtime. */
  decodeText?: Utf8Decoder
  /**
   * Makes the reader's window for short ASCII payloads, where the runtime has a fast
   * one-character-per-byte decoder (nodePlatform's: `() => new ShortStrings(latin1Slice)`):
   * they are then cut from one decoded window instead of decoded one by one. A factory the
   * I/O edge supplies, rather than a decoder the framer wraps, so that a bundle whose edge has
   * none (pglisten/lite) carries none of ShortStrings.
   */
  shortStrings?: () => ShortStrings
  /** Allocates the framer's own storage; an I/O edge may pass its runtime's byte arrays. */
  allocate?: (length: number) => Uint8Array
}

export const defaultMaxMessageLength = 64 * 1024 * 1024

const empty = new Uint8Array(0)
/** Owned storage above this size is released once it empties, so one big message does not pin memory. */
const keepCapacity = 256 * 1024

export class Framer {
  /** Where unread bytes are: either the caller's last chunk (borrowed) or #owned. */
  #buffer: Uint8Array = empty
  #start = 0
  #end = 0
  #borrowed = false
  /** Storage for a message that straddles chunks. */
  #owned: Uint8Array = empty
  #failure: ProtocolViolationError | undefined
  readonly #reader: BodyReader
  readonly #maxMessageLength: number
  readonly #allocate: (length: number) => Uint8Array

  constructor(options: FramerOptions = {}) {
    const max = options.maxMessageLength ?? defaultMaxMessageLength
    if (!Number.isInteger(max) || max < 4 || max > 0x7fffffff) {
      throw new RangeError(`maxMessageLength must be an integer in 4..2147483647, not ${max}`)
    }
    this.#maxMessageLength = max
    this.#reader = new BodyReader(options.decodeText, options.shortStrings?.())
    this.#allocate = options.allocate ?? ((length) => new Uint8Array(length))
  }

  /** Bytes received and not yet returned as messages. */
  get buffered(): number {
    return this.#end - this.#start
  }

  /**
   * Adds bytes. The framer may keep a reference to `chunk` (no copy in the common case) until
   * next() returns undefined, so call next() until then before reusing the chunk's memory, or
   * call own().
   */
  push(chunk: Uint8Array): void {
    if (this.#failure) throw this.#failure
    if (chunk.length === 0) return
    // The chunk may be the array of the last read again, refilled: nothing decoded from it holds.
    this.#reader.forgetBytes()
    if (this.#start === this.#end) {
      this.#buffer = chunk
      this.#start = 0
      this.#end = chunk.length
      this.#borrowed = true
      return
    }
    const leftover = this.#compact(this.#end - this.#start + chunk.length, this.#frontTotal())
    this.#owned.set(chunk, leftover)
    this.#end = leftover + chunk.length
  }

  /** The next whole message, or undefined until more bytes are pushed. */
  next(): BackendMessage | undefined {
    if (this.#failure) throw this.#failure
    const bytes = this.#buffer
    const start = this.#start
    const available = this.#end - start
    const total = this.#frontTotal()
    if (total === undefined) return this.#wait(5)
    const type = bytes[start]!
    const length = total - 1
    if (length < 4 || length > this.#maxMessageLength) {
      throw this.#fail(new ProtocolViolationError(
        length < 4
          ? `message length ${length} is less than the 4 bytes of the length itself`
          : `message length ${length} exceeds the maximum of ${this.#maxMessageLength}`,
      ))
    }
    // Room for what has come and as much again, not for the whole declared length: a server
    // that declares 64 MiB and sends 10 bytes costs 10 bytes, and a real one's big message
    // costs a few doublings' copies as it arrives (push() grows the storage).
    if (available < total) return this.#wait(Math.min(total, 2 * available), total)
    this.#start = start + total
    try {
      const reader = this.#reader.reset(bytes, start + 5, start + total, this.#end)
      // A listener hears NotificationResponse far more than anything else: straight to it.
      return type === 0x41 ? decodeNotificationResponse(reader) : decodeBackendMessage(type, reader)
    } catch (error) {
      if (error instanceof ProtocolViolationError) throw this.#fail(error)
      throw error
    }
  }

  /**
   * The whole size of the message at the front (its type byte, and the Int32 length that
   * counts itself and the body), once its header has come. `>>> 0` reads the length unsigned,
   * so a length with the top bit set is "too large".
   */
  #frontTotal(): number | undefined {
    const bytes = this.#buffer
    const at = this.#start
    if (this.#end - at < 5) return undefined
    return 1 + (((bytes[at + 1]! << 24) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 8) | bytes[at + 4]!) >>> 0)
  }

  /**
   * Stops borrowing the last chunk: whatever is unread moves into the framer's own storage.
   * For a caller that stops calling next() before it returns undefined (a paused session) and
   * whose chunk's memory is about to be reused by the next read.
   */
  own(): void {
    if (!this.#borrowed) return
    // The ShortStrings window was decoded from the chunk: let go of it with the chunk.
    this.#reader.forgetBytes()
    this.#wait(this.#end - this.#start)
  }

  /**
   * Not a whole message yet: make sure what is left lives in owned storage, with room for
   * `expected` bytes, since the caller's chunk may be overwritten after we return.
   */
  #wait(expected: number, total?: number): undefined {
    if (this.#start === this.#end) {
      this.#buffer = empty
      this.#start = this.#end = 0
      this.#borrowed = false
      if (this.#owned.length > keepCapacity) this.#owned = empty
      return undefined
    }
    this.#compact(expected, total)
    return undefined
  }

  /**
   * Moves the unread bytes to the front of #owned, with room for `capacity`; returns their
   * count. New storage doubles (so a big message costs a few copies, not one per chunk), but
   * never past `total`, the whole of the message being waited for, when that is known.
   */
  #compact(capacity: number, total = Infinity): number {
    this.#reader.forgetBytes() // bytes move within #owned
    const leftover = this.#end - this.#start
    if (this.#borrowed || this.#owned.length < capacity) {
      const target = this.#owned.length >= capacity ? this.#owned : this.#allocate(Math.max(capacity, Math.min(total, Math.max(2 * this.#owned.length, 4096))))
      target.set(this.#buffer.subarray(this.#start, this.#end))
      this.#owned = target
    } else if (this.#start > 0) {
      this.#owned.copyWithin(0, this.#start, this.#end)
    }
    this.#buffer = this.#owned
    this.#start = 0
    this.#end = leftover
    this.#borrowed = false
    return leftover
  }

  #fail(error: ProtocolViolationError): ProtocolViolationError {
    this.#failure = error
    this.#buffer = this.#owned = empty
    this.#start = this.#end = 0
    return error
  }
}
