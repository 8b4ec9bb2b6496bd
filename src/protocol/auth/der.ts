/**
 * Just enough of a DER reader (ITU-T X.690) to walk an X.509 certificate's outer structure:
 * tag-length-value elements, each read inside the bounds of its parent, and OBJECT IDENTIFIERs.
 * Imports nothing. Pure; no Node APIs.
 *
 * DER is the strict subset of BER that certificates are signed in (X.690 section 10), so anything
 * BER allows but DER forbids is refused: the indefinite length, a length in more bytes than it
 * needs, an OID sub-identifier with a leading 0x80 byte. The reader never allocates from a length
 * it has not checked against the bytes actually there.
 */

/** The bytes are not the DER the caller expected. `offset` is where the reader stopped. */
export class DerError extends Error {
  override name = 'DerError'
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} (at byte ${offset})`)
  }
}

/** The tags a certificate's outer structure uses: universal (X.690 section 8, X.680 section 8.4) and context-specific. */
export const Tag = {
  BIT_STRING: 0x03,
  OBJECT_IDENTIFIER: 0x06,
  /** SEQUENCE and SEQUENCE OF: universal 16, constructed (X.690 section 8.9.1). */
  SEQUENCE: 0x30,
  /** [0] .. [3] EXPLICIT: context-specific, constructed (X.690 section 8.1.2). */
  context: (n: number) => 0xa0 | n,
} as const

/** One element: its tag byte, and where its header and contents sit in the whole input. */
export interface Element {
  readonly tag: number
  /** Offset of the tag byte: the element is bytes[start, end). */
  readonly start: number
  /** Offset of the first contents byte. */
  readonly contentStart: number
  readonly end: number
}

/**
 * Reads the elements of bytes[start, end) in order. A child reader is bounded to its parent's
 * contents, so a length that runs past the parent is refused there, not read into a sibling.
 */
export class DerReader {
  readonly #bytes: Uint8Array
  readonly #end: number
  #position: number

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    this.#bytes = bytes
    this.#position = start
    this.#end = end
  }

  get done(): boolean {
    return this.#position === this.#end
  }

  /** The tag of the next element, without reading it; undefined at the end. */
  peekTag(): number | undefined {
    return this.done ? undefined : this.#bytes[this.#position]
  }

  /** Reads the next element, which must carry `tag`. */
  read(tag: number, what: string): Element {
    const element = this.#next(what)
    if (element.tag !== tag) {
      throw new DerError(`${what}: expected tag 0x${hex(tag)}, found 0x${hex(element.tag)}`, element.start)
    }
    return element
  }

  /** A reader over the contents of `element`, which this reader returned. */
  inside(element: Element): DerReader {
    return new DerReader(this.#bytes, element.contentStart, element.end)
  }

  /** Throws unless every byte of this reader's range has been read. */
  finish(what: string): void {
    if (!this.done) throw new DerError(`${what}: ${this.#end - this.#position} unexpected trailing bytes`, this.#position)
  }

  /** The contents of `element`, as a view (no copy). */
  contents(element: Element): Uint8Array {
    return this.#bytes.subarray(element.contentStart, element.end)
  }

  /** The whole encoding of `element`, header included, as a view. */
  encoding(element: Element): Uint8Array {
    return this.#bytes.subarray(element.start, element.end)
  }

  #next(what: string): Element {
    const start = this.#position
    if (start >= this.#end) throw new DerError(`${what}: missing`, start)
    const tag = this.#bytes[start]!
    // High tag numbers (X.690 section 8.1.2.4) never occur at the levels this reader walks.
    if ((tag & 0x1f) === 0x1f) throw new DerError(`${what}: unsupported high tag number form`, start)
    let at = start + 1
    if (at >= this.#end) throw new DerError(`${what}: no length`, at)
    const first = this.#bytes[at++]!
    let length: number
    if (first < 0x80) {
      length = first // short form, X.690 section 8.1.3.4
    } else {
      const count = first & 0x7f
      // 0x80 is BER's indefinite form, which DER forbids (X.690 section 10.1); 0xff is reserved
      // (section 8.1.3.5 c). Four length bytes already exceed any certificate we could be given.
      if (count === 0) throw new DerError(`${what}: indefinite length, which DER forbids`, at - 1)
      if (count > 4) throw new DerError(`${what}: a length in ${count} bytes`, at - 1)
      if (count > this.#end - at) throw new DerError(`${what}: the length runs past its parent`, at)
      length = 0
      for (let i = 0; i < count; i++) length = length * 256 + this.#bytes[at++]!
      // DER encodes every length in the fewest bytes (X.690 section 10.1): the long form only from
      // 128 up, and no leading zero byte.
      if (length < 0x80 || this.#bytes[at - count] === 0) {
        throw new DerError(`${what}: a length not in its shortest form, which DER forbids`, at - count - 1)
      }
    }
    if (length > this.#end - at) throw new DerError(`${what}: ${length} bytes of contents run past their parent`, at)
    this.#position = at + length
    return { tag, start, contentStart: at, end: at + length }
  }
}

/**
 * The dotted form of OBJECT IDENTIFIER contents (X.690 section 8.19): base-128 sub-identifiers,
 * the first of which packs the first two arcs as 40 * X + Y. BigInt keeps long arcs exact (UUID
 * OIDs under 2.25 have 128-bit arcs); nothing here grows beyond the input's length.
 */
export function decodeOid(contents: Uint8Array, offset = 0): string {
  if (contents.length === 0) throw new DerError('an empty OBJECT IDENTIFIER', offset)
  const arcs: string[] = []
  let value = 0n
  let fresh = true
  for (let i = 0; i < contents.length; i++) {
    const byte = contents[i]!
    // A sub-identifier in the fewest octets never starts with 0x80 (X.690 section 8.19.2).
    if (fresh && byte === 0x80) throw new DerError('an OID sub-identifier not in its shortest form', offset + i)
    value = (value << 7n) | BigInt(byte & 0x7f)
    fresh = (byte & 0x80) === 0
    if (!fresh) continue
    if (arcs.length === 0) {
      // X.690 section 8.19.4: arcs 0 and 1 have at most 40 children; arc 2 takes the rest.
      const first = value < 40n ? 0n : value < 80n ? 1n : 2n
      arcs.push(first.toString(), (value - first * 40n).toString())
    } else {
      arcs.push(value.toString())
    }
    value = 0n
  }
  if (!fresh) throw new DerError('an OBJECT IDENTIFIER ends inside a sub-identifier', offset + contents.length - 1)
  return arcs.join('.')
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0')
}
