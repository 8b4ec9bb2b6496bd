/**
 * The TLS files libpq reads for a connection: root and client certificates and the client key,
 * with libpq's defaults under ~/.postgresql and its permission rule for the key. Node's I/O edge
 * for files (node:fs), reached only through io/node-platform.ts; the password file is
 * password-file.ts's, loaded only when no password was given. libpq's words for a missing root
 * certificate (tls-failures.ts) are loaded by dynamic import, when one is missing, and the
 * key's permission rule (key-permissions.ts) when a client certificate is found.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { AuthenticationRefusedError } from '../errors.ts'
import type { FileOrPem, Settings } from '../options/index.ts'
import type { TlsMaterial } from './platform.ts'

/**
 * The certificates and key to use, read from files where settings name files. The home folder
 * is asked for only when one of libpq's default files applies; without one (unknown, or its
 * access refused), the defaults are not there. sslmode=disable reads nothing: no TLS will need it.
 */
export async function loadTlsMaterial(settings: Settings, homeDir: () => string | undefined): Promise<TlsMaterial> {
  if (settings.sslmode === 'disable') return {}
  const inHome = (file: string): string | undefined => {
    const home = homeDir()
    return home ? join(home, '.postgresql', file) : undefined
  }
  const verify = settings.sslmode === 'verify-ca' || settings.sslmode === 'verify-full'
  const material: TlsMaterial = {}
  if (settings.sslrootcert === 'system') material.ca = 'system'
  else {
    // libpq reads ~/.postgresql/root.crt when no root certificate is named, and demands one for
    // verify-*: a missing one is then an error that says what to do about it.
    const fallback = settings.sslrootcert === undefined ? inHome('root.crt') : undefined
    if (settings.sslrootcert === undefined && fallback === undefined && verify) {
      throw (await import('./tls-failures.ts')).missingRootCertificate('~/.postgresql/root.crt', new Error('the home folder is not known'))
    }
    const ca = await readMaterial(settings.sslrootcert, fallback, 'root certificate', verify, verify ? rootCertificateMissing : undefined)
    if (ca !== undefined) material.ca = ca
  }
  // sslcertmode=disable presents no certificate: none is read, and no default looked for.
  if (settings.sslcertmode === 'disable') return material
  const cert = await readMaterial(settings.sslcert, settings.sslcert === undefined ? inHome('postgresql.crt') : undefined, 'client certificate', false)
  if (cert !== undefined) {
    material.cert = cert
    const keyPath = typeof settings.sslkey === 'string' ? settings.sslkey : typeof settings.sslkey === 'object' ? undefined : inHome('postgresql.key')
    if (keyPath !== undefined) await (await import('./key-permissions.ts')).checkKeyPermissions(keyPath)
    const key = await readMaterial(settings.sslkey, keyPath, 'client key', true)
    if (key !== undefined) material.key = key
  }
  return material
}

/**
 * A PEM given as such, or read from the named file, or from libpq's default file if it exists
 * (no default file: undefined, or for a required one, a missing file). `missing` words the
 * error for a file that is not there, where the generic one would not do (undefined: `cause`
 * says something else).
 */
async function readMaterial(
  value: FileOrPem | undefined,
  fallback: string | undefined,
  what: string,
  required: boolean,
  missing?: (path: string, cause: unknown) => Promise<Error | undefined>,
): Promise<string | Uint8Array | undefined> {
  if (typeof value === 'object') return value.pem
  const path = value ?? fallback
  if (path === undefined) {
    if (!required) return undefined
    throw new AuthenticationRefusedError(`no ${what} file: there is no home folder for libpq's default`)
  }
  try {
    return await readFile(path)
  } catch (cause) {
    if (value === undefined && !required) return undefined
    throw (await missing?.(path, cause)) ?? new AuthenticationRefusedError(`cannot read the ${what} file "${path}"`, { cause })
  }
}

/**
 * libpq's message for a root certificate that verify-* needs and that is not at `path`, or
 * undefined when the read failed for another reason. Loaded only then: most reads succeed.
 */
async function rootCertificateMissing(path: string, cause: unknown): Promise<Error | undefined> {
  const failures = await import('./tls-failures.ts')
  return failures.isMissingFile(cause) ? failures.missingRootCertificate(path, cause) : undefined
}
