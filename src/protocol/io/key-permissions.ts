/**
 * libpq's permission rule for the client's private key file (fe-secure-openssl.c). Node's I/O
 * edge for it (node:fs), loaded by files.ts only when a client certificate is found: most
 * connections present none, and never read a key.
 */
import { stat } from 'node:fs/promises'
import { AuthenticationRefusedError } from '../errors.ts'

/**
 * libpq refuses a private key that others can read: at most u=rw (0600) when the current user
 * owns it, or u=rw,g=r (0640) when root does.
 */
export async function checkKeyPermissions(path: string): Promise<void> {
  if (process.platform === 'win32') return
  let info
  try {
    info = await stat(path)
  } catch {
    return // missing: reading it reports that
  }
  const tooOpen = info.uid === 0 ? info.mode & 0o137 : info.mode & 0o077
  if (tooOpen) {
    throw new AuthenticationRefusedError(`private key file "${path}" has group or world access; file must have permissions u=rw (0600) or less if owned by the current user, or permissions u=rw,g=r (0640) or less if owned by root`)
  }
}
