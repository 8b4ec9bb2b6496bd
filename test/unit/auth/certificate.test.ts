/**
 * tls-server-end-point channel binding data (RFC 5929 section 4.1): real certificates made by
 * OpenSSL, whose expected hashes OpenSSL computed (test/fixtures/certificates/README.md); then
 * synthetic certificates, written with a test-side DER writer, for every signature algorithm
 * PostgreSQL's OpenSSL maps; then malformed DER, which must be refused with its cause.
 */
import { createHash } from 'node:crypto'
import { fc, test as fcTest } from '@fast-check/vitest'
import { describe, expect, test } from 'vitest'
import { channelBindingHash, signatureAlgorithm, tlsServerEndPoint } from '../../../src/protocol/auth/certificate.ts'
import { DerError } from '../../../src/protocol/auth/der.ts'
import { AuthenticationRefusedError } from '../../../src/protocol/errors.ts'
import { NULL, SEQUENCE, algorithmIdentifier, certificate, derLength, fixture, hex, oid, pssParameters, tlv } from './der-support.ts'

/** Each fixture, its signature algorithm's OID, and `openssl x509 -outform der | openssl dgst -<hash>`. */
const FIXTURES = [
  ['rsa-sha1', '1.2.840.113549.1.1.5', 'SHA-256', 'dbca687ce3df0428a9ee5365663114a5ac937542f7e605bbbcc94127e2e3d025'],
  ['rsa-sha224', '1.2.840.113549.1.1.14', 'SHA-224', 'eb8c2fb294548c9084190c3c22808ff4d50393ff8b1c1e27117d0309'],
  ['rsa-sha256', '1.2.840.113549.1.1.11', 'SHA-256', '8395d8b9d019a6481b10d5130423b752dc80c06df768bba1132a33b39c0585ec'],
  ['rsa-sha384', '1.2.840.113549.1.1.12', 'SHA-384', '50b106cc6d9d8f72623ecda45a7ccdb0ea336e1b13d09e77f1198fcf76fe6a4548b71367eae6566216a7fd11f9491bcb'],
  ['rsa-sha512', '1.2.840.113549.1.1.13', 'SHA-512', '5a8b9bedd804f3e102edcb3bce280603eafeb32d11c4aa6747b99a7b63ad1a4a35f0f8d223c5a96d417204916f05039a08e00405db99c56f8d9ae17329a756bb'],
  ['rsa-pss-sha384', '1.2.840.113549.1.1.10', 'SHA-384', 'd185eec59181fc3450ac6f95a5c6ddb50425bcdbf993f45a1f1c0a97839a4b154b2eb308d1ad9588f98a46b44b7530bf'],
  ['ecdsa-p256-sha256', '1.2.840.10045.4.3.2', 'SHA-256', '79d389b99b2696fe3fa13a03138f742ee8f130294c5b3605f42234e21951c4e7'],
  ['ecdsa-p384-sha384', '1.2.840.10045.4.3.3', 'SHA-384', '4ab6781d785c8d5406fb8f4ebba0cb030f48a632795c3cdc0944313ccde6132c5c2e143c29b11855d8765e0f682fbaa1'],
  ['ecdsa-p521-sha512', '1.2.840.10045.4.3.4', 'SHA-512', '85a9773e5dee8fa86d6991db3c2c3737deccc96f73d7b69b84e2b49c2bdfce405a1934426ca90499420a537e78005dd8c3e2dd999fb791fc23f64228c25e8038'],
  ['dsa-sha256', '2.16.840.1.101.3.4.3.2', 'SHA-256', 'f2798d4058cc63b6027f2a59e558599cd89899ff6f3229da1ea770332430e2c2'],
] as const

/** Awaits a refusal and returns it, so its message and cause can be checked. */
async function refusal(attempt: () => unknown): Promise<AuthenticationRefusedError> {
  const error = await Promise.resolve().then(attempt).then(() => undefined, (e: unknown) => e)
  expect(error).toBeInstanceOf(AuthenticationRefusedError)
  return error as AuthenticationRefusedError
}

describe('certificates made by OpenSSL', () => {
  test.each(FIXTURES)('%s: signed with %s, bound with %s', async (name, expectedOid, hash, openssl) => {
    const der = fixture(name)
    expect(signatureAlgorithm(der).oid).toBe(expectedOid)
    expect(channelBindingHash(der)).toBe(hash)
    const data = await tlsServerEndPoint(der)
    expect(hex(data)).toBe(openssl)
    // The fixture is what OpenSSL hashed: Node's crypto, on the same DER, agrees.
    expect(hex(data)).toBe(createHash(hash.replace('-', '').toLowerCase()).update(der).digest('hex'))
  })

  test('RSASSA-PSS: the hash is read from the parameters (RFC 4055), here SHA-384', () => {
    const { parameters } = signatureAlgorithm(fixture('rsa-pss-sha384'))
    // SEQUENCE { [0] { SEQUENCE { OID sha384, NULL } }, [1] { mgf1(sha384) }, [2] { 48 } }
    expect(hex(parameters!)).toMatch(/^3034a00f300d06096086480165030402020500/)
  })

  test.each([
    ['ed25519', '1.3.101.112'],
    ['ed448', '1.3.101.113'],
  ])('%s has no hash of its own: refused, as PostgreSQL refuses it', async (name, expectedOid) => {
    const der = fixture(name)
    expect(signatureAlgorithm(der).oid).toBe(expectedOid)
    expect((await refusal(() => channelBindingHash(der))).message).toMatch(/no single hash.*RFC 5929/)
    await refusal(() => tlsServerEndPoint(der))
  })

  test('a certificate inside a larger buffer is hashed alone', async () => {
    const der = fixture('rsa-sha384')
    const padded = new Uint8Array(der.length + 40).fill(0xee)
    padded.set(der, 17)
    const view = padded.subarray(17, 17 + der.length)
    expect(hex(await tlsServerEndPoint(view))).toBe(hex(await tlsServerEndPoint(der)))
  })
})

describe('every signature algorithm PostgreSQL can meet', () => {
  // The digest OpenSSL's obj_xref.txt pairs with each OID, replaced as RFC 5929 section 4.1 says.
  test.each([
    ['md5WithRSAEncryption', '1.2.840.113549.1.1.4', 'SHA-256'],
    ['sha1WithRSAEncryption', '1.2.840.113549.1.1.5', 'SHA-256'],
    ['md5WithRSA (OIW)', '1.3.14.3.2.3', 'SHA-256'],
    ['sha1WithRSA (OIW)', '1.3.14.3.2.29', 'SHA-256'],
    ['sha224WithRSAEncryption', '1.2.840.113549.1.1.14', 'SHA-224'],
    ['sha256WithRSAEncryption', '1.2.840.113549.1.1.11', 'SHA-256'],
    ['sha384WithRSAEncryption', '1.2.840.113549.1.1.12', 'SHA-384'],
    ['sha512WithRSAEncryption', '1.2.840.113549.1.1.13', 'SHA-512'],
    ['dsa-with-sha1', '1.2.840.10040.4.3', 'SHA-256'],
    ['dsaWithSHA1 (OIW)', '1.3.14.3.2.27', 'SHA-256'],
    ['dsa_with_SHA224', '2.16.840.1.101.3.4.3.1', 'SHA-224'],
    ['dsa_with_SHA256', '2.16.840.1.101.3.4.3.2', 'SHA-256'],
    ['dsa_with_SHA384', '2.16.840.1.101.3.4.3.3', 'SHA-384'],
    ['dsa_with_SHA512', '2.16.840.1.101.3.4.3.4', 'SHA-512'],
    ['ecdsa-with-SHA1', '1.2.840.10045.4.1', 'SHA-256'],
    ['ecdsa-with-SHA224', '1.2.840.10045.4.3.1', 'SHA-224'],
    ['ecdsa-with-SHA256', '1.2.840.10045.4.3.2', 'SHA-256'],
    ['ecdsa-with-SHA384', '1.2.840.10045.4.3.3', 'SHA-384'],
    ['ecdsa-with-SHA512', '1.2.840.10045.4.3.4', 'SHA-512'],
  ])('%s', (_, dotted, hash) => {
    const withNull = certificate(algorithmIdentifier(dotted, NULL))
    const absent = certificate(algorithmIdentifier(dotted))
    expect(signatureAlgorithm(withNull).oid).toBe(dotted)
    expect(channelBindingHash(withNull)).toBe(hash)
    expect(channelBindingHash(absent)).toBe(hash)
  })

  test.each([
    ['SHA-256', '2.16.840.1.101.3.4.2.1', 'SHA-256'],
    ['SHA-384', '2.16.840.1.101.3.4.2.2', 'SHA-384'],
    ['SHA-512', '2.16.840.1.101.3.4.2.3', 'SHA-512'],
    ['SHA-224', '2.16.840.1.101.3.4.2.4', 'SHA-224'],
    ['SHA-1, which is replaced', '1.3.14.3.2.26', 'SHA-256'],
    ['MD5, which is replaced', '1.2.840.113549.2.5', 'SHA-256'],
  ])('RSASSA-PSS with %s', (_, hashOid, hash) => {
    expect(channelBindingHash(certificate(algorithmIdentifier('1.2.840.113549.1.1.10', pssParameters(hashOid))))).toBe(hash)
  })

  test('RSASSA-PSS with every parameter left default hashes with SHA-1, so binds with SHA-256', () => {
    expect(channelBindingHash(certificate(algorithmIdentifier('1.2.840.113549.1.1.10', pssParameters())))).toBe('SHA-256')
    // Only [1] maskGenAlgorithm present: the hash is still the default.
    const onlyMask = tlv(SEQUENCE, tlv(0xa1, algorithmIdentifier('1.2.840.113549.1.1.8', algorithmIdentifier('2.16.840.1.101.3.4.2.3', NULL))))
    expect(channelBindingHash(certificate(algorithmIdentifier('1.2.840.113549.1.1.10', onlyMask)))).toBe('SHA-256')
  })

  test.each([
    ['Ed25519', algorithmIdentifier('1.3.101.112'), /no single hash/],
    ['Ed448', algorithmIdentifier('1.3.101.113'), /no single hash/],
    ['ecdsa-with-Specified', algorithmIdentifier('1.2.840.10045.4.3'), /no single hash/],
    ['an unknown algorithm', algorithmIdentifier('1.2.3.4', NULL), /1\.2\.3\.4 has no single hash/],
    ['md2WithRSAEncryption', algorithmIdentifier('1.2.840.113549.1.1.2', NULL), /signed with MD2/],
    ['sha512-256WithRSAEncryption', algorithmIdentifier('1.2.840.113549.1.1.16', NULL), /signed with SHA-512\/256/],
    ['ecdsa-with-SHA3-256', algorithmIdentifier('2.16.840.1.101.3.4.3.10'), /signed with SHA3-256/],
    ['RSASSA-PSS with SHA3-512', algorithmIdentifier('1.2.840.113549.1.1.10', pssParameters('2.16.840.1.101.3.4.2.10')), /SHA3-512/],
    ['RSASSA-PSS with an unknown hash', algorithmIdentifier('1.2.840.113549.1.1.10', pssParameters('1.2.3')), /no single hash/],
    ['RSASSA-PSS without parameters (RFC 4055 requires them)', algorithmIdentifier('1.2.840.113549.1.1.10'), /without parameters/],
  ])('refuses %s', async (_, algorithm, message) => {
    expect((await refusal(() => channelBindingHash(certificate(algorithm)))).message).toMatch(message)
  })
})

test('a signatureValue with 7 unused bits, the most a BIT STRING may have, is read', () => {
  const der = tlv(SEQUENCE, tlv(SEQUENCE), algorithmIdentifier('1.2.840.10045.4.3.2'), tlv(0x03, 0x07, 0x80))
  expect(channelBindingHash(der)).toBe('SHA-256')
})

describe('malformed DER is refused, with the DerError as cause', () => {
  const good = fixture('ecdsa-p256-sha256')
  const pss = '1.2.840.113549.1.1.10'

  test.each([
    ['nothing', new Uint8Array(0)],
    ['a Certificate followed by more bytes', Uint8Array.from([...good, 0x00])],
    ['a Certificate of two fields', tlv(SEQUENCE, tlv(SEQUENCE), algorithmIdentifier('1.2.840.10045.4.3.2'))],
    ['a fourth field', tlv(SEQUENCE, tlv(SEQUENCE), algorithmIdentifier('1.2.840.10045.4.3.2'), tlv(0x03, 0x00), tlv(0x05))],
    ['a signatureValue that is not a BIT STRING', tlv(SEQUENCE, tlv(SEQUENCE), algorithmIdentifier('1.2.840.10045.4.3.2'), tlv(0x04, 0x00))],
    ['an empty BIT STRING', tlv(SEQUENCE, tlv(SEQUENCE), algorithmIdentifier('1.2.840.10045.4.3.2'), tlv(0x03))],
    ['a BIT STRING with 8 unused bits', tlv(SEQUENCE, tlv(SEQUENCE), algorithmIdentifier('1.2.840.10045.4.3.2'), tlv(0x03, 0x08, 0x00))],
    ['an AlgorithmIdentifier with two parameters', certificate(tlv(SEQUENCE, oid('1.2.840.10045.4.3.2'), NULL, NULL))],
    ['an AlgorithmIdentifier without an OID', certificate(tlv(SEQUENCE, NULL))],
    ['an OID cut inside a sub-identifier', certificate(tlv(SEQUENCE, tlv(0x06, 0x2a, 0x86)))],
    ['RSASSA-PSS parameters that are NULL', certificate(algorithmIdentifier(pss, NULL))],
    ['RSASSA-PSS parameters out of order', certificate(algorithmIdentifier(pss, tlv(SEQUENCE, tlv(0xa1, tlv(SEQUENCE)), tlv(0xa0, tlv(SEQUENCE)))))],
    ['RSASSA-PSS parameters with a fifth field', certificate(algorithmIdentifier(pss, tlv(SEQUENCE, tlv(0xa4, 0x05, 0x00))))],
    ['RSASSA-PSS hashAlgorithm with trailing bytes', certificate(algorithmIdentifier(pss, tlv(SEQUENCE, tlv(0xa0, algorithmIdentifier('2.16.840.1.101.3.4.2.1'), NULL))))],
  ])('%s', async (_, der) => {
    const error = await refusal(() => channelBindingHash(der))
    expect(error.message).toMatch(/not valid DER/)
    expect(error.cause).toBeInstanceOf(DerError)
  })

  test('a length that runs past its parent: signatureAlgorithm claims 1 byte more than the Certificate holds', async () => {
    const algorithm = algorithmIdentifier('1.2.840.10045.4.3.2')
    const signature = tlv(0x03, 0x00, 0x2a)
    const contents = [...tlv(SEQUENCE), ...algorithm, ...signature]
    const der = Uint8Array.from([SEQUENCE, ...derLength(contents.length), ...contents])
    der[2 + 2 + 1] = algorithm.length - 2 + signature.length + 1 // the algorithm's own length byte
    const error = await refusal(() => signatureAlgorithm(der))
    expect(error.cause).toBeInstanceOf(DerError)
    expect(error.message).toMatch(/signatureAlgorithm.*run past their parent/)
  })

  test('an over-long outer length is refused', async () => {
    const der = Uint8Array.from(good)
    der[1] = 0x83 // 0x82 LL LL becomes a three-byte length, past the end
    expect((await refusal(() => signatureAlgorithm(der))).cause).toBeInstanceOf(DerError)
  })

  test('every truncation of a real certificate is refused', async () => {
    for (let length = 0; length < good.length; length++) {
      expect((await refusal(() => signatureAlgorithm(good.subarray(0, length)))).cause).toBeInstanceOf(DerError)
    }
  })

  test('what is not a Uint8Array is the caller\'s mistake: TypeError', () => {
    expect(() => signatureAlgorithm([0x30, 0x00] as unknown as Uint8Array)).toThrow(TypeError)
  })

  /** The only outcomes allowed: an OID string, or a refusal. */
  function oidOrRefusal(der: Uint8Array): void {
    try {
      expect(signatureAlgorithm(der).oid).toMatch(/^[0-2](\.(0|[1-9][0-9]*))+$/)
    } catch (error) {
      if (!(error instanceof AuthenticationRefusedError)) throw error
    }
  }

  fcTest.prop([fc.uint8Array({ maxLength: 200 })])(
    'arbitrary bytes give an OID string or an AuthenticationRefusedError, never anything else',
    oidOrRefusal,
  )

  fcTest.prop([fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 })])(
    'a real certificate with a few bytes changed gives an OID string or an AuthenticationRefusedError',
    (changes) => {
      const der = Uint8Array.from(good)
      for (const [at, value] of changes) der[at % der.length] = value
      oidOrRefusal(der)
    },
  )

  fcTest.prop([fc.uint8Array({ maxLength: 40 }), fc.option(fc.uint8Array({ maxLength: 20 }))])(
    'any OID contents in a well-formed frame give an OID string or an AuthenticationRefusedError',
    (oidContents, parameters) => {
      const algorithm = parameters ? tlv(SEQUENCE, tlv(0x06, oidContents), tlv(0x04, parameters)) : tlv(SEQUENCE, tlv(0x06, oidContents))
      oidOrRefusal(certificate(algorithm))
    },
  )
})
