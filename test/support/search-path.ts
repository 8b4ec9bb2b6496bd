/**
 * Sessions for the search_path tests (search-path, search-path-operators, search-path-restore):
 * each file makes stand-ins in a database of its own and then opens superuser sessions there,
 * most with a search_path given as a startup option, so that what pglisten's SQL looks up is
 * looked up on it from the first statement. Every session is closed after its test, failed or
 * not (this module's hook), and a setup's connection after its setup.
 */
import { afterEach } from 'vitest'
import type { ConnectOptions } from '../../src/protocol/index.ts'
import type { Connection } from '../../src/protocol/io/connection.ts'
import { connect, connectSuperuser, server } from './connect.ts'

/**
 * A search_path that lists a schema `hijack` before pg_catalog, as a startup option (`-c`, as
 * PGOPTIONS would give it): PostgreSQL searches pg_catalog first only when search_path does not
 * list it (ddl.sgml, "The System Catalog Schema").
 */
export const hijacked = { options: '-c search_path=hijack,pg_catalog' } satisfies Partial<ConnectOptions>

const opened: { close(): Promise<void> }[] = []
afterEach(async () => {
  await Promise.all(opened.splice(0).map((o) => o.close().catch(() => undefined)))
})

/** Closes `it` (a connection, a replication stream) after the test. */
export function closedAfterTest<T extends { close(): Promise<void> }>(it: T): T {
  opened.push(it)
  return it
}

/** A superuser session in `database` over TCP, with `extra` options, closed after the test. */
export async function session(database: string, extra: Partial<ConnectOptions> = {}): Promise<Connection> {
  return closedAfterTest(await connect(server().superuser, 'tcp', { database, ...extra }))
}

/** Runs `work` on a superuser connection to `database`, closed after it, failed or not. */
export async function asSuperuser<T>(database: string, work: (sql: Connection) => Promise<T>): Promise<T> {
  const sql = await connectSuperuser({ database })
  try {
    return await work(sql)
  } finally {
    await sql.close()
  }
}

/** The session's search_path as SHOW gives it (quoted where a name needs it, "" for an empty one). */
export async function searchPath(c: Connection): Promise<string | null | undefined> {
  const [shown] = await c.query('SHOW search_path')
  return shown?.rows[0]?.[0]
}
