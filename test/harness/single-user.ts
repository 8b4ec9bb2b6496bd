// Runs SQL on a stopped cluster with PostgreSQL's single-user mode (`postgres --single`), so the
// harness sets up roles without any client: no psql ships with the binaries, and the client
// under test must not prepare its own tests. Imports node: modules and ./run-as.ts only.

import { join } from 'node:path'
import { type OsUser, run } from './run-as.ts'

/**
 * Runs the statements in order in database `postgres` and returns the columns the SELECTs
 * printed, by name (a later column of the same name wins). Rejects if any statement failed:
 * single-user mode logs the error and carries on, exiting 0, so stderr is the only witness.
 */
export async function singleUser(
  bin: string, data: string, statements: string[], as?: OsUser,
): Promise<Map<string, string>> {
  // -j: a statement ends at a semicolon followed by an empty line, not at every newline.
  const input = statements.map((s) => `${s};\n\n`).join('')
  const r = await run(join(bin, 'postgres'), ['--single', '-j', '-D', data, 'postgres'], { as, input })
  const failed = /\b(ERROR|FATAL|PANIC):/.test(r.stderr)
  if (r.code !== 0 || failed) throw new Error(`single-user mode failed (exit ${r.code}):\n${r.stderr}`)

  // A printed row looks like:  \t 1: name = "value"\t(typeid = 25, len = -1, typmod = -1, byval = f)
  const columns = new Map<string, string>()
  for (const m of r.stdout.matchAll(/^\t *\d+: (\w+) = "(.*)"\t\(typeid = /gm)) columns.set(m[1]!, m[2]!)
  return columns
}
