/**
 * MD5 (RFC 1321), in plain TypeScript because WebCrypto leaves it out. Imports nothing.
 *
 * Only PostgreSQL's legacy md5 password method uses it (see password.ts). MD5 is broken as a
 * hash; here it is the wire format a server asks for, not a choice this library makes.
 */

/** Per-round left-rotation amounts (RFC 1321 section 3.4, the S11..S44 constants), four per round. */
const SHIFTS = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21]

/**
 * T[i] = floor(2^32 * |sin(i + 1)|), the table of RFC 1321 section 3.4. Written out rather than
 * computed: ECMAScript lets Math.sin be approximate, and one wrong low bit would break the hash.
 */
const T = new Uint32Array([
  0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
  0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
  0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
  0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
  0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
  0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
  0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
  0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
])

/** MD5 of `data`: 16 bytes. */
export function md5(data: Uint8Array): Uint8Array {
  // Section 3.1 and 3.2: append a 1 bit, zeros up to 56 mod 64 bytes, then the bit length as a
  // 64-bit little-endian integer, so the message is a whole number of 64-byte blocks.
  const padded = new Uint8Array((((data.length + 8) >>> 6) + 1) << 6)
  padded.set(data)
  padded[data.length] = 0x80
  const view = new DataView(padded.buffer, padded.byteOffset, padded.byteLength)
  const bits = data.length * 8
  view.setUint32(padded.length - 8, bits >>> 0, true)
  view.setUint32(padded.length - 4, Math.floor(bits / 2 ** 32), true)

  // Section 3.3: the four-word buffer, initialized to these constants.
  let a0 = 0x67452301
  let b0 = 0xefcdab89
  let c0 = 0x98badcfe
  let d0 = 0x10325476
  const x = new Uint32Array(16)

  // Section 3.4: each 16-word block goes through four rounds of sixteen operations.
  for (let block = 0; block < padded.length; block += 64) {
    for (let j = 0; j < 16; j++) x[j] = view.getUint32(block + j * 4, true)
    let a = a0
    let b = b0
    let c = c0
    let d = d0
    for (let i = 0; i < 64; i++) {
      const round = i >>> 4
      let f: number
      let k: number
      if (round === 0) {
        f = (b & c) | (~b & d) // F(X,Y,Z) = XY v not(X) Z
        k = i
      } else if (round === 1) {
        f = (b & d) | (c & ~d) // G(X,Y,Z) = XZ v Y not(Z)
        k = (5 * i + 1) & 15
      } else if (round === 2) {
        f = b ^ c ^ d // H(X,Y,Z) = X xor Y xor Z
        k = (3 * i + 5) & 15
      } else {
        f = c ^ (b | ~d) // I(X,Y,Z) = Y xor (X v not(Z))
        k = (7 * i) & 15
      }
      // a = b + ((a + f + X[k] + T[i]) <<< s), then the registers rotate: (a, b, c, d) <- (d, a', b, c).
      const sum = (a + f + x[k]! + T[i]!) | 0
      const s = SHIFTS[(round << 2) | (i & 3)]!
      const rotated = (sum << s) | (sum >>> (32 - s))
      a = d
      d = c
      c = b
      b = (b + rotated) | 0
    }
    a0 = (a0 + a) | 0
    b0 = (b0 + b) | 0
    c0 = (c0 + c) | 0
    d0 = (d0 + d) | 0
  }

  // Section 3.5: the digest is A, B, C, D, each little-endian.
  const digest = new Uint8Array(16)
  const out = new DataView(digest.buffer)
  out.setUint32(0, a0, true)
  out.setUint32(4, b0, true)
  out.setUint32(8, c0, true)
  out.setUint32(12, d0, true)
  return digest
}

/** MD5 of `data` as 32 lowercase hexadecimal digits, the form PostgreSQL uses. */
export function md5Hex(data: Uint8Array): string {
  let hex = ''
  for (const byte of md5(data)) hex += byte.toString(16).padStart(2, '0')
  return hex
}
