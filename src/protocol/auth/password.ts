/**
 * The password answers to AuthenticationCleartextPassword and AuthenticationMD5Password, as the
 * strings a PasswordMessage carries. Imports md5 only (TextEncoder is UTF-8's encoder everywhere);
 * pure, no I/O. Loaded only for md5: importing bytes/utf8.ts too would make that module a chunk
 * of its own, shared with the main one, which costs every bundle its own gzip window.
 */
import { md5Hex } from './md5.ts'

/**
 * AuthenticationCleartextPassword (B): the server asks for the password itself.
 * The answer is the password, unchanged (protocol docs, "Message Flow", cleartext password).
 */
export function cleartextPasswordResponse(password: string): string {
  return password
}

/**
 * AuthenticationMD5Password (B)
 *   Byte1('R') Int32(12) Int32(5) Byte4 salt
 *
 * The answer is 'md5' followed by md5hex(md5hex(password || user) || salt) (protocol docs,
 * "Message Flow"). The inner hash is what pg_authid stores for an md5 password; the salt makes
 * the wire value different on every connection. The concatenations are over bytes: the password
 * and user name in UTF-8, then the 32 ASCII hex digits and the 4 raw salt bytes.
 */
export function md5PasswordResponse(user: string, password: string, salt: Uint8Array): string {
  if (salt.length !== 4) throw new RangeError(`an MD5 salt is 4 bytes, not ${salt.length}`)
  const utf8 = new TextEncoder()
  const inner = md5Hex(concat(utf8.encode(password), utf8.encode(user)))
  const outer = new Uint8Array(32 + 4)
  // The hex digits are ASCII, so each UTF-16 code unit is its own byte.
  for (let i = 0; i < 32; i++) outer[i] = inner.charCodeAt(i)
  outer.set(salt, 32)
  return 'md5' + md5Hex(outer)
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const both = new Uint8Array(a.length + b.length)
  both.set(a)
  both.set(b, a.length)
  return both
}
