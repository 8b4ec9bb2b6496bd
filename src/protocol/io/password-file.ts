/**
 * The password file as libpq reads it for one host, ignored (with a warning) if it is not a
 * plain file or others may read it. Node's I/O edge for files (node:fs); imports the pure rules
 * of ../options (pgpass.ts). Loaded by io/node-platform.ts with a dynamic import, when connect.ts
 * asks for a password no setting gave, with the rules (pglisten/protocol/auth exports them:
 * a bundler keeps what an entry re-exports in that entry's first chunk).
 */
import { readFile, stat } from 'node:fs/promises'
import { findPgpassPassword, parsePgpass, pgpassPermissionProblem, type PgpassTarget } from '../options/pgpass.ts'

/** The password for `target` from `passfile` (passwordFromFile in fe-connect.c); undefined if none. */
export async function passwordFromFile(
  passfile: string,
  target: PgpassTarget,
  warn: (message: string) => void,
): Promise<string | undefined> {
  let info
  try {
    info = await stat(passfile)
  } catch {
    return undefined
  }
  if (!info.isFile()) {
    warn(`password file "${passfile}" is not a plain file`)
    return undefined
  }
  const problem = pgpassPermissionProblem(info.mode, process.platform, passfile)
  if (problem !== undefined) {
    warn(problem)
    return undefined
  }
  return findPgpassPassword(parsePgpass(await readFile(passfile, 'utf8')), target)
}
