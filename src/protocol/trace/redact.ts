/**
 * What the trace never shows of SASL, decided in one place. Pure: imports only the marker.
 *
 * SCRAM (RFC 5802 section 7) is worth seeing, so its messages are shown, less the two
 * attributes computed from the password:
 *  - p=, the ClientProof of the client-final-message. With the AuthMessage (the rest of the
 *    exchange, all in the trace) it gives ClientKey to anyone who has the role's StoredKey, and
 *    it lets anyone test password guesses offline (RFC 5802 section 9).
 *  - v=, the ServerSignature of the server-final-message: HMAC(ServerKey, AuthMessage), just as
 *    good for testing guesses offline.
 * Every other attribute (gs2 header, n=, r=, c=, s=, i=, e=) is public by design: the RFC sends
 * it in the clear. The rule is an allow-list: an attribute not known to be public is redacted.
 * For any other SASL mechanism (OAUTHBEARER carries a bearer token) all data is redacted.
 */
import { REDACTED } from './line.ts'

/** SCRAM-SHA-1, SCRAM-SHA-256, their -PLUS variants: all speak RFC 5802's messages. */
export function isScram(mechanism: string | undefined): boolean {
  return mechanism !== undefined && /^SCRAM-/i.test(mechanism)
}

/**
 * client-final-message = channel-binding "," nonce ["," extensions] "," proof
 * Shows c= and r=; the proof, and any extension, become `p=[redacted]`.
 */
export function redactClientFinal(data: Uint8Array): Uint8Array {
  return keepAttributes(data, 'cr')
}

/**
 * server-final-message = (server-error / verifier) ["," extensions]
 * Shows e= (why the server refused); the verifier becomes `v=[redacted]`.
 */
export function redactServerFinal(data: Uint8Array): Uint8Array {
  return keepAttributes(data, 'e')
}

const comma = 0x2c
const equals = 0x3d
const marker = new TextEncoder().encode(REDACTED)

/**
 * Splits `data` at commas (no SCRAM value may contain one: RFC 5802 escapes it in saslname as
 * "=2C" and excludes it from nonces and base64) and keeps the value of each attribute named in
 * `public_`. Other attributes keep their one-letter name; a part that is not `letter=value`
 * (nor empty) is redacted whole, since nothing says what it is.
 */
function keepAttributes(data: Uint8Array, public_: string): Uint8Array {
  const out: number[] = []
  let start = 0
  for (let i = 0; i <= data.length; i++) {
    if (i < data.length && data[i] !== comma) continue
    if (start > 0) out.push(comma)
    const name = data[start]
    const isAttribute = i - start >= 2 && name !== undefined && isLetter(name) && data[start + 1] === equals
    const empty = i === start
    if (empty || (isAttribute && public_.includes(String.fromCharCode(name)))) for (let j = start; j < i; j++) out.push(data[j]!)
    else {
      if (isAttribute) out.push(name, equals)
      out.push(...marker)
    }
    start = i + 1
  }
  return Uint8Array.from(out)
}

function isLetter(byte: number): boolean {
  return (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
}
