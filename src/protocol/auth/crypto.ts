/**
 * The few cryptographic primitives authentication needs, as thin wrappers over WebCrypto.
 * Imports nothing; uses only `globalThis.crypto`, so it runs unchanged on Node, Bun, Deno and Workers.
 *
 * WebCrypto is asynchronous, which is why the SCRAM steps that hash are async too.
 */

// Looked up on each call rather than captured at import, so a runtime that installs `crypto` late
// (or a test that spies on it) is seen.
const subtle = () => globalThis.crypto.subtle

/** SHA-256 (FIPS 180-4) of `data`: 32 bytes. */
export async function sha256(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle().digest('SHA-256', data))
}

/** HMAC-SHA-256 (RFC 2104) of `data` under `key`: 32 bytes. */
export async function hmacSha256(key: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  // WebCrypto refuses a zero-length HMAC key, but RFC 2104 section 2 pads every key shorter than
  // the 64-byte block with zeros, so the empty key and the one-zero-byte key are the same key.
  const raw = key.length === 0 ? new Uint8Array(1) : key
  const hmacKey = await subtle().importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
  return new Uint8Array(await subtle().sign('HMAC', hmacKey, data))
}

/**
 * PBKDF2 with HMAC-SHA-256 (RFC 8018 section 5.2), 32 bytes of output: SCRAM's Hi() (RFC 5802
 * section 2.2) is exactly PBKDF2 with dkLen equal to the hash length.
 *
 * Cloudflare Workers refuse iteration counts above 100,000; PostgreSQL's default is 4096
 * (the scram_iterations setting), so only a server configured far above it meets that limit.
 */
export async function pbkdf2Sha256(password: Uint8Array, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  if (!Number.isSafeInteger(iterations) || iterations < 1) throw new RangeError(`invalid PBKDF2 iteration count ${iterations}`)
  const key = await subtle().importKey('raw', password, 'PBKDF2', false, ['deriveBits'])
  return new Uint8Array(await subtle().deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations }, key, 256))
}

/** `count` bytes from the runtime's cryptographically strong generator. */
export function randomBytes(count: number): Uint8Array {
  if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`invalid byte count ${count}`)
  const bytes = new Uint8Array(count)
  // getRandomValues fills at most 65,536 bytes per call (WebCrypto, section 10.1.1).
  for (let at = 0; at < count; at += 65_536) globalThis.crypto.getRandomValues(bytes.subarray(at, at + 65_536))
  return bytes
}

/**
 * Whether `a` and `b` hold the same bytes, in time that depends only on their lengths: every byte
 * is compared and the differences are OR-ed together, so an attacker timing the comparison of a
 * forged signature learns nothing about how many of its leading bytes were right. Lengths are
 * public (a SHA-256 signature is always 32 bytes), so a length mismatch returns at once.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let difference = 0
  for (let i = 0; i < a.length; i++) difference |= a[i]! ^ b[i]!
  return difference === 0
}
