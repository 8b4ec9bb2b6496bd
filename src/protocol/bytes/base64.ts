/**
 * Base64 with the standard alphabet and padding (RFC 4648 section 4), decoded strictly.
 * Imports nothing. Pure TypeScript: no Buffer, no atob, so it runs unchanged in every runtime.
 *
 * SCRAM carries its salt, nonce and signatures in base64 (RFC 5802 section 5.1). A lenient decoder
 * would let a server smuggle bytes past a check ("QQ==junk"), so anything that is not the one
 * canonical encoding of some byte string is refused: RFC 4648 section 3.3 lets an implementation
 * reject characters outside the alphabet, section 3.5 lets it reject non-zero pad bits.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
const PAD = 0x3d // '='

/** The 6-bit value of each ASCII code, or -1 for a character outside the alphabet. */
const VALUES = new Int8Array(128).fill(-1)
for (let i = 0; i < ALPHABET.length; i++) VALUES[ALPHABET.charCodeAt(i)] = i

/**
 * Text that is not strict base64. A SyntaxError, as JSON.parse throws: the text is malformed, and
 * the caller decides what that means for the protocol (SCRAM turns it into a refusal).
 */
export class Base64Error extends SyntaxError {
  override name = 'Base64Error'
}

export function encodeBase64(bytes: Uint8Array): string {
  let text = ''
  let i = 0
  // Each whole 3-byte group becomes 4 characters.
  for (; i + 2 < bytes.length; i += 3) text += quantum((bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!, 4)
  // One or two bytes left: the final quantum is padded with '=' (RFC 4648 section 4, cases 2 and 3).
  const left = bytes.length - i
  if (left === 1) text += quantum(bytes[i]! << 16, 2) + '=='
  else if (left === 2) text += quantum((bytes[i]! << 16) | (bytes[i + 1]! << 8), 3) + '='
  return text
}

/** The first `count` characters that encode a 24-bit group. */
function quantum(group: number, count: number): string {
  let text = ''
  for (let shift = 18; count > 0; shift -= 6, count--) text += ALPHABET[(group >>> shift) & 63]!
  return text
}

/**
 * Decodes `text`, throwing Base64Error unless it is exactly the canonical encoding of some bytes:
 * a multiple of 4 characters, all from the alphabet, with '=' only as the last one or two
 * characters, and zero bits wherever the padding leaves bits unused.
 */
export function decodeBase64(text: string): Uint8Array {
  if (text.length % 4 !== 0) throw new Base64Error(`base64 length ${text.length} is not a multiple of 4`)
  // At most two '=' and only at the very end; each one means one byte fewer in the last group.
  let padding = 0
  if (text.length > 0 && text.charCodeAt(text.length - 1) === PAD) padding = text.charCodeAt(text.length - 2) === PAD ? 2 : 1
  const out = new Uint8Array((text.length / 4) * 3 - padding)
  const dataEnd = text.length - padding
  let o = 0
  for (let i = 0; i < text.length; i += 4) {
    // In the last group, padding positions count as zero bits; everywhere else they are errors.
    const a = sextet(text, i, dataEnd)
    const b = sextet(text, i + 1, dataEnd)
    const c = i + 2 < dataEnd ? sextet(text, i + 2, dataEnd) : 0
    const d = i + 3 < dataEnd ? sextet(text, i + 3, dataEnd) : 0
    const group = (a << 18) | (b << 12) | (c << 6) | d
    out[o++] = group >>> 16
    if (o < out.length) out[o++] = (group >>> 8) & 0xff
    if (o < out.length) out[o++] = group & 0xff
    if (i + 4 === text.length && padding > 0 && (group & (padding === 2 ? 0xffff : 0xff)) !== 0) {
      throw new Base64Error('base64 has non-zero bits under its padding (not canonical, RFC 4648 section 3.5)')
    }
  }
  return out
}

/** The 6-bit value at text[at], refusing '=' before the padding and anything outside the alphabet. */
function sextet(text: string, at: number, dataEnd: number): number {
  const code = text.charCodeAt(at)
  const value = code < 128 ? VALUES[code]! : -1
  if (value === -1 || at >= dataEnd) {
    const what = code === PAD ? "'=' before the end" : `character U+${code.toString(16).padStart(4, '0')}`
    throw new Base64Error(`invalid base64: ${what} at position ${at}`)
  }
  return value
}
