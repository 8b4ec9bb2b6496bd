/**
 * A small cache of SCRAM SaltedPassword values, so that reconnecting to the same server skips
 * PBKDF2 (thousands of HMACs). Imports only crypto.
 *
 * What it holds is sensitive: SaltedPassword = Hi(password, salt, i) (RFC 5802 section 3) yields
 * ClientKey, which is all a client needs to log in to that server. So the entries live in a
 * `#private` field, invisible to util.inspect, JSON.stringify and Object.keys; and an entry is
 * keyed not by the password but by SHA-256(password, salt, iterations), so the cache never holds
 * the password itself, not even as a Map key.
 */
import { pbkdf2Sha256, sha256 } from './crypto.ts'

export class SaltedPasswordCache {
  /** Key (hex SHA-256) to SaltedPassword, oldest use first: a Map iterates in insertion order. */
  readonly #entries = new Map<string, Uint8Array>()
  readonly #capacity: number

  /** Keeps the `capacity` most recently used entries (16 by default: a few servers, a few roles). */
  constructor(capacity = 16) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`invalid cache capacity ${capacity}`)
    this.#capacity = capacity
  }

  get size(): number {
    return this.#entries.size
  }

  clear(): void {
    for (const value of this.#entries.values()) value.fill(0)
    this.#entries.clear()
  }

  /**
   * SaltedPassword for these inputs: from the cache, or computed with PBKDF2 and remembered.
   * `password` is the prepared password in UTF-8. Returns a copy the caller may wipe.
   */
  async saltedPassword(password: Uint8Array, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
    const key = await cacheKey(password, salt, iterations)
    const cached = this.#entries.get(key)
    if (cached !== undefined) {
      // Move the entry to the back: it is now the most recently used.
      this.#entries.delete(key)
      this.#entries.set(key, cached)
      return cached.slice()
    }
    const computed = await pbkdf2Sha256(password, salt, iterations)
    this.#entries.set(key, computed.slice())
    if (this.#entries.size > this.#capacity) {
      const [oldest, value] = this.#entries.entries().next().value!
      value.fill(0)
      this.#entries.delete(oldest)
    }
    return computed
  }
}

/**
 * SHA-256 over length-prefixed fields, Int32 length + bytes for the password and the salt, then
 * Int32 iterations: the prefixes keep ("ab", "c") and ("a", "bc") apart.
 */
async function cacheKey(password: Uint8Array, salt: Uint8Array, iterations: number): Promise<string> {
  // Built by hand rather than with ByteWriter, whose growable buffer would keep a copy of the
  // password that could not be wiped afterwards.
  const input = new Uint8Array(12 + password.length + salt.length)
  const view = new DataView(input.buffer)
  view.setUint32(0, password.length)
  input.set(password, 4)
  view.setUint32(4 + password.length, salt.length)
  input.set(salt, 8 + password.length)
  view.setUint32(8 + password.length + salt.length, iterations)
  const digest = await sha256(input)
  input.fill(0)
  let hex = ''
  for (const byte of digest) hex += byte.toString(16).padStart(2, '0')
  return hex
}
