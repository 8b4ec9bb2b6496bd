/**
 * sslmode=verify-full's host name check, libpq's rules rather than node:tls's: does the server's
 * certificate name the host connected to? Pure; imports the error classes only.
 * node-link.ts loads it by dynamic import, under verify-full only.
 *
 * libpq (fe-secure-common.c, pq_verify_peer_name_matches_certificate_name; fe-secure-openssl.c,
 * pgtls_verify_peer_name_matches_certificate_guts) compares the host with each dNSName and
 * iPAddress subjectAltName in order, and with the subject's first commonName only when no SAN is
 * of the host's kind (a DNS name for a host name, an iPAddress for an IP). A name matches when it
 * equals the host, ASCII case aside, or starts with "*." and its "*" stands for the host's first
 * label. A name with a NUL in it, or an iPAddress of neither 4 nor 16 bytes, fails the whole
 * check where it is met. Node's tls.checkServerIdentity differs (see checkServerName).
 */
import { AuthenticationRefusedError } from '../errors.ts'

/** A certificate's names as libpq reads them: the raw bytes of each string, in certificate order. */
export interface CertificateNames {
  /** subjectAltName's dNSName (`dns`, IA5String bytes) and iPAddress (`ip`, 4 or 16 bytes in network order) entries. */
  readonly altNames: readonly ({ readonly dns: Uint8Array } | { readonly ip: Uint8Array })[]
  /** The contents of the subject's first commonName, whatever its string type (libpq compares its bytes). */
  readonly commonName: Uint8Array | undefined
}

/**
 * undefined when `names` name `host` under libpq's rules, else the refusal, in libpq's words.
 * Where Node's tls.checkServerIdentity was looser, and this refuses (as libpq does): a "*" that is
 * not the whole first label ("db*.example.com", "*db.example.com"), or that stands for nothing; a
 * trailing dot on host or name; every commonName but the first; a name with a NUL that another
 * name after it would have matched. Where Node was stricter, this accepts, as libpq does: "*.com";
 * an IP host named by a dNSName or, with no iPAddress SAN, by the commonName; names that are not
 * printable ASCII (compared byte for byte). libpq's "*" may also take in a dot before the label
 * it replaces ("x..example.com" for "*.example.com"): not here. A host is an address in
 * inet_aton's forms too, as to libpq: "127.1" is 127.0.0.1.
 */
export function checkServerName(host: string, names: CertificateNames): AuthenticationRefusedError | undefined {
  // No name to check (connect() gives hostaddr's address when host is empty, but Connection.open
  // takes tls.serverName as given): libpq refuses in these words (pq_verify_peer_name_matches_certificate),
  // where an empty commonName or dNSName would have matched it.
  if (host === '') return new AuthenticationRefusedError('host name must be specified for a verified SSL connection')
  const address = ipAddress(host)
  const wanted = new TextEncoder().encode(host)
  const examined: string[] = []
  // A SAN of the host's kind rules out the commonName (the NSS behaviour libpq matches).
  let checkCommonName = true
  for (const name of names.altNames) {
    if ('ip' in name === (address !== undefined)) checkCommonName = false
    const matched = 'dns' in name ? nameMatches(name.dns, wanted, examined) : ipMatches(name.ip, address, examined)
    if (matched !== false) return refusedFor(matched, host)
  }
  if (checkCommonName && names.commonName !== undefined) {
    const matched = nameMatches(names.commonName, wanted, examined)
    if (matched !== false) return refusedFor(matched, host)
  }
  const others = examined.length - 1
  return new AuthenticationRefusedError(examined.length === 0
    ? "could not get server's host name from server certificate"
    : `server certificate for "${examined[0]}"${others > 0 ? ` (and ${others} other name${others > 1 ? 's' : ''})` : ''} does not match host name "${host}"`)
}

/** A match (true), or the reason a name refuses the whole certificate (libpq's -1). */
function refusedFor(matched: true | string, host: string): AuthenticationRefusedError | undefined {
  return matched === true ? undefined : new AuthenticationRefusedError(`${matched} (the server's, for host name "${host}")`)
}

/** True on a match; a string says why the certificate is refused outright. */
function nameMatches(name: Uint8Array, host: Uint8Array, examined: string[]): boolean | string {
  // CVE-2009-4034: "a.example.com\0.evil.com" must not pass for what precedes the NUL.
  if (name.includes(0)) return "SSL certificate's name contains embedded null"
  examined.push(new TextDecoder().decode(name))
  if (equalIgnoringCase(name, 0, host, 0, host.length)) return true
  // "*." then the rest of the host's name: "*" takes one whole label, never empty, never a dot.
  const label = host.length - (name.length - 1)
  return name.length >= 3 && name[0] === 0x2a && name[1] === 0x2e && label > 0 &&
    !host.subarray(0, label).includes(0x2e) && equalIgnoringCase(name, 1, host, label, host.length)
}

function ipMatches(ip: Uint8Array, address: Uint8Array | undefined, examined: string[]): boolean | string {
  if (ip.length !== 4 && ip.length !== 16) return `certificate contains IP address with invalid length ${ip.length}`
  examined.push(ip.length === 4 ? ip.join('.') : Array.from({ length: 8 }, (_, i) => ((ip[2 * i]! << 8) | ip[2 * i + 1]!).toString(16)).join(':'))
  return address !== undefined && address.length === ip.length && address.every((byte, i) => byte === ip[i])
}

/** a[aStart...] against b[bStart, bEnd), the same length, ASCII letters in either case (pg_strcasecmp). */
function equalIgnoringCase(a: Uint8Array, aStart: number, b: Uint8Array, bStart: number, bEnd: number): boolean {
  if (a.length - aStart !== bEnd - bStart) return false
  const fold = (byte: number) => (byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte)
  for (let i = 0; bStart + i < bEnd; i++) if (fold(a[aStart + i]!) !== fold(b[bStart + i]!)) return false
  return true
}

/**
 * The host as an address in network order, as libpq's is_ip_address reads it (inet_aton for
 * IPv4, inet_pton for IPv6), or undefined for a name.
 */
export function ipAddress(host: string): Uint8Array | undefined {
  return inetAton(host) ?? inetPton6(host)
}

/**
 * glibc's inet_aton: one to four parts split by dots, each decimal, octal after a 0 or
 * hexadecimal after 0x, the last filling the bytes left ("127.1" is 127.0.0.1); whitespace ends
 * the address, and what follows it is ignored.
 */
function inetAton(host: string): Uint8Array | undefined {
  const parts = host.split(/[ \t\n\v\f\r]/, 1)[0]!.split('.')
  const values = parts.map((part) =>
    /^0x[\da-f]+$/i.test(part) ? parseInt(part, 16) : /^0[0-7]*$/.test(part) ? parseInt(part, 8) : /^[1-9]\d*$/.test(part) ? parseInt(part, 10) : NaN)
  const last = values.pop()!
  // A part of none of those forms is NaN, which fails every comparison.
  if (values.length > 3 || !values.every((value) => value < 256) || !(last < 256 ** (4 - values.length))) return undefined
  const left = 4 - values.length
  return Uint8Array.from([...values, ...Array.from({ length: left }, (_, i) => Math.floor(last / 256 ** (left - 1 - i)) % 256)])
}

/**
 * inet_pton's IPv6: eight groups, at most one "::" for some, perhaps a dotted quad for the last
 * 32 bits; a %zone, which inet_pton refuses too, makes the host a name.
 */
function inetPton6(host: string): Uint8Array | undefined {
  const lastColon = host.lastIndexOf(':')
  if (lastColon === -1) return undefined
  const v4 = host.includes('.', lastColon) ? quad(host.slice(lastColon + 1)) : []
  if (!v4) return undefined
  // What comes before the dotted quad, if any, without the colon that ends it (unless "::").
  const body = v4.length === 0 ? host : host.slice(0, host.endsWith('::', lastColon + 1) ? lastColon + 1 : lastColon)
  const halves = body.split('::').map((half) => (half === '' ? [] : half.split(':')))
  const present = halves.flat()
  const room = v4.length === 0 ? 8 : 6
  if (halves.length > 2 || !present.every((group) => /^[\da-f]{1,4}$/i.test(group))) return undefined
  if (halves.length === 2 ? present.length >= room : present.length !== room) return undefined
  const groups = [...halves[0]!, ...Array<string>(room - present.length).fill('0'), ...(halves[1] ?? [])]
  return Uint8Array.from([...groups.flatMap((group) => [parseInt(group, 16) >> 8, parseInt(group, 16) & 0xff]), ...v4])
}

/** inet_pton's dotted quad: four decimal parts, no leading zeros. */
function quad(text: string): number[] | undefined {
  const parts = text.split('.')
  return parts.length === 4 && parts.every((part) => /^(0|[1-9]\d{0,2})$/.test(part) && +part < 256) ? parts.map(Number) : undefined
}

/**
 * checkServerName against a DER certificate (node:tls's `raw`), whose chain node:tls has already
 * verified; a certificate whose names cannot be read is refused.
 */
export function verifyServerName(host: string, der: Uint8Array | undefined): AuthenticationRefusedError | undefined {
  let names: CertificateNames
  try {
    // A runtime's node:tls that gives no DER (Node's always does) is not taken at its word.
    if (!(der instanceof Uint8Array)) throw new RangeError('the TLS layer gave no DER certificate')
    names = certificateNames(der)
  } catch (error) {
    if (!(error instanceof RangeError)) throw error
    return new AuthenticationRefusedError(`cannot read the names in the server's TLS certificate: ${error.message}`, { cause: error })
  }
  return checkServerName(host, names)
}

/** DER tags (X.690 section 8.1.2): universal, and context-specific; [2] and [7] primitive, as GeneralName's IMPLICIT choices. */
const SEQUENCE = 0x30
const SET = 0x31
const OID = 0x06
const BOOLEAN = 0x01
const OCTET_STRING = 0x04
const VERSION = 0xa0
const EXTENSIONS = 0xa3
const DNS_NAME = 0x82
const IP_ADDRESS = 0x87
/** X.690 section 8.1.2.5: the bit that marks an element constructed (made of elements). */
const CONSTRUCTED = 0x20
/** The OID contents of id-at-commonName (2.5.4.3) and id-ce-subjectAltName (2.5.29.17). */
const COMMON_NAME = '55 04 03'
const SUBJECT_ALT_NAME = '55 1d 11'

/**
 * The names libpq reads (X509_NAME_get_index_by_NID, X509_get_ext_d2i) from a certificate (RFC 5280 section 4.1):
 *   Certificate ::= SEQUENCE { tbsCertificate TBSCertificate, signatureAlgorithm, signatureValue }
 *   TBSCertificate ::= SEQUENCE { version [0] EXPLICIT OPTIONAL, serialNumber, signature, issuer,
 *     validity, subject Name, subjectPublicKeyInfo, issuerUniqueID [1] OPTIONAL,
 *     subjectUniqueID [2] OPTIONAL, extensions [3] EXPLICIT SEQUENCE OF Extension OPTIONAL }
 *   Name ::= SEQUENCE OF SET OF SEQUENCE { type OBJECT IDENTIFIER, value ANY }
 *   Extension ::= SEQUENCE { extnID OBJECT IDENTIFIER, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
 *   subjectAltName's extnValue: GeneralNames ::= SEQUENCE OF GeneralName (section 4.2.1.6)
 * A RangeError when the shape is not that, for a second subjectAltName extension (OpenSSL
 * holds such a certificate invalid), or for a dNSName or iPAddress in BER's constructed form.
 * Not auth/der.ts's reader: sharing it would split it into a chunk of its own, which every
 * connection over TLS with SCRAM would load.
 */
export function certificateNames(der: Uint8Array): CertificateNames {
  const [certificate] = read(der, { start: 0, end: der.length }, [SEQUENCE])
  const [tbs] = read(der, certificate!, [SEQUENCE])
  const fields = read(der, tbs!)
  const subject = fields[fields[0]?.tag === VERSION ? 5 : 4]
  if (subject?.tag !== SEQUENCE) throw new RangeError('no subject where the certificate should have one')
  let commonName: Uint8Array | undefined
  for (const rdn of read(der, subject)) {
    if (rdn.tag !== SET) throw new RangeError('a RelativeDistinguishedName that is not a SET')
    for (const attribute of read(der, rdn)) {
      const [type, value] = read(der, attribute, [OID, -1])
      // A constructed value (a SEQUENCE, all the Name's ANY allows) is what OpenSSL keeps whole,
      // its header too (asn1_d2i_ex_primitive), and what libpq compares: not its contents.
      // (A constructed string, which BER allows and OpenSSL joins, then matches no host: stricter.)
      if (commonName === undefined && oid(der, type!) === COMMON_NAME) commonName = der.subarray(value!.tag & CONSTRUCTED ? value!.from : value!.start, value!.end)
    }
  }
  const altNames: ({ dns: Uint8Array } | { ip: Uint8Array })[] = []
  let seen = false
  for (const extensions of fields.filter((field) => field.tag === EXTENSIONS)) {
    for (const extension of read(der, read(der, extensions, [SEQUENCE])[0]!)) {
      // An extnID that is not an OBJECT IDENTIFIER makes the certificate one OpenSSL cannot parse: refused, not skipped.
      const [id, ...rest] = read(der, extension, [OID])
      if (oid(der, id!) !== SUBJECT_ALT_NAME) continue
      if (seen) throw new RangeError('a second subjectAltName extension')
      seen = true
      const value = rest.at(-1)!
      if (rest.length !== (rest[0]?.tag === BOOLEAN ? 2 : 1) || value.tag !== OCTET_STRING) throw new RangeError('a subjectAltName extension of the wrong shape')
      for (const name of read(der, read(der, value, [SEQUENCE])[0]!)) {
        // BER's constructed form, which DER forbids: OpenSSL joins its pieces into the name (asn1_collect),
        // and such a name rules out the commonName. Refused rather than joined.
        if (name.tag === (DNS_NAME | CONSTRUCTED) || name.tag === (IP_ADDRESS | CONSTRUCTED)) throw new RangeError('a dNSName or iPAddress in constructed form, which DER forbids')
        const bytes = der.subarray(name.start, name.end)
        if (name.tag === DNS_NAME) altNames.push({ dns: bytes })
        else if (name.tag === IP_ADDRESS) altNames.push({ ip: bytes })
      }
    }
  }
  return { altNames, commonName }
}

interface Span {
  readonly start: number
  readonly end: number
}

/**
 * The elements inside `parent` (der[start, end), an element's contents), each as its tag,
 * contents and where its encoding starts (`from`, at its tag); `tags`, when given, are the tags
 * the first ones must carry (-1: any). node:tls has already parsed the certificate, though as BER
 * (OpenSSL takes constructed strings and indefinite lengths, refused here): this checks only
 * what could send the reader astray, a length beyond what its parent holds.
 */
function read(der: Uint8Array, parent: Span, tags: number[] = []): (Span & { tag: number; from: number })[] {
  const found: (Span & { tag: number; from: number })[] = []
  const malformed = (at: number) => new RangeError(`not the certificate's DER at byte ${at}`)
  for (let at = parent.start; at < parent.end;) {
    const from = at
    const tag = der[at++]!
    // A high tag number (X.690 section 8.1.2.4) never occurs in what is read here.
    if ((tag & 0x1f) === 0x1f || at === parent.end) throw malformed(at)
    let length = der[at++]!
    if (length >= 0x80) {
      // The long form (X.690 section 8.1.3.5) in at most four bytes; 0x80 is BER's indefinite form.
      const count = length & 0x7f
      if (count === 0 || count > 4 || count > parent.end - at) throw malformed(at)
      length = 0
      for (const last = at + count; at < last;) length = length * 256 + der[at++]!
    }
    if (length > parent.end - at) throw malformed(at)
    found.push({ tag, from, start: at, end: at + length })
    at += length
  }
  if (tags.some((tag, i) => found[i] === undefined || (tag !== -1 && found[i].tag !== tag))) throw malformed(parent.start)
  return found
}

function oid(der: Uint8Array, element: Span): string {
  return Array.from(der.subarray(element.start, element.end), (byte) => byte.toString(16).padStart(2, '0')).join(' ')
}
