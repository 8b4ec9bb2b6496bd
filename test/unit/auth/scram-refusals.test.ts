/**
 * Every check the SCRAM client makes on the server's messages, each in its own test, then the
 * same checks as fast-check laws. A refusal is always an AuthenticationRefusedError.
 */
import { fc, test as fcTest } from '@fast-check/vitest'
import { afterEach, describe, expect, test, vi } from 'vitest'
import { AuthenticationRefusedError } from '../../../src/protocol/errors.ts'
import { Base64Error, encodeBase64 } from '../../../src/protocol/bytes/base64.ts'
import { SaltedPasswordCache } from '../../../src/protocol/auth/scram.ts'
import { parseServerFinalMessage, parseServerFirstMessage } from '../../../src/protocol/auth/scram-messages.ts'
import { RFC7677, SALT, SERVER_NONCE, ascii, caught, expectRefusal, proved, started } from './scram-support.ts'

afterEach(() => {
  vi.restoreAllMocks()
})

/** Feeds `serverFirst` to a started RFC 7677 client and expects a refusal matching `message`. */
async function refusesServerFirst(serverFirst: string, message: RegExp, maxIterations?: number): Promise<void> {
  const client = started(maxIterations === undefined ? {} : { maxIterations })
  await expectRefusal(() => client.clientFinalMessage(ascii(serverFirst)), message)
}

describe('server-first-message', () => {
  test('a nonce that does not start with ours', async () => {
    await refusesServerFirst(`r=X${SERVER_NONCE.slice(1)},s=${SALT},i=4096`, /does not start with the client nonce/)
  })

  test('a nonce that is ours and nothing more', async () => {
    await refusesServerFirst(`r=${RFC7677.nonce},s=${SALT},i=4096`, /adds nothing/)
  })

  test('a nonce shorter than ours', async () => {
    await refusesServerFirst(`r=${RFC7677.nonce.slice(0, 5)},s=${SALT},i=4096`, /does not start with the client nonce/)
  })

  test("a nonce with the ends of the printable range, '!' (0x21) and '~' (0x7e), is accepted", async () => {
    const client = started()
    const final = await client.clientFinalMessage(ascii(`r=${RFC7677.nonce}!x~,s=${SALT},i=4096`))
    expect(new TextDecoder().decode(final)).toMatch(new RegExp(`^c=biws,r=${RFC7677.nonce}!x~,p=`))
  })

  test.each([' ', '\u0001', '\u007f', '\u00e9'])('a nonce with the character %j, not printable ASCII', async (char) => {
    await refusesServerFirst(`r=${RFC7677.nonce}abc${char},s=${SALT},i=4096`, /printable/)
  })

  test('a salt that is not base64', async () => {
    await refusesServerFirst(`r=${SERVER_NONCE},s=W22Z*J0SNY7soEsUEjb6gQ==,i=4096`, /salt s= is not valid base64/)
  })

  test('a salt that is base64 with the wrong length', async () => {
    await refusesServerFirst(`r=${SERVER_NONCE},s=W22ZaJ0SNY7soEsUEjb6gQ=,i=4096`, /salt s= is not valid base64/)
  })

  test('an empty salt', async () => {
    await refusesServerFirst(`r=${SERVER_NONCE},s=,i=4096`, /salt s= is empty/)
    // Bounded before decoding: megabytes of base64 would hold the event loop. 1,024 is taken.
    await refusesServerFirst(`r=${SERVER_NONCE},s=${'A'.repeat(1028)},i=4096`, /salt s= is 1028 characters, over the 1024 pglisten takes/)
    expect(parseServerFirstMessage(`r=${SERVER_NONCE},s=${'A'.repeat(1024)},i=4096`, RFC7677.nonce, 4096).salt).toHaveLength(768)
  })

  test('attributes out of order: s= first', async () => {
    await refusesServerFirst(`s=${SALT},r=${SERVER_NONCE},i=4096`, /expected r= as attribute 1/)
  })

  test('attributes out of order: i= before s=', async () => {
    await refusesServerFirst(`r=${SERVER_NONCE},i=4096,s=${SALT}`, /expected s= as attribute 2/)
  })

  test('a missing iteration count', async () => {
    await refusesServerFirst(`r=${SERVER_NONCE},s=${SALT}`, /ends before i=/)
  })

  test('the reserved extension m= (RFC 5802 section 5.1)', async () => {
    await refusesServerFirst(`m=ext,r=${SERVER_NONCE},s=${SALT},i=4096`, /m= is not supported/)
  })

  test('an extension after i=', async () => {
    await refusesServerFirst(`r=${SERVER_NONCE},s=${SALT},i=4096,x=1`, /unexpected attribute after i=/)
  })

  test.each(['0', '-1', '1.5', '4096x', '', '04096', '+4096', ' 4096', '0x1000', '1e3'])(
    'the iteration count i=%j, not a positive decimal integer',
    async (count) => {
      await refusesServerFirst(`r=${SERVER_NONCE},s=${SALT},i=${count}`, /not a positive decimal integer/)
    },
  )

  test('an iteration count above maxIterations', async () => {
    await refusesServerFirst(`r=${SERVER_NONCE},s=${SALT},i=4097`, /i="4097" is above the limit of 4096/, 4096)
  })

  test('an absurd iteration count is refused at once, under the default cap of 600,000', async () => {
    // Were this hashed, PBKDF2 would run for days and the test would time out.
    await refusesServerFirst(`r=${SERVER_NONCE},s=${SALT},i=99999999999999999999`, /above the limit of 600000/)
  })

  test('the cap is checked before any hashing: PBKDF2 never starts', async () => {
    const deriveBits = vi.spyOn(globalThis.crypto.subtle, 'deriveBits')
    const importKey = vi.spyOn(globalThis.crypto.subtle, 'importKey')
    const cache = new SaltedPasswordCache()
    const client = started({ maxIterations: 1, cache })
    await expectRefusal(() => client.clientFinalMessage(ascii(`r=${SERVER_NONCE},s=${SALT},i=2`)), /above the limit/)
    expect(deriveBits).not.toHaveBeenCalled()
    expect(importKey).not.toHaveBeenCalled()
    expect(cache.size).toBe(0)
    // The spy does see hashing when it happens: the same client setup with a count within the cap.
    await started({ maxIterations: 4096 }).clientFinalMessage(ascii(RFC7677.serverFirst))
    expect(deriveBits).toHaveBeenCalledTimes(1)
  })

  test('bytes that are not UTF-8', async () => {
    const client = started()
    const error = await expectRefusal(() => client.clientFinalMessage(Uint8Array.of(0x72, 0x3d, 0xff)), /not valid UTF-8/)
    expect(error.cause).toBeInstanceOf(Error)
  })
})

describe('server-final-message', () => {
  test("e= is refused, and the server's reason is in the message", async () => {
    const client = await proved()
    await expectRefusal(() => client.verifyServerFinal(ascii('e=invalid-proof')), /server reports an error: e="invalid-proof"/)
  })

  test('a v= shorter than 32 bytes', async () => {
    const client = await proved()
    await expectRefusal(() => client.verifyServerFinal(ascii('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5n')), /24 bytes, not 32/)
  })

  test('a v= longer than 32 bytes', async () => {
    const client = await proved()
    const longer = `v=${encodeBase64(new Uint8Array(33))}`
    await expectRefusal(() => client.verifyServerFinal(ascii(longer)), /33 bytes, not 32/)
  })

  test('a v= bounded before it is decoded: 64 characters are decoded and their length told, 68 are not decoded', async () => {
    const decoded = await proved() // a client refuses once, then stays failed: one each
    await expectRefusal(() => decoded.verifyServerFinal(ascii(`v=${encodeBase64(new Uint8Array(48))}`)), /48 bytes, not 32/)
    const bounded = await proved()
    await expectRefusal(() => bounded.verifyServerFinal(ascii(`v=${encodeBase64(new Uint8Array(51))}`)), /v= is 68 characters, not 44/)
  })

  test('a wrong v= of the right length', async () => {
    const client = await proved()
    await expectRefusal(() => client.verifyServerFinal(ascii(`v=${encodeBase64(new Uint8Array(32))}`)), /signature is wrong/)
    expect(client.done).toBe(false)
  })

  test('a v= that is not strict base64', async () => {
    const client = await proved()
    const unpadded = RFC7677.serverFinal.replace(/=$/, '')
    await expectRefusal(() => client.verifyServerFinal(ascii(unpadded)), /v= is not valid base64/)
  })

  test('anything after a correct v=', async () => {
    const client = await proved()
    await expectRefusal(() => client.verifyServerFinal(ascii(`${RFC7677.serverFinal},x=1`)), /unexpected attribute after v=/)
  })

  test('neither v= nor e=', async () => {
    const client = await proved()
    await expectRefusal(() => client.verifyServerFinal(ascii('x=abc')), /expected v= or e=/)
  })

  test('bytes that are not UTF-8', async () => {
    const client = await proved()
    await expectRefusal(() => client.verifyServerFinal(Uint8Array.of(0x76, 0x3d, 0xc3)), /not valid UTF-8/)
  })
})

describe('the words of a refusal', () => {
  // A server-error-value (RFC 5802 section 7) is any value the server likes: what is shown of it
  // is JSON-quoted and cut after 64 characters, with "..." saying it was cut.
  const letters = (length: number) => Array.from({ length }, (_, i) => String.fromCharCode(0x61 + (i % 26))).join('')

  test('e= of 64 characters is shown whole', () => {
    const value = letters(64)
    expect(() => parseServerFinalMessage(`e=${value}`)).toThrow(
      new AuthenticationRefusedError(`SCRAM server-final-message: the server reports an error: e="${value}"`),
    )
  })

  test.each([65, 200])('e= of %i characters is shown to its 64th, then "..."', (length) => {
    const value = letters(length)
    expect(() => parseServerFinalMessage(`e=${value}`)).toThrow(
      new AuthenticationRefusedError(`SCRAM server-final-message: the server reports an error: e="${letters(64)}..."`),
    )
  })

  test('an iteration count over the limit, 70 digits long, is shown cut too', () => {
    const count = '9'.repeat(70)
    expect(() => parseServerFirstMessage(`r=${SERVER_NONCE},s=${SALT},i=${count}`, RFC7677.nonce, 4096)).toThrow(
      new AuthenticationRefusedError(`SCRAM server-first-message: the iteration count i="${'9'.repeat(64)}..." is above the limit of 4096`),
    )
  })

  test('neither v= nor e=: the message is named, and only the first two characters are shown', () => {
    expect(() => parseServerFinalMessage('x=abc')).toThrow(
      new AuthenticationRefusedError('SCRAM server-final-message: expected v= or e=, found "x="'),
    )
  })

  test('an attribute out of place: only its name is shown, not its value', () => {
    expect(() => parseServerFirstMessage(`s=${SALT},r=${SERVER_NONCE},i=4096`, RFC7677.nonce, 4096)).toThrow(
      new AuthenticationRefusedError('SCRAM server-first-message: expected r= as attribute 1, found "s="'),
    )
  })

  test('base64 that is not valid is a refusal, caused by the Base64Error', () => {
    const error = (() => {
      try {
        parseServerFinalMessage('v=QQ=')
      } catch (error) {
        return error as Error
      }
      throw new Error('expected a refusal')
    })()
    expect(error).toBeInstanceOf(AuthenticationRefusedError)
    expect(error.message).toBe('SCRAM server-final-message: the server signature v= is not valid base64')
    expect(error.cause).toBeInstanceOf(Base64Error)
  })

  test('a failure that is not malformed base64 is not turned into a refusal: it is thrown as it is', () => {
    // decodeBase64 calls btoa to check the encoding is canonical; here btoa itself fails, as a
    // bug or a broken runtime would, which says nothing about what the server sent.
    const failure = new TypeError('btoa failed')
    vi.spyOn(globalThis, 'btoa').mockImplementation(() => {
      throw failure
    })
    expect(() => parseServerFinalMessage(RFC7677.serverFinal)).toThrow(failure)
    let thrown: unknown
    try {
      parseServerFirstMessage(RFC7677.serverFirst, RFC7677.nonce, 4096)
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBe(failure)
  })
})

describe('laws', () => {
  // One cache for all runs: PBKDF2 happens once, the rest of each exchange is still real.
  const cache = new SaltedPasswordCache()
  const signature = Uint8Array.from(Buffer.from(RFC7677.serverFinal.slice(2), 'base64'))

  fcTest.prop([fc.integer({ min: 0, max: 32 * 8 - 1 })])(
    'one flipped bit in the server signature is refused',
    async (bit) => {
      const client = await proved({ cache })
      const flipped = signature.slice()
      flipped[bit >>> 3]! ^= 1 << (bit & 7)
      await expectRefusal(() => client.verifyServerFinal(ascii(`v=${encodeBase64(flipped)}`)), /signature is wrong/)
    },
  )

  const printable = fc.string({
    unit: fc.constantFrom(...Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i)).filter((c) => c !== ',')),
    maxLength: 40,
  })
  // Server nonces that do not extend ours: anything not starting with it, ours with one
  // character changed and something appended, or a prefix of ours (ours whole included: a
  // server nonce that adds nothing to ours is refused too).
  const notExtending = fc.oneof(
    printable.filter((nonce) => !nonce.startsWith(RFC7677.nonce)),
    fc.tuple(fc.nat(), printable).map(([at, tail]) => {
      const i = at % RFC7677.nonce.length
      const changed = RFC7677.nonce[i] === 'A' ? 'B' : 'A'
      return RFC7677.nonce.slice(0, i) + changed + RFC7677.nonce.slice(i + 1) + tail
    }),
    fc.nat({ max: RFC7677.nonce.length }).map((length) => RFC7677.nonce.slice(0, length)),
  )

  fcTest.prop([notExtending])('a server nonce that does not extend ours is refused', async (nonce) => {
    const client = started()
    await expectRefusal(() => client.clientFinalMessage(ascii(`r=${nonce},s=${SALT},i=4096`)), /nonce/)
  })

  fcTest.prop([fc.uint8Array({ maxLength: 80 })], { numRuns: 200 })(
    'arbitrary server-first bytes yield an AuthenticationRefusedError and nothing else',
    async (bytes) => {
      const error = await caught(() => started({ maxIterations: 1 }).clientFinalMessage(bytes))
      expect(error).toBeInstanceOf(AuthenticationRefusedError)
    },
  )
})
