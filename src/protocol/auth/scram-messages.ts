/**
 * The text of SCRAM messages (RFC 5802 section 7): the server's two messages parsed and checked,
 * and the small pieces of the client's. Imports errors and base64; no hashing, no state.
 *
 * Each check raises AuthenticationRefusedError. The messages name the attribute at fault and,
 * where it helps, the server's value; nothing here ever sees the password.
 */
import { AuthenticationRefusedError } from '../errors.ts'
import { Base64Error, decodeBase64 } from '../bytes/base64.ts'

/** The parts of a server-first-message the client goes on with. */
export interface ServerFirstMessage {
  /** r=: the client's nonce with the server's part appended. */
  readonly nonce: string
  /** s=: the salt, decoded from base64. */
  readonly salt: Uint8Array
  /** i=: the PBKDF2 iteration count. */
  readonly iterations: number
}

/**
 * The longest salt taken, in base64 characters, checked before decoding: a hostile server's
 * megabytes of base64 would hold the event loop. RFC 5802 sets no bound; PostgreSQL's salts are
 * 16 bytes, 24 characters (1,024 is 768 bytes). parseServerFinalMessage bounds the signature so.
 */
const maxSaltCharacters = 1024

/**
 * server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count ["," extensions]
 *
 * PostgreSQL sends exactly `r=...,s=...,i=...`. An m= attribute must fail authentication
 * (RFC 5802 section 5.1: "its presence in a client or a server message MUST cause authentication
 * failure"); other extensions are refused too, since no server this client talks to sends any.
 * The iteration count is checked against `maxIterations` here, before anyone hashes: a hostile
 * server could otherwise make the client spin for hours on one PBKDF2.
 */
export function parseServerFirstMessage(text: string, clientNonce: string, maxIterations: number): ServerFirstMessage {
  const what = 'SCRAM server-first-message'
  const attributes = text.split(',')
  if (attributes[0]?.startsWith('m=')) {
    throw refused(`${what}: the mandatory extension m= is not supported (RFC 5802 section 5.1)`)
  }
  const nonce = attribute(attributes, 0, 'r', what)
  const encodedSalt = attribute(attributes, 1, 's', what)
  const iterationText = attribute(attributes, 2, 'i', what)
  if (attributes.length > 3) throw refused(`${what}: unexpected attribute after i= (extensions are not supported)`)

  // RFC 5802 section 5.1, r=: the server appends its own nonce to the client's. A nonce that does
  // not start with ours answers some other exchange; one that adds nothing is not fresh.
  if (!nonce.startsWith(clientNonce)) throw refused(`${what}: the server nonce does not start with the client nonce`)
  if (nonce.length === clientNonce.length) throw refused(`${what}: the server nonce adds nothing to the client nonce`)
  if (!isPrintable(nonce)) throw refused(`${what}: the server nonce has a character outside printable ASCII`)

  if (encodedSalt.length > maxSaltCharacters) {
    throw refused(`${what}: the salt s= is ${encodedSalt.length} characters, over the ${maxSaltCharacters} pglisten takes`)
  }
  const salt = base64(encodedSalt, `${what}: the salt s=`)
  if (salt.length === 0) throw refused(`${what}: the salt s= is empty`)

  // iteration-count = posit-number, and posit-number = %x31-39 *DIGIT: no sign, no leading zero.
  if (!/^[1-9][0-9]*$/.test(iterationText)) {
    throw refused(`${what}: the iteration count i=${quote(iterationText)} is not a positive decimal integer`)
  }
  const iterations = Number(iterationText)
  if (iterations > maxIterations) {
    throw refused(`${what}: the iteration count i=${quote(iterationText)} is above the limit of ${maxIterations}`)
  }
  return { nonce, salt, iterations }
}

/**
 * server-final-message = (server-error / verifier) ["," extensions]
 * server-error = "e=" server-error-value;  verifier = "v=" base64
 *
 * Returns the ServerSignature the server sent. An e= is the server saying the exchange failed
 * (RFC 5802 section 7 lists the values, e.g. invalid-proof); its value is put in the error so the
 * reason is not lost. Anything after the verifier is refused.
 */
export function parseServerFinalMessage(text: string): Uint8Array {
  const what = 'SCRAM server-final-message'
  const attributes = text.split(',')
  const first = attributes[0]!
  if (first.startsWith('e=')) throw refused(`${what}: the server reports an error: e=${quote(first.slice(2))}`)
  if (!first.startsWith('v=')) throw refused(`${what}: expected v= or e=, found ${quote(first.slice(0, 2))}`)
  if (attributes.length > 1) throw refused(`${what}: unexpected attribute after v= (extensions are not supported)`)

  // Bounded before decoding, as the salt is: a signature is 44 characters; up to 64, its decoded length is told.
  if (first.length - 2 > 64) throw refused(`${what}: the server signature v= is ${first.length - 2} characters, not 44`)
  const signature = base64(first.slice(2), `${what}: the server signature v=`)
  // The ServerSignature is an HMAC-SHA-256: 32 bytes, no more, no less (RFC 7677 section 3).
  if (signature.length !== 32) throw refused(`${what}: the server signature v= is ${signature.length} bytes, not 32`)
  return signature
}

/**
 * printable = %x21-2B / %x2D-7E: printable ASCII except ',' (RFC 5802 section 7), the alphabet
 * of a nonce. A client nonce must be printable and not empty.
 */
export function isPrintable(text: string): boolean {
  if (text.length === 0) return false
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i)
    if (unit < 0x21 || unit > 0x7e || unit === 0x2c) return false
  }
  return true
}

/**
 * saslname (RFC 5802 section 5.1): the user name with '=' written as "=3D" and ',' as "=2C", so
 * that neither can end the attribute early.
 */
export function encodeSaslName(name: string): string {
  return name.replace(/=/g, '=3D').replace(/,/g, '=2C')
}

/** Expects attribute number `index` to be `name=value` and returns the value. */
function attribute(attributes: readonly string[], index: number, name: string, what: string): string {
  const found = attributes[index]
  if (found === undefined) throw refused(`${what}: the message ends before ${name}=`)
  if (!found.startsWith(`${name}=`)) {
    // Only the attribute's name is shown: its value can be long, and the name says what is wrong.
    throw refused(`${what}: expected ${name}= as attribute ${index + 1}, found ${quote(found.slice(0, 2))}`)
  }
  return found.slice(2)
}

/** An attribute's base64 value decoded; if it is not base64, refused in words that `named` begins. */
function base64(value: string, named: string): Uint8Array {
  try {
    return decodeBase64(value)
  } catch (cause) {
    if (!(cause instanceof Base64Error)) throw cause
    throw refused(`${named} is not valid base64`, cause)
  }
}

/** A server value for an error message: JSON-quoted so control characters show, and bounded. */
function quote(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}...` : value)
}

function refused(message: string, cause?: unknown): AuthenticationRefusedError {
  return new AuthenticationRefusedError(message, cause === undefined ? undefined : { cause })
}
