/**
 * The SaltedPassword cache: a reconnect skips PBKDF2, the cache stays bounded, and neither the
 * password nor a salted password can be seen from outside it.
 */
import { pbkdf2Sync } from 'node:crypto'
import { inspect } from 'node:util'
import { afterEach, describe, expect, test, vi } from 'vitest'
import { SaltedPasswordCache } from '../../../src/protocol/auth/salted-password-cache.ts'
import { RFC7677, ascii, started, text } from './scram-support.ts'

afterEach(() => {
  vi.restoreAllMocks()
})

const salt = (n: number) => Uint8Array.of(n, n, n, n)

describe('SaltedPasswordCache', () => {
  test('a second exchange with the same password, salt and count skips PBKDF2 and gets the same proof', async () => {
    const deriveBits = vi.spyOn(globalThis.crypto.subtle, 'deriveBits')
    const cache = new SaltedPasswordCache()
    for (let i = 0; i < 2; i++) {
      const clientFinal = await started({ cache }).clientFinalMessage(ascii(RFC7677.serverFirst))
      expect(text(clientFinal)).toBe(RFC7677.clientFinal)
    }
    expect(deriveBits).toHaveBeenCalledTimes(1)
    expect(cache.size).toBe(1)
  })

  test('returns PBKDF2-HMAC-SHA-256 (checked against Node), keyed by all three inputs', async () => {
    const cache = new SaltedPasswordCache()
    const value = await cache.saltedPassword(ascii('pencil'), salt(1), 16)
    expect(Buffer.from(value).equals(pbkdf2Sync('pencil', salt(1), 16, 32, 'sha256'))).toBe(true)
    await cache.saltedPassword(ascii('pencil'), salt(2), 16) // another salt
    await cache.saltedPassword(ascii('pencil'), salt(1), 17) // another count
    await cache.saltedPassword(ascii('pencils'), salt(1), 16) // another password
    expect(cache.size).toBe(4)
  })

  test('hands out copies: wiping a returned value does not corrupt the cache', async () => {
    const cache = new SaltedPasswordCache()
    const first = await cache.saltedPassword(ascii('pencil'), salt(1), 16)
    const expected = first.slice()
    first.fill(0)
    expect(await cache.saltedPassword(ascii('pencil'), salt(1), 16)).toEqual(expected)
  })

  test('keeps only the most recently used entries', async () => {
    const deriveBits = vi.spyOn(globalThis.crypto.subtle, 'deriveBits')
    const cache = new SaltedPasswordCache(2)
    const password = ascii('pencil')
    await cache.saltedPassword(password, salt(1), 16)
    await cache.saltedPassword(password, salt(2), 16)
    await cache.saltedPassword(password, salt(1), 16) // a hit: salt 1 is now the most recent
    await cache.saltedPassword(password, salt(3), 16) // evicts salt 2, the least recently used
    expect(cache.size).toBe(2)
    expect(deriveBits).toHaveBeenCalledTimes(3)
    await cache.saltedPassword(password, salt(1), 16) // still cached
    expect(deriveBits).toHaveBeenCalledTimes(3)
    await cache.saltedPassword(password, salt(2), 16) // was evicted: computed again
    expect(deriveBits).toHaveBeenCalledTimes(4)
  })

  test('shows neither the password nor any salted password', async () => {
    const cache = new SaltedPasswordCache()
    const value = await cache.saltedPassword(ascii('pencil'), salt(1), 16)
    for (const shown of [inspect(cache, { showHidden: true, depth: Infinity }), JSON.stringify(cache)]) {
      expect(shown).not.toContain('pencil')
      expect(shown).not.toContain(Buffer.from(value).toString('hex'))
      expect(shown).not.toContain(String(value[0]))
    }
    expect(JSON.stringify(cache)).toBe('{}')
  })

  test('clear() empties it', async () => {
    const cache = new SaltedPasswordCache()
    await cache.saltedPassword(ascii('pencil'), salt(1), 16)
    cache.clear()
    expect(cache.size).toBe(0)
  })

  test.each([0, -1, 1.5])('refuses the capacity %s', (capacity) => {
    expect(() => new SaltedPasswordCache(capacity)).toThrow(RangeError)
  })
})
