/**
 * A test-side DER writer (X.690), independent of src/protocol/auth/der.ts, to build the synthetic
 * certificates the certificate tests feed to the reader. Also loads the PEM fixtures, through
 * Node's own X509Certificate rather than any pglisten code.
 */
import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'

type Part = number | readonly number[] | Uint8Array

const flat = (parts: readonly Part[]): number[] =>
  parts.flatMap((part) => (typeof part === 'number' ? [part] : Array.from(part)))

/** DER length octets (X.690 section 8.1.3): short form below 128, else the fewest bytes. */
export function derLength(n: number): number[] {
  if (n < 0x80) return [n]
  const bytes: number[] = []
  for (let rest = n; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256)
  return [0x80 | bytes.length, ...bytes]
}

/** One element: tag, DER length, contents. */
export function tlv(tag: number, ...contents: Part[]): Uint8Array {
  const body = flat(contents)
  return Uint8Array.from([tag, ...derLength(body.length), ...body])
}

export const SEQUENCE = 0x30
export const NULL = Uint8Array.of(0x05, 0x00)

/** An OBJECT IDENTIFIER element, from its dotted form (X.690 section 8.19). */
export function oid(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map(BigInt)
  const [first = 0n, second = 0n, ...rest] = arcs
  const contents: number[] = []
  for (const value of [first * 40n + second, ...rest]) {
    const groups = [Number(value & 0x7fn)]
    for (let v = value >> 7n; v > 0n; v >>= 7n) groups.unshift(Number(v & 0x7fn) | 0x80)
    contents.push(...groups)
  }
  return tlv(0x06, contents)
}

/** AlgorithmIdentifier ::= SEQUENCE { algorithm OBJECT IDENTIFIER, parameters ANY OPTIONAL } */
export function algorithmIdentifier(dotted: string, parameters?: Uint8Array): Uint8Array {
  return parameters ? tlv(SEQUENCE, oid(dotted), parameters) : tlv(SEQUENCE, oid(dotted))
}

/**
 * The outer shape of a Certificate (RFC 5280 section 4.1) around `signatureAlgorithm`: an empty
 * tbsCertificate and a one-byte signature. Nothing here is signed; only the shape is read.
 */
export function certificate(signatureAlgorithm: Uint8Array): Uint8Array {
  return tlv(SEQUENCE, tlv(SEQUENCE), signatureAlgorithm, tlv(0x03, 0x00, 0x2a))
}

/** RSASSA-PSS-params (RFC 4055 section 3.1) with the given hash, or with every field left default. */
export function pssParameters(hash?: string): Uint8Array {
  return hash ? tlv(SEQUENCE, tlv(0xa0, algorithmIdentifier(hash, NULL))) : tlv(SEQUENCE)
}

/** A PEM fixture from test/fixtures/certificates, as DER. */
export function fixture(name: string): Uint8Array {
  const pem = readFileSync(new URL(`../../fixtures/certificates/${name}.pem`, import.meta.url))
  return new Uint8Array(new X509Certificate(pem).raw)
}

export const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')
