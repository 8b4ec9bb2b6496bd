/**
 * Listener test helpers: a listener on the test server, isolated from the machine's PG*
 * variables and ~/.pgpass, and collectors for what it hears.
 */
import { afterEach } from 'vitest'
import { createListener, type Listener, type ListenerOptions } from '../../src/index.ts'
import type { ListenerItem } from '../../src/listener/subscription.ts'
import type { Connection } from '../../src/protocol/io/connection.ts'
import { connectSuperuser, isolated, server } from './connect.ts'

/** Options for a superuser listener on the test server, plain TCP unless told otherwise. */
export function listenerOptions(extra: Partial<ListenerOptions> = {}): ListenerOptions {
  const pg = server()
  return {
    ...isolated,
    host: pg.host,
    port: pg.port,
    user: pg.superuser.user,
    database: pg.database,
    ...(pg.superuser.password !== undefined ? { password: pg.superuser.password } : {}),
    sslmode: 'disable',
    connectTimeout: 10,
    ...extra,
  }
}

const opened: Listener[] = []
afterEach(async () => {
  await Promise.all(opened.splice(0).map((l) => l.close()))
})

/** A listener closed after the test. */
export async function listener(extra: Partial<ListenerOptions> = {}): Promise<Listener> {
  const l = await createListener(listenerOptions(extra))
  opened.push(l)
  return l
}

const admins: Connection[] = []
afterEach(async () => {
  await Promise.all(admins.splice(0).map((a) => a.close()))
})

/** A superuser connection beside the listener (to write, NOTIFY, lock, look at pg_stat_activity), closed after the test. */
export async function admin(): Promise<Connection> {
  const a = await connectSuperuser()
  admins.push(a)
  return a
}

/** Reads items from an iterator in the background; `items` fills as they come. */
export function collect(iterator: AsyncIterableIterator<ListenerItem>): { items: ListenerItem[]; done: Promise<void> } {
  const items: ListenerItem[] = []
  const done = (async () => {
    for await (const item of iterator) items.push(item)
  })()
  return { items, done }
}

/** The next `count` items of an iterator, without ending it (fewer if it ends first). */
export async function take<T>(iterator: AsyncIterator<T>, count: number): Promise<T[]> {
  const items: T[] = []
  while (items.length < count) {
    const result = await iterator.next()
    if (result.done) break
    items.push(result.value)
  }
  return items
}

/** A channel name no other test uses. */
export function uniqueChannel(prefix = 'test'): string {
  return `${prefix} ${Math.random().toString(36).slice(2, 10)}`
}
