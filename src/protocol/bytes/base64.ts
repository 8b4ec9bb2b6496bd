/**
 * Base64 with the standard alphabet and padding (RFC 4648 section 4), decoded strictly. Imports
 * nothing; the bits are moved by atob and btoa, which every runtime pglisten runs on has (Node,
 * Bun, Deno, workerd), and what they would let through is checked here first.
 *
 * SCRAM carries its salt, nonce and signatures in base64 (RFC 5802 section 5.1). A lenient decoder
 * would let a server smuggle bytes past a check ("QQ==junk"), so anything that is not the one
 * canonical encoding of some byte string is refused: RFC 4648 section 3.3 lets an implementation
 * reject characters outside the alphabet, section 3.5 lets it reject non-zero pad bits. atob
 * alone is lenient (WHATWG's forgiving-base64: spaces skipped, padding optional).
 */

const PAD = 0x3d // '='

/** Anything outside the alphabet, or a '=' that is not one of the last one or two characters. */
const MISPLACED = /[^A-Za-z0-9+/=]|=(?!=?$)/

/**
 * Text that is not strict base64. A SyntaxError, as JSON.parse throws: the text is malformed, and
 * the caller decides what that means for the protocol (SCRAM turns it into a refusal).
 */
export class Base64Error extends SyntaxError {
  override name = 'Base64Error'
}

export function encodeBase64(bytes: Uint8Array): string {
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary)
}

/**
 * Decodes `text`, throwing Base64Error unless it is exactly the canonical encoding of some bytes:
 * a multiple of 4 characters, all from the alphabet, with '=' only as the last one or two
 * characters, and zero bits wherever the padding leaves bits unused.
 */
export function decodeBase64(text: string): Uint8Array {
  if (text.length % 4 !== 0) throw new Base64Error(`base64 length ${text.length} is not a multiple of 4`)
  const at = text.search(MISPLACED)
  if (at !== -1) {
    const code = text.charCodeAt(at)
    const what = code === PAD ? "'=' before the end" : `character U+${code.toString(16).padStart(4, '0')}`
    throw new Base64Error(`invalid base64: ${what} at position ${at}`)
  }
  let binary: string
  try {
    binary = atob(text) // cannot fail after the checks above; a runtime's atob that does is refused the same way
  } catch (cause) {
    throw new Base64Error('invalid base64', { cause })
  }
  // The one encoding left that atob takes and is not canonical: bits set under the padding.
  if (btoa(binary) !== text) throw new Base64Error('base64 has non-zero bits under its padding (not canonical, RFC 4648 section 3.5)')
  return Uint8Array.from(binary, (char) => char.charCodeAt(0))
}
