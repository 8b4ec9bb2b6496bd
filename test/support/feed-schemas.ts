/**
 * Schemas of a change-feed test file's own (changes-rename, changes-partitions, listener-changes,
 * changes-tcn-install-false and its refusals),
 * with names that need quoting, off the search_path: made before the file's tests by one
 * superuser connection, `admin`, which the tests then use to change tables and send markers, and
 * dropped with all in them (CASCADE: tables, triggers, row trigger functions) after the tests.
 * vitest gives each test file modules of its own (its `isolate`, on by default): each has its own `admin`.
 */
import { afterAll, beforeAll } from 'vitest'
import type { Feed, FeedItem } from '../../src/listener/feeds.ts'
import { quoteLiteral } from '../../src/listener/sql.ts'
import type { Connection } from '../../src/protocol/io/connection.ts'
import { connectSuperuser } from './connect.ts'

/** A few random letters that keep this file's names apart from another run's. */
export const tag = Math.random().toString(36).slice(2, 8)

/** An identifier, quoted as the SQL docs say ("Identifiers and Key Words"); written here, not taken from src/. */
export const q = (name: string) => `"${name.replaceAll('"', '""')}"`

/**
 * The superuser connection, open from the hooks of schemasOfItsOwn on (an ES module's `export
 * let` is a live binding: importers see it once the hook has set it).
 */
export let admin: Connection

/** Makes the schemas `names` before the file's tests, and drops them after. */
export function schemasOfItsOwn(...names: string[]): void {
  beforeAll(async () => {
    admin = await connectSuperuser()
    for (const name of names) await admin.query(`CREATE SCHEMA ${q(name)}`)
  })
  afterAll(async () => {
    for (const name of names) await admin.query(`DROP SCHEMA ${q(name)} CASCADE`)
    await admin.close()
  })
}

/**
 * The feed's items up to a marker sent now on its channel (not a row change, so a PayloadError):
 * NOTIFY delivers in commit order, so whatever the feed kept of the changes committed before
 * it comes first, and whatever it dropped is simply not there.
 */
export async function upToMarker(feed: Feed<unknown>): Promise<FeedItem<unknown>[]> {
  const marker = `marker ${tag}`
  await admin.query(`SELECT pg_notify(${quoteLiteral(feed.channel)}, ${quoteLiteral(marker)})`)
  const items: FeedItem<unknown>[] = []
  for (;;) {
    const { value, done } = await feed.next()
    if (done) throw new Error('the feed ended before the marker')
    if ((value as { payload?: string }).payload === marker) return items
    items.push(value)
  }
}
