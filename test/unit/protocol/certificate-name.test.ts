/**
 * verify-full's host name check (io/certificate-name.ts) against libpq's rules
 * (fe-secure-common.c, pq_verify_peer_name_matches_certificate_name; fe-secure-openssl.c,
 * pgtls_verify_peer_name_matches_certificate_guts), beside what node:tls's checkServerIdentity,
 * which pglisten used before, says of the same certificate: each case is a real certificate made
 * with openssl, its names read from the DER.
 */
import { execFileSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tls from 'node:tls'
import fc from 'fast-check'
import { afterAll, describe, expect, test } from 'vitest'
import { AuthenticationRefusedError } from '../../../src/protocol/errors.ts'
import { certificateNames, checkServerName, ipAddress, verifyServerName, type CertificateNames } from '../../../src/protocol/io/certificate-name.ts'

const folder = mkdtempSync(join(tmpdir(), 'pglisten-names-'))
afterAll(() => rmSync(folder, { recursive: true, force: true }))
const key = join(folder, 'key.pem')
execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', key], { stdio: 'ignore' })

/** A self-signed certificate with this subject and, when given, this subjectAltName (openssl's syntax). */
function certificate(subject: string, altName?: string): X509Certificate {
  const extension = altName === undefined ? [] : ['-addext', `subjectAltName=${altName}`]
  return new X509Certificate(execFileSync('openssl', ['req', '-x509', '-key', key, '-days', '2', '-subj', subject, ...extension]))
}

const ascii = (text: string) => new TextEncoder().encode(text)

// [subject, subjectAltName, host, node:tls accepts, libpq accepts]
const cases: [string, string | undefined, string, boolean, boolean][] = [
  // Node takes a "*" anywhere in the first label, for any part of it, even none; libpq only "*." and a whole label.
  ['/CN=x', 'DNS:db*.pglisten.test', 'db1.pglisten.test', true, false],
  ['/CN=x', 'DNS:*1.pglisten.test', 'db1.pglisten.test', true, false],
  ['/CN=x', 'DNS:d*1.pglisten.test', 'db1.pglisten.test', true, false],
  ['/CN=x', 'DNS:db1*.pglisten.test', 'db1.pglisten.test', true, false],
  ['/CN=db*.pglisten.test', undefined, 'db1.pglisten.test', true, false],
  ['/CN=x', 'DNS:*.pglisten.test', '.pglisten.test', true, false],
  // Node drops a trailing dot, on either side; libpq compares the names as they are.
  ['/CN=x', 'DNS:db1.pglisten.test', 'db1.pglisten.test.', true, false],
  ['/CN=x', 'DNS:db1.pglisten.test.', 'db1.pglisten.test', true, false],
  // Node tries every commonName; libpq the first only.
  ['/CN=other/CN=db1.pglisten.test', undefined, 'db1.pglisten.test', true, false],
  // Where both agree.
  ['/CN=x', 'DNS:*.pglisten.test', 'db1.pglisten.test', true, true],
  ['/CN=x', 'DNS:*.pglisten.test', 'DB1.PGLISTEN.TEST', true, true],
  ['/CN=x', 'DNS:DB1.pglisten.TEST', 'db1.pglisten.test', true, true],
  ['/CN=x', 'DNS:*.pglisten.test', 'a.b.pglisten.test', false, false],
  ['/CN=x', 'DNS:*.pglisten.test', 'pglisten.test', false, false],
  ['/CN=x', 'DNS:db1.*.test', 'db1.pglisten.test', false, false],
  ['/CN=db1.pglisten.test', 'DNS:other.test', 'db1.pglisten.test', false, false],
  ['/CN=db1.pglisten.test', 'IP:127.0.0.1', 'db1.pglisten.test', true, true],
  ['/CN=x', 'IP:127.0.0.1', '127.0.0.1', true, true],
  ['/CN=x', 'IP:::1', '0:0:0:0:0:0:0:1', true, true],
  ['/CN=x', 'IP:::ffff:10.0.0.1', '::ffff:10.0.0.1', true, true],
  ['/CN=x', 'IP:127.0.0.1', '127.0.0.2', false, false],
  ['/CN=x', 'IP:127.0.0.1', '::ffff:127.0.0.1', false, false],
  // An IPv6 address whose first 4 bytes are the IPv4 host's: libpq compares lengths first.
  ['/CN=x', 'IP:7f00:1::', '127.0.0.1', false, false],
  // Node is stricter: "*" over the last two labels; an IP host named by a dNSName or, with no
  // iPAddress SAN, by the commonName (RFC 6125 forbids both; libpq allows them, NSS-like).
  ['/CN=x', 'DNS:*.test', 'db.test', false, true],
  ['/CN=x', 'DNS:127.0.0.1', '127.0.0.1', false, true],
  ['/CN=127.0.0.1', 'DNS:localhost', '127.0.0.1', false, true],
  ['/CN=127.0.0.1', 'IP:10.0.0.1', '127.0.0.1', false, false],
  // libpq reads the host with inet_aton (is_ip_address), so "127.1" is an address: an iPAddress
  // SAN rules out a commonName spelling it (psql 15 refuses it), and 127.0.0.1 names it.
  ['/CN=127.1', 'IP:10.0.0.1', '127.1', true, false],
  ['/CN=x', 'IP:127.0.0.1', '127.1', false, true],
]

describe('a certificate names the host, as libpq decides', () => {
  test.each(cases)('%s, SAN %s, host %s: node:tls %s, libpq %s', (subject, altName, host, node, libpq) => {
    const cert = certificate(subject, altName)
    // What node:tls said, so that the table shows where pglisten now differs from it.
    expect(tls.checkServerIdentity(host, cert.toLegacyObject()) === undefined).toBe(node)
    const verdict = verifyServerName(host, new Uint8Array(cert.raw))
    if (libpq) expect(verdict).toBeUndefined()
    else expect(verdict).toBeInstanceOf(AuthenticationRefusedError)
  })

  test("a refusal says which names the certificate gives, in libpq's words", () => {
    const one = verifyServerName('db1.pglisten.test', new Uint8Array(certificate('/CN=x', 'DNS:db*.pglisten.test').raw))
    expect(one?.message).toBe('server certificate for "db*.pglisten.test" does not match host name "db1.pglisten.test"')
    const three = verifyServerName('db1.pglisten.test', new Uint8Array(certificate('/CN=x', 'DNS:a.test,IP:10.0.0.1,DNS:b.test').raw))
    expect(three?.message).toBe('server certificate for "a.test" (and 2 other names) does not match host name "db1.pglisten.test"')
    const ip = verifyServerName('::1', new Uint8Array(certificate('/CN=x', 'IP:2001:db8::1,DNS:x.test').raw))
    expect(ip?.message).toBe('server certificate for "2001:db8:0:0:0:0:0:1" (and 1 other name) does not match host name "::1"')
    const ipv4 = verifyServerName('db1.pglisten.test', new Uint8Array(certificate('/CN=x', 'IP:10.0.0.1').raw))
    expect(ipv4?.message).toBe('server certificate for "10.0.0.1" (and 1 other name) does not match host name "db1.pglisten.test"')
    const commonName = verifyServerName('db1.pglisten.test', new Uint8Array(certificate('/CN=x').raw))
    expect(commonName?.message).toBe('server certificate for "x" does not match host name "db1.pglisten.test"')
    // A dNSName for a host name rules the commonName out; an iPAddress does not.
    const none = verifyServerName('db1.pglisten.test', new Uint8Array(certificate('/O=nobody').raw))
    expect(none?.message).toBe("could not get server's host name from server certificate")
  })
})

// An empty name to verify (Connection.open's tls.serverName: ''): a certificate whose commonName
// or dNSName was empty passed verify-full (an empty name matched the empty host).
test.each([
  ['an empty dNSName', { altNames: [{ dns: new Uint8Array() }], commonName: ascii('x') }],
  ['an empty commonName', { altNames: [], commonName: new Uint8Array() }],
  ['a name', { altNames: [{ dns: ascii('db.pglisten.test') }], commonName: ascii('db.pglisten.test') }],
])("no host name to check: refused as libpq refuses it, whatever the certificate says (%s)", (_, names: CertificateNames) => {
  const refused = checkServerName('', names)
  expect(refused).toBeInstanceOf(AuthenticationRefusedError)
  expect(refused!.message).toBe('host name must be specified for a verified SSL connection')
})

describe('certificateNames reads what libpq reads', () => {
  test('the SANs in order, IP addresses as bytes, a critical extension too, and the first commonName', () => {
    const names = certificateNames(new Uint8Array(certificate('/CN=first/O=x/CN=second', 'critical,IP:10.1.2.3,DNS:a.test,email:a@b.test,IP:::1,DNS:b.test').raw))
    expect(names.altNames).toEqual([{ ip: Uint8Array.of(10, 1, 2, 3) }, { dns: ascii('a.test') }, { ip: Uint8Array.of(...Array(15).fill(0), 1) }, { dns: ascii('b.test') }])
    expect(names.commonName).toEqual(ascii('first'))
  })

  test('a v1 certificate (no version field, so the subject comes a field earlier): its commonName', () => {
    // openssl x509 -req without extensions writes version 1; libpq takes its commonName.
    const csr = execFileSync('openssl', ['req', '-new', '-key', key, '-subj', '/CN=db1.pglisten.test'])
    const cert = new X509Certificate(execFileSync('openssl', ['x509', '-req', '-signkey', key, '-days', '2'], { input: csr, stdio: ['pipe', 'pipe', 'ignore'] }))
    expect(certificateNames(new Uint8Array(cert.raw))).toEqual({ altNames: [], commonName: ascii('db1.pglisten.test') })
    expect(verifyServerName('db1.pglisten.test', new Uint8Array(cert.raw))).toBeUndefined()
  })

  test('no SAN and no commonName', () => {
    expect(certificateNames(new Uint8Array(certificate('/O=x').raw))).toEqual({ altNames: [], commonName: undefined })
  })

  test('a law: any bytes give a verdict (accepted, or an AuthenticationRefusedError), never another error', () => {
    const der = new Uint8Array(certificate('/CN=x', 'DNS:a.test').raw)
    fc.assert(fc.property(fc.nat(der.length - 1), fc.integer({ min: 0, max: 255 }), (at, byte) => {
      const bent = der.slice()
      bent[at] = byte
      const verdict = verifyServerName('a.test', bent)
      return verdict === undefined || verdict instanceof AuthenticationRefusedError
    }))
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const verdict = verifyServerName('a.test', bytes)
      return verdict instanceof AuthenticationRefusedError
    }))
  })
})

describe("BER's constructed forms, which DER forbids and OpenSSL reads all the same", () => {
  // openssl's "DER:" takes the extension's value as given; libpq 15 (psql) refused each of these certificates.
  test('a dNSName in constructed form is a dNSName to OpenSSL (its pieces joined): the commonName is ruled out, as libpq rules it out', () => {
    // GeneralNames ::= SEQUENCE { [2] constructed { OCTET STRING "other.test" } }
    const cert = certificate('/CN=db1.pglisten.test', 'DER:300ea20c040a6f746865722e74657374')
    expect(cert.subjectAltName).toBe('DNS:other.test')
    expect(verifyServerName('db1.pglisten.test', new Uint8Array(cert.raw))).toBeInstanceOf(AuthenticationRefusedError)
  })

  test('an iPAddress in constructed form likewise rules out the commonName for an IP host', () => {
    // GeneralNames ::= SEQUENCE { [7] constructed { OCTET STRING 10.0.0.1 } }
    const cert = certificate('/CN=127.0.0.1', 'DER:3008a70604040a000001')
    expect(cert.subjectAltName).toBe('IP Address:10.0.0.1')
    expect(verifyServerName('127.0.0.1', new Uint8Array(cert.raw))).toBeInstanceOf(AuthenticationRefusedError)
  })

  test('a commonName that is a SEQUENCE is its whole encoding to OpenSSL, header too: it does not name the host its contents spell', () => {
    const der = new Uint8Array(certificate('/CN=db1.pglisten.test').raw)
    // The subject's commonName (the last: the issuer's comes first), a UTF8String (0x0c), retagged a
    // SEQUENCE (0x30) of the same length; no signature is checked here.
    const at = Buffer.from(der).lastIndexOf(Buffer.from('0603550403' + '0c11', 'hex'))
    der[at + 5] = 0x30
    expect(new X509Certificate(der).subject).toBe('CN=0\\11db1.pglisten.test')
    expect(certificateNames(der).commonName).toEqual(Uint8Array.of(0x30, 0x11, ...ascii('db1.pglisten.test')))
    expect(verifyServerName('db1.pglisten.test', der)).toBeInstanceOf(AuthenticationRefusedError)
  })
})

describe('what no openssl command makes: names with a NUL, addresses of other lengths', () => {
  const names = (...altNames: CertificateNames['altNames']): CertificateNames => ({ altNames, commonName: ascii('db1.pglisten.test') })

  test('a NUL in a name refuses the certificate where libpq meets it (CVE-2009-4034), even if a later name would match', () => {
    const verdict = checkServerName('db1.pglisten.test', names({ dns: ascii('db1.pglisten.test\0.evil.test') }, { dns: ascii('db1.pglisten.test') }))
    expect(verdict?.message).toBe(`SSL certificate's name contains embedded null (the server's, for host name "db1.pglisten.test")`)
    // A match before it ends the check, as in libpq's loop.
    expect(checkServerName('db1.pglisten.test', names({ dns: ascii('db1.pglisten.test') }, { dns: ascii('x\0') }))).toBeUndefined()
    // In the commonName too.
    expect(checkServerName('db1.pglisten.test', { altNames: [], commonName: ascii('db1.pglisten.test\0') })).toBeInstanceOf(AuthenticationRefusedError)
  })

  test('an iPAddress of neither 4 nor 16 bytes refuses the certificate, whatever the host', () => {
    const verdict = checkServerName('db1.pglisten.test', names({ ip: Uint8Array.of(10, 0, 0, 1, 255, 255, 255, 0) }, { dns: ascii('db1.pglisten.test') }))
    expect(verdict?.message).toBe('certificate contains IP address with invalid length 8 (the server\'s, for host name "db1.pglisten.test")')
  })

  test('names are compared byte for byte, ASCII letters in either case only', () => {
    expect(checkServerName('dé.test', { altNames: [{ dns: ascii('dé.test') }], commonName: undefined })).toBeUndefined()
    expect(checkServerName('dÉ.test', { altNames: [{ dns: ascii('dé.test') }], commonName: undefined })).toBeInstanceOf(AuthenticationRefusedError)
    // A and Z, the ends of pg_strcasecmp's range, fold; 0x0e, which is "." (0x2e) less 0x20, does not.
    expect(checkServerName('a.test', { altNames: [{ dns: ascii('A.test') }], commonName: undefined })).toBeUndefined()
    expect(checkServerName('z.test', { altNames: [{ dns: ascii('Z.test') }], commonName: undefined })).toBeUndefined()
    expect(checkServerName('a.test', { altNames: [{ dns: Uint8Array.of(0x61, 0x0e, ...ascii('test')) }], commonName: undefined })).toBeInstanceOf(AuthenticationRefusedError)
  })

  test('"*." takes the first label only when it holds no dot and is not empty', () => {
    const wildcard = { altNames: [{ dns: ascii('*.b.test') }], commonName: undefined }
    expect(checkServerName('a.b.test', wildcard)).toBeUndefined()
    for (const host of ['.b.test', 'x..b.test', '..b.test', 'b.test', '*.b.test.']) expect(checkServerName(host, wildcard), host).toBeInstanceOf(AuthenticationRefusedError)
    // A host that is "*.b.test" itself is the same string: libpq matches it too.
    expect(checkServerName('*.b.test', wildcard)).toBeUndefined()
    // The shortest wildcard, three bytes.
    expect(checkServerName('a.b', { altNames: [{ dns: ascii('*.b') }], commonName: undefined })).toBeUndefined()
    // A name whose second byte is "." but whose first is not "*" is no wildcard.
    expect(checkServerName('b.test', { altNames: [{ dns: ascii('a.test') }], commonName: undefined })).toBeInstanceOf(AuthenticationRefusedError)
    // "*." alone, or a "*" that ends the name, is no wildcard.
    expect(checkServerName('a.', { altNames: [{ dns: ascii('*.') }], commonName: undefined })).toBeInstanceOf(AuthenticationRefusedError)
  })
})

describe("ipAddress: inet_aton's forms for IPv4 (glibc's), inet_pton's for IPv6, in network order", () => {
  test.each([
    ['127.0.0.1', [127, 0, 0, 1]],
    // inet_aton: one to four parts, the last filling the bytes left; 0x hexadecimal, 0 octal.
    ['127.1', [127, 0, 0, 1]],
    ['10.1.258', [10, 1, 1, 2]],
    ['2130706433', [127, 0, 0, 1]],
    ['0x7F.0.0.01', [127, 0, 0, 1]],
    ['017.0.0.1', [15, 0, 0, 1]],
    ['01.2.3.4', [1, 2, 3, 4]],
    ['0.0.0.0', [0, 0, 0, 0]],
    // glibc's inet_aton stops at whitespace and ignores what follows.
    ['127.0.0.1 x', [127, 0, 0, 1]],
    ['127.0.0.1\vx', [127, 0, 0, 1]],
    ['::1', [...Array(15).fill(0), 1]],
    ['::', Array(16).fill(0)],
    ['2001:DB8::8:800:200C:417A', [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0x08, 0x08, 0x00, 0x20, 0x0c, 0x41, 0x7a]],
    ['1:2:3:4:5:6:7::', [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 0]],
    ['::ffff:10.0.0.1', [...Array(10).fill(0), 0xff, 0xff, 10, 0, 0, 1]],
    ['1:2:3:4:5:6:10.0.0.1', [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 10, 0, 0, 1]],
    ['::10.0.0.1', [...Array(12).fill(0), 10, 0, 0, 1]],
  ])('%s', (text, bytes) => {
    expect(ipAddress(text)).toEqual(Uint8Array.from(bytes))
  })

  // Among them: inet_aton's "10x1f" (not hexadecimal: 0x must lead) and five parts; inet_pton's
  // two "::" around eight groups, and a dotted quad with a leading zero or a part past 255.
  test.each(['localhost', 'db.test', '256.0.0.1', '1.2.3.4.', '08.0.0.1', '0x.0.0.1', '1.2.65536', '4294967296', '1..2', '.1.2.3', ' 1.2.3.4', '1.2.3.4.5', '0x1g', ':::', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7:8::', '12345::', 'fe80::1%eth0', '::1.2.3', '1:2:3:4:5:6:7:1.2.3.4', ':1:2:3:4:5:6:7', '', '1.2.3.10x1f', '1.2.3.4.0', '1:2::3:4:5:6::7:8', '::1.2.3.04', '::1.2.3.256'])('%s is a name', (text) => {
    expect(ipAddress(text)).toBeUndefined()
  })
})
