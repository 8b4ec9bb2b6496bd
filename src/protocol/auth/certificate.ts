/**
 * The tls-server-end-point channel binding data (RFC 5929 section 4.1): the hash of the server's
 * DER certificate, with the hash of the certificate's signature algorithm, SHA-256 standing in for
 * MD5 and SHA-1. Imports errors and the DER reader; SHA-224 by dynamic import, WebCrypto for the other hashes.
 *
 * Node 20 does not say which algorithm signed a certificate, so it is read from the certificate
 * (RFC 5280 section 4.1.1.2). PostgreSQL's server (be_tls_get_certificate_hash in
 * be-secure-openssl.c) and libpq (pgtls_get_peer_certificate_hash in fe-secure-openssl.c) ask
 * OpenSSL's X509_get_signature_info for the signature's digest, turn MD5 and SHA-1 into SHA-256,
 * and otherwise hash with that digest; with no digest (Ed25519, Ed448) both fail with "could not
 * find digest for NID UNDEF". Whatever hash the server used, the client must use the same, so a
 * certificate whose hash cannot be determined here is refused, never guessed at.
 */
import { AuthenticationRefusedError } from '../errors.ts'
import { DerError, DerReader, Tag, decodeOid } from './der.ts'

export type CertificateHash = 'SHA-224' | 'SHA-256' | 'SHA-384' | 'SHA-512'

/** A certificate's signatureAlgorithm (RFC 5280 section 4.1.1.2): an AlgorithmIdentifier. */
export interface SignatureAlgorithm {
  /** Dotted, e.g. '1.2.840.113549.1.1.11' (sha256WithRSAEncryption). */
  readonly oid: string
  /** The DER of the parameters element, when there is one (RSASSA-PSS keeps its hash there). */
  readonly parameters: Uint8Array | undefined
}

/**
 * Certificate ::= SEQUENCE { tbsCertificate TBSCertificate, signatureAlgorithm AlgorithmIdentifier,
 *                            signatureValue BIT STRING }                        (RFC 5280 4.1)
 * AlgorithmIdentifier ::= SEQUENCE { algorithm OBJECT IDENTIFIER, parameters ANY OPTIONAL }
 * Only this outer shape is checked; the TLS layer has already parsed and verified the rest.
 */
export function signatureAlgorithm(der: Uint8Array): SignatureAlgorithm {
  if (!(der instanceof Uint8Array)) throw new TypeError('the certificate must be a Uint8Array of DER')
  return refusingMalformed(() => {
    const whole = new DerReader(der)
    const certificate = whole.read(Tag.SEQUENCE, 'Certificate')
    whole.finish('Certificate')
    const fields = whole.inside(certificate)
    fields.read(Tag.SEQUENCE, 'tbsCertificate')
    const algorithm = fields.read(Tag.SEQUENCE, 'signatureAlgorithm')
    const signature = fields.read(Tag.BIT_STRING, 'signatureValue')
    fields.finish('Certificate')
    // X.690 section 8.6.2.2: the first contents byte counts the unused bits, 0 to 7.
    const unused = fields.contents(signature)[0]
    if (unused === undefined || unused > 7) throw new DerError('signatureValue: not a valid BIT STRING', signature.start)
    return readAlgorithmIdentifier(fields.inside(algorithm), 'signatureAlgorithm')
  })
}

/** The hash RFC 5929 section 4.1 assigns to the certificate; throws when there is none. */
export function channelBindingHash(der: Uint8Array): CertificateHash {
  const { oid, parameters } = signatureAlgorithm(der)
  const digest = oid === RSASSA_PSS ? refusingMalformed(() => pssHash(parameters)) : SIGNATURE_DIGESTS.get(oid)
  if (digest === undefined) {
    throw new AuthenticationRefusedError(
      `channel binding: the server certificate's signature algorithm ${oid} has no single hash, or none pglisten knows, ` +
        'so its tls-server-end-point data is undefined (RFC 5929 section 4.1)',
    )
  }
  // The two substitutions of RFC 5929 section 4.1, as PostgreSQL makes them.
  if (digest === 'MD5' || digest === 'SHA-1') return 'SHA-256'
  if (digest === 'SHA-224' || digest === 'SHA-256' || digest === 'SHA-384' || digest === 'SHA-512') return digest
  // SHA-512/224, SHA-512/256 and SHA-3, which an OpenSSL-built server would hash with, and MD2 and
  // MD4, which OpenSSL 3 keeps only in its legacy provider: refused, since a guess would not match.
  throw new AuthenticationRefusedError(
    `channel binding: the server certificate is signed with ${digest}, which pglisten cannot compute (${oid})`,
  )
}

/**
 * The tls-server-end-point channel binding data of the server's DER certificate. SHA-224, which
 * WebCrypto lacks, is loaded by dynamic import for the rare certificate signed with it.
 */
export async function tlsServerEndPoint(der: Uint8Array): Promise<Uint8Array> {
  const hash = channelBindingHash(der)
  if (hash === 'SHA-224') return (await import('./sha224.ts')).sha224(der)
  return new Uint8Array(await globalThis.crypto.subtle.digest(hash, der))
}

/** Hashes a signature algorithm can name; only the first six are computed here. */
type Digest = CertificateHash | 'MD5' | 'SHA-1' | 'MD2' | 'MD4' | 'SHA-512/224' | 'SHA-512/256' | 'SHA3-224' | 'SHA3-256' | 'SHA3-384' | 'SHA3-512'

const RSASSA_PSS = '1.2.840.113549.1.1.10'

/**
 * Signature algorithm OIDs and the digest each signs with: the pairs of OpenSSL's obj_xref.txt,
 * which is what X509_get_signature_info reports to PostgreSQL. Algorithms with no digest of their
 * own (Ed25519 1.3.101.112, Ed448 1.3.101.113, ecdsa-with-Recommended/Specified) are absent, and so
 * refused, as PostgreSQL refuses them.
 */
const SIGNATURE_DIGESTS = new Map<string, Digest>([
  // PKCS #1 (RFC 8017 appendix C, RFC 4055 section 5)
  ['1.2.840.113549.1.1.2', 'MD2'],
  ['1.2.840.113549.1.1.3', 'MD4'],
  ['1.2.840.113549.1.1.4', 'MD5'],
  ['1.2.840.113549.1.1.5', 'SHA-1'],
  ['1.2.840.113549.1.1.11', 'SHA-256'],
  ['1.2.840.113549.1.1.12', 'SHA-384'],
  ['1.2.840.113549.1.1.13', 'SHA-512'],
  ['1.2.840.113549.1.1.14', 'SHA-224'],
  ['1.2.840.113549.1.1.15', 'SHA-512/224'],
  ['1.2.840.113549.1.1.16', 'SHA-512/256'],
  // OIW's older RSA and DSA identifiers, which OpenSSL still maps
  ['1.3.14.3.2.3', 'MD5'],
  ['1.3.14.3.2.29', 'SHA-1'],
  ['1.3.14.3.2.27', 'SHA-1'],
  // DSA (RFC 3279 section 2.2.2, RFC 5758 section 3.1, NIST CSOR)
  ['1.2.840.10040.4.3', 'SHA-1'],
  ['2.16.840.1.101.3.4.3.1', 'SHA-224'],
  ['2.16.840.1.101.3.4.3.2', 'SHA-256'],
  ['2.16.840.1.101.3.4.3.3', 'SHA-384'],
  ['2.16.840.1.101.3.4.3.4', 'SHA-512'],
  // ECDSA (RFC 3279 section 2.2.3, RFC 5758 section 3.2)
  ['1.2.840.10045.4.1', 'SHA-1'],
  ['1.2.840.10045.4.3.1', 'SHA-224'],
  ['1.2.840.10045.4.3.2', 'SHA-256'],
  ['1.2.840.10045.4.3.3', 'SHA-384'],
  ['1.2.840.10045.4.3.4', 'SHA-512'],
  // SHA-3 with DSA, ECDSA and RSA (NIST CSOR 2.16.840.1.101.3.4.3.5 to .16)
  ...(['SHA3-224', 'SHA3-256', 'SHA3-384', 'SHA3-512'] as const).flatMap((sha3, i): [string, Digest][] => [
    [`2.16.840.1.101.3.4.3.${5 + i}`, sha3],
    [`2.16.840.1.101.3.4.3.${9 + i}`, sha3],
    [`2.16.840.1.101.3.4.3.${13 + i}`, sha3],
  ]),
])

/** Hash algorithm OIDs, as they appear inside RSASSA-PSS parameters (RFC 4055, NIST CSOR). */
const HASH_OIDS = new Map<string, Digest>([
  ['1.2.840.113549.2.5', 'MD5'],
  ['1.3.14.3.2.26', 'SHA-1'],
  ['2.16.840.1.101.3.4.2.1', 'SHA-256'],
  ['2.16.840.1.101.3.4.2.2', 'SHA-384'],
  ['2.16.840.1.101.3.4.2.3', 'SHA-512'],
  ['2.16.840.1.101.3.4.2.4', 'SHA-224'],
  ['2.16.840.1.101.3.4.2.5', 'SHA-512/224'],
  ['2.16.840.1.101.3.4.2.6', 'SHA-512/256'],
  ['2.16.840.1.101.3.4.2.7', 'SHA3-224'],
  ['2.16.840.1.101.3.4.2.8', 'SHA3-256'],
  ['2.16.840.1.101.3.4.2.9', 'SHA3-384'],
  ['2.16.840.1.101.3.4.2.10', 'SHA3-512'],
])

/**
 * RSASSA-PSS-params ::= SEQUENCE {                                        (RFC 4055 section 3.1)
 *   hashAlgorithm    [0] HashAlgorithm    DEFAULT sha1,
 *   maskGenAlgorithm [1] MaskGenAlgorithm DEFAULT mgf1SHA1,
 *   saltLength       [2] INTEGER          DEFAULT 20,
 *   trailerField     [3] TrailerField     DEFAULT trailerFieldBC }
 * The signature's hash is hashAlgorithm, SHA-1 when absent: OpenSSL's rsa_sig_info_set reports it
 * alone, whatever the mask generation hash. The parameters MUST be present on a signature (RFC
 * 4055 section 3.1), and OpenSSL fails without them, so their absence is refused. Offsets in a
 * DerError from here count from the start of the parameters.
 */
function pssHash(parameters: Uint8Array | undefined): Digest | undefined {
  if (parameters === undefined) {
    throw new AuthenticationRefusedError('channel binding: the server certificate has an RSASSA-PSS signature without parameters')
  }
  const outer = new DerReader(parameters)
  const fields = outer.inside(outer.read(Tag.SEQUENCE, 'RSASSA-PSS-params'))
  let hash: Digest | undefined = 'SHA-1'
  for (let field = 0; field < 4 && !fields.done; field++) {
    const tag = fields.peekTag()
    if (tag !== Tag.context(field)) continue
    const element = fields.read(tag, `RSASSA-PSS-params [${field}]`)
    if (field === 0) {
      const inner = fields.inside(element)
      const algorithm = inner.read(Tag.SEQUENCE, 'hashAlgorithm')
      inner.finish('hashAlgorithm')
      hash = HASH_OIDS.get(readAlgorithmIdentifier(inner.inside(algorithm), 'hashAlgorithm').oid)
    }
  }
  // Any field out of order, repeated or unknown is left unread here.
  fields.finish('RSASSA-PSS-params')
  return hash
}

/** The fields of an AlgorithmIdentifier: an OID and at most one parameters element. */
function readAlgorithmIdentifier(fields: DerReader, what: string): SignatureAlgorithm {
  const algorithm = fields.read(Tag.OBJECT_IDENTIFIER, `${what}.algorithm`)
  const oid = decodeOid(fields.contents(algorithm), algorithm.contentStart)
  let parameters: Uint8Array | undefined
  const tag = fields.peekTag()
  if (tag !== undefined) parameters = fields.encoding(fields.read(tag, `${what}.parameters`))
  fields.finish(what)
  return { oid, parameters }
}

/** Runs a DER walk, turning malformed DER into a refusal that keeps the DerError as its cause. */
function refusingMalformed<T>(walk: () => T): T {
  try {
    return walk()
  } catch (error) {
    if (!(error instanceof DerError)) throw error
    throw new AuthenticationRefusedError(`channel binding: the server certificate is not valid DER: ${error.message}`, {
      cause: error,
    })
  }
}
