/**
 * certificateNames' DER reader (io/certificate-name.ts) on hand-made certificates that no openssl
 * command writes: the shapes it refuses, the BER length forms it takes, and that a refusal names
 * its reason. Every malformed certificate is refused (an AuthenticationRefusedError, never another
 * error), as libpq refuses what OpenSSL cannot parse; the message says why, so that two ways of
 * refusing are not mistaken for each other. Built with the test-side `element` below, never with src.
 */
import { describe, expect, test } from 'vitest'
import { AuthenticationRefusedError } from '../../../src/protocol/errors.ts'
import { verifyServerName } from '../../../src/protocol/io/certificate-name.ts'

const ascii = (text: string) => Array.from(new TextEncoder().encode(text))

/** A DER element (X.690 section 8.1): tag, the length in its shortest definite form, contents. */
function element(tag: number, ...contents: number[][]): number[] {
  const body = contents.flat()
  const length = body.length < 0x80 ? [body.length] : body.length < 0x100 ? [0x81, body.length] : [0x82, body.length >> 8, body.length & 0xff]
  return [tag, ...length, ...body]
}

const SEQUENCE = 0x30
const SET = 0x31
const commonNameOid = [0x06, 0x03, 0x55, 0x04, 0x03] // OBJECT IDENTIFIER 2.5.4.3, id-at-commonName
const subjectAltNameOid = [0x06, 0x03, 0x55, 0x1d, 0x11] // OBJECT IDENTIFIER 2.5.29.17, id-ce-subjectAltName
const ecdsaWithSha256 = element(SEQUENCE, [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]) // AlgorithmIdentifier 1.2.840.10045.4.3.2

/** Name ::= SEQUENCE OF RelativeDistinguishedName, each a SET of one commonName, a UTF8String (0x0c). */
const name = (...commonNames: string[]) => element(SEQUENCE, ...commonNames.map((cn) => element(SET, element(SEQUENCE, commonNameOid, element(0x0c, ascii(cn))))))
/** GeneralName's dNSName: [2] IMPLICIT IA5String. */
const dnsName = (text: string) => element(0x82, ascii(text))
/** Extension ::= SEQUENCE { extnID, extnValue OCTET STRING holding `generalNames`, bytes as given } */
const subjectAltName = (generalNames: number[]) => element(SEQUENCE, subjectAltNameOid, element(0x04, generalNames))

/** extensions [3] EXPLICIT SEQUENCE OF Extension */
const extensionsField = (...extensions: number[][]) => element(0xa3, element(SEQUENCE, ...extensions))

/** TBSCertificate (RFC 5280 section 4.1), v3; only the subject and extensions are read. `extensions`: the Extensions, or the [3] field's bytes as given. */
function tbs(subject: number[], extensions?: number[][] | { field: number[] }): number[] {
  return element(SEQUENCE,
    element(0xa0, element(0x02, [2])), // version [0] EXPLICIT INTEGER 2: v3
    element(0x02, [1]), // serialNumber 1
    ecdsaWithSha256, // signature
    name('pglisten test issuer'), // issuer
    element(SEQUENCE, element(0x17, ascii('261207000000Z')), element(0x17, ascii('261209000000Z'))), // validity, two UTCTimes
    subject, // subject
    element(SEQUENCE), // subjectPublicKeyInfo, not read: left empty
    extensions === undefined ? [] : 'field' in extensions ? extensions.field : extensionsField(...extensions)) // extensions
}

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue } (a BIT STRING, empty: no signature is checked here). */
const certificate = (tbsCertificate: number[]) => Uint8Array.from(element(SEQUENCE, tbsCertificate, ecdsaWithSha256, element(0x03, [0])))

const host = 'db1.pglisten.test'
const unreadable = (reason: string) => `cannot read the names in the server's TLS certificate: ${reason}`
const malformed = (at: number) => unreadable(`not the certificate's DER at byte ${at}`)

test('the builder makes a certificate the reader takes: its commonName, then its dNSName, names the host', () => {
  expect(verifyServerName(host, certificate(tbs(name(host))))).toBeUndefined()
  expect(verifyServerName(host, certificate(tbs(name('x'), [subjectAltName(element(SEQUENCE, dnsName(host)))])))).toBeUndefined()
})

describe('a certificate of the wrong shape is refused, with the reason', () => {
  test('no DER from the TLS layer', () => {
    const verdict = verifyServerName(host, undefined)
    expect(verdict?.message).toBe(unreadable('the TLS layer gave no DER certificate'))
    expect(verdict?.cause).toBeInstanceOf(RangeError)
  })

  test('a Certificate that is not a SEQUENCE, or an empty one', () => {
    const der = certificate(tbs(name(host)))
    der[0] = SET // the Certificate's tag, 0x30, made a SET's
    expect(verifyServerName(host, der)?.message).toBe(malformed(0))
    // SEQUENCE {}: no tbsCertificate; the refusal points at the empty contents, byte 2.
    expect(verifyServerName(host, Uint8Array.of(0x30, 0x00))?.message).toBe(malformed(2))
  })

  test('a TBSCertificate with no subject', () => {
    // SEQUENCE { SEQUENCE {} }: a Certificate whose TBSCertificate is empty.
    expect(verifyServerName(host, Uint8Array.of(0x30, 0x02, 0x30, 0x00))?.message).toBe(unreadable('no subject where the certificate should have one'))
  })

  test('a RelativeDistinguishedName that is a SEQUENCE, not a SET, though it holds the commonName', () => {
    const subject = element(SEQUENCE, element(SEQUENCE, element(SEQUENCE, commonNameOid, element(0x0c, ascii(host)))))
    expect(verifyServerName(host, certificate(tbs(subject)))?.message).toBe(unreadable('a RelativeDistinguishedName that is not a SET'))
  })

  test('an AttributeTypeAndValue with no type', () => {
    const subject = element(SEQUENCE, element(SET, element(SEQUENCE))) // SET { SEQUENCE {} }
    expect(verifyServerName(host, certificate(tbs(subject)))?.message).toMatch(/^cannot read the names in the server's TLS certificate: not the certificate's DER at byte \d+$/)
  })

  test('an empty extensions [3], an empty Extension, an extnID that is no OBJECT IDENTIFIER', () => {
    const withExtensions = (field: number[]) => certificate(tbs(name(host), { field }))
    const refusal = /^cannot read the names in the server's TLS certificate: not the certificate's DER at byte \d+$/
    // extensions [3] EXPLICIT with nothing in it, not even the SEQUENCE OF Extension.
    expect(verifyServerName(host, withExtensions([0xa3, 0x00]))?.message).toMatch(refusal)
    // An Extension that is an empty SEQUENCE.
    expect(verifyServerName(host, withExtensions(extensionsField(element(SEQUENCE))))?.message).toMatch(refusal)
    // An extnID that is an OCTET STRING of subjectAltName's OID bytes, which OpenSSL cannot parse
    // (the extension is not skipped, so the commonName, which names the host, is not used).
    const notAnOid = element(SEQUENCE, [0x04, ...subjectAltNameOid.slice(1)], element(0x04, element(SEQUENCE, dnsName('other.test'))))
    expect(verifyServerName(host, withExtensions(extensionsField(notAnOid)))?.message).toMatch(refusal)
  })

  test('a second subjectAltName extension (OpenSSL holds the certificate invalid), though it names the host', () => {
    const extensions = [subjectAltName(element(SEQUENCE, dnsName('other.test'))), subjectAltName(element(SEQUENCE, dnsName(host)))]
    expect(verifyServerName(host, certificate(tbs(name('x'), extensions)))?.message).toBe(unreadable('a second subjectAltName extension'))
  })

  test('a subjectAltName extension whose extnValue is missing, not an OCTET STRING, or after something that is not "critical"', () => {
    const wrongShape = unreadable('a subjectAltName extension of the wrong shape')
    const generalNames = element(SEQUENCE, dnsName(host))
    const shapes = [
      element(SEQUENCE, subjectAltNameOid), // extnID alone
      element(SEQUENCE, subjectAltNameOid, element(SEQUENCE, generalNames)), // extnValue a SEQUENCE holding the GeneralNames
      element(SEQUENCE, subjectAltNameOid, element(0x02, [1]), element(0x04, generalNames)), // an INTEGER where critical's BOOLEAN goes
    ]
    for (const extension of shapes) expect(verifyServerName(host, certificate(tbs(name('x'), [extension])))?.message).toBe(wrongShape)
  })

  test('an empty extnValue: no GeneralNames in it', () => {
    expect(verifyServerName(host, certificate(tbs(name(host), [subjectAltName([])])))?.message).toMatch(/not the certificate's DER at byte \d+$/)
  })

  test("a dNSName in BER's constructed form, and the refusal says so", () => {
    // GeneralNames ::= SEQUENCE { [2] constructed (0xa2) { OCTET STRING "db1.pglisten.test" } }
    const generalNames = element(SEQUENCE, element(0xa2, element(0x04, ascii(host))))
    expect(verifyServerName(host, certificate(tbs(name('x'), [subjectAltName(generalNames)])))?.message).toBe(unreadable('a dNSName or iPAddress in constructed form, which DER forbids'))
  })
})

describe('lengths and tags: what a BER reader takes, what this one takes, never a read past the parent', () => {
  /** The certificate, commonName the host, whose subjectAltName's extnValue holds `generalNames` as given, and where they start in it. */
  function withGeneralNames(generalNames: number[]): { der: Uint8Array; at: number } {
    const der = certificate(tbs(name(host), [subjectAltName(generalNames)]))
    const prefix = Uint8Array.from(generalNames.slice(0, 4))
    const at = Buffer.from(der).indexOf(prefix)
    return { der, at }
  }

  test("a long-form length in up to four bytes, leading zeros too (BER; OpenSSL's reader takes it): read", () => {
    // GeneralNames: SEQUENCE { dNSName, length 84 00 00 00 0a (four bytes): "other.test" }
    const four = withGeneralNames(element(SEQUENCE, [0x82, 0x84, 0x00, 0x00, 0x00, 0x0a, ...ascii('other.test')])).der
    expect(verifyServerName('other.test', four)).toBeUndefined()
    // A rfc822Name [1] last, empty, its length 81 00 in the long form: its one length byte is the
    // last byte of the GeneralNames.
    const last = withGeneralNames(element(SEQUENCE, dnsName('other.test'), [0x81, 0x81, 0x00])).der
    expect(verifyServerName('other.test', last)).toBeUndefined()
  })

  test('a long-form length in five bytes: refused where OpenSSL reads it, stricter', () => {
    // SEQUENCE { dNSName, length 85 00 00 00 00 0a (five bytes): "other.test" }
    const { der, at } = withGeneralNames(element(SEQUENCE, [0x82, 0x85, 0x00, 0x00, 0x00, 0x00, 0x0a, ...ascii('other.test')]))
    expect(verifyServerName('other.test', der)?.message).toBe(malformed(at + 4)) // after the 0x85
  })

  test("BER's indefinite length (0x80), even with 128 bytes after it: refused where OpenSSL reads it, stricter", () => {
    // SEQUENCE, indefinite length { dNSName "other.test" } end-of-contents 00 00. Read as an empty
    // GeneralNames it would leave the commonName, which names the host, to match.
    const short = withGeneralNames([0x30, 0x80, ...dnsName('other.test'), 0x00, 0x00])
    expect(verifyServerName(host, short.der)?.message).toBe(malformed(short.at + 2))
    // Read as 128 bytes long, it would hold exactly a dNSName of 126 bytes, the host's.
    const long = `${'a'.repeat(121)}.test`
    const exact = withGeneralNames([0x30, 0x80, ...dnsName(long), 0x00, 0x00])
    expect(verifyServerName(long, exact.der)?.message).toBe(malformed(exact.at + 2))
  })

  test('a length beyond what the parent holds, even where the bytes after the parent are there', () => {
    // SEQUENCE (12 bytes) { dNSName of length 0x20, with 10 bytes "other.test" left in the SEQUENCE }
    const { der, at } = withGeneralNames(element(SEQUENCE, [0x82, 0x20, ...ascii('other.test')]))
    expect(verifyServerName('other.test', der)?.message).toBe(malformed(at + 4))
  })

  test("a high tag number (X.690 section 8.1.2.4), [31], which no GeneralName has", () => {
    // SEQUENCE { 9f 1f: context-specific [31] in the high-tag-number form, length 0 }
    const { der, at } = withGeneralNames(element(SEQUENCE, [0x9f, 0x1f, 0x00]))
    expect(verifyServerName(host, der)?.message).toBe(malformed(at + 3)) // after the 0x9f
  })

  test('an element begun in the last bytes and not finished: a tag alone, a long-form length without its bytes', () => {
    const der = certificate(tbs(name(host)))
    // The certificate, then a SEQUENCE's tag and nothing more.
    expect(verifyServerName(host, Uint8Array.from([...der, 0x30]))?.message).toBe(malformed(der.length + 1))
    // The certificate, then a SEQUENCE whose length takes four bytes, none there.
    expect(verifyServerName(host, Uint8Array.from([...der, 0x30, 0x84]))?.message).toBe(malformed(der.length + 2))
  })
})
