/**
 * The look that replicate() makes, over an ordinary connection, when PostgreSQL 18 skips a
 * dropped publication with a WARNING (start.ts, publicationGone): like the look after a
 * reconnect's START_REPLICATION (resume-check.ts), close() ends it, even once it is connected
 * and its query is under way, rather than leave its connection open after the stream is closed;
 * one WARNING for each of several publications dropped makes one look, not one each; and the
 * user's own onNotice still hears the WARNING, an async one's rejection reaching onHandlerError.
 */
import { describe, expect, test } from 'vitest'
import type { ConnectOptions } from '../../src/protocol/io/connect.ts'
import { connect as connectTo } from '../../src/protocol/index.ts'
import type { Connection } from '../../src/protocol/io/connection.ts'
import { connectSuperuser } from '../support/connect.ts'
import { replicationDatabase, untilEnd } from '../support/replication.ts'

const db = replicationDatabase('replication_publication_look')
const { pg, database } = db

describe.runIf((pg.serverVersion ?? 180000) >= 180000)('the look at the publications after a LoadPublications WARNING', () => {
  test('close() ends a look whose query is under way: its connection does not outlive the stream', async () => {
    const name = `repl_publook_${process.pid}`
    const lock = 7_319_001
    const sql = await db.publishedSlot(name)
    // The look's query waits behind an advisory lock the test holds: a server slow to answer.
    const locker = await connectSuperuser({ database })
    await locker.query(`SELECT pg_advisory_lock(${lock})`)
    db.cleanup(() => locker.close())
    let looked!: (look: { result: Promise<unknown> }) => void
    const look = new Promise<{ result: Promise<unknown> }>((resolve) => (looked = resolve))
    const connect = async (options: ConnectOptions): Promise<Connection> => {
      const connection = await connectTo(options)
      if (options.replication !== undefined) return connection
      // The only ordinary connection this stream makes here (no watch, no reconnect): the look.
      const query = connection.query.bind(connection)
      connection.query = ((...args: Parameters<Connection['query']>) => {
        const result = query(`SELECT pg_advisory_lock(${lock})`).then(() => query(...args))
        looked({ result })
        return result
      }) as Connection['query']
      return connection
    }
    const { stream, iterator } = db.open(name, {}, connect)
    await sql.query(`INSERT INTO ${name} VALUES (1)`)
    for (let next = await iterator.next(); !(next.value?.kind === 'insert'); next = await iterator.next()) expect(next.done).toBe(false)
    await sql.query(`DROP PUBLICATION ${name}`)
    await sql.query(`INSERT INTO ${name} VALUES (2)`)
    const { result } = await look
    await stream.close()
    // Were the look not ended by close(), it would go on now, and answer.
    await locker.query(`SELECT pg_advisory_unlock(${lock})`)
    await expect(result).rejects.toThrow(/stopped|closed|abort/i)
  })
  test('several publications dropped, one WARNING each: one look, not a connection each, and the stream ends naming them', async () => {
    const name = `repl_publooks_${process.pid}`
    const publications = [1, 2, 3].map((n) => `${name}_${n}`)
    const sql = await db.publishedSlot(name, publications)
    let looks = 0
    const connect = async (options: ConnectOptions): Promise<Connection> => {
      // The only ordinary connections this stream makes here (no watch, no reconnect): the looks.
      if (options.replication === undefined) looks++
      return connectTo(options)
    }
    const { iterator } = db.open(name, { publications }, connect)
    await sql.query(`INSERT INTO ${name} VALUES (1)`)
    for (let next = await iterator.next(); !(next.value?.kind === 'insert'); next = await iterator.next()) expect(next.done).toBe(false)
    await sql.query(`DROP PUBLICATION ${publications.join(', ')}`)
    await sql.query(`INSERT INTO ${name} VALUES (2)`)
    const end = untilEnd(iterator)
    await expect(end).rejects.toThrow(/publications .* do not exist/)
    expect(looks).toBe(1)
  })
  test("the user's async onNotice hears the WARNING, and its rejection reaches onHandlerError, not the process", async () => {
    const name = `repl_publookn_${process.pid}`
    const sql = await db.publishedSlot(name)
    const handlerErrors: unknown[] = []
    const connection = {
      onNotice: async () => {
        throw new Error('onNotice failed')
      },
      onHandlerError: (error: unknown) => void handlerErrors.push(error),
    }
    const { iterator } = db.open(name, { connection })
    await sql.query(`INSERT INTO ${name} VALUES (1)`)
    for (let next = await iterator.next(); !(next.value?.kind === 'insert'); next = await iterator.next()) expect(next.done).toBe(false)
    await sql.query(`DROP PUBLICATION ${name}`)
    await sql.query(`INSERT INTO ${name} VALUES (2)`)
    const end = untilEnd(iterator)
    // The look that ends the stream began with the WARNING; the handler's rejection came before it ended.
    await expect(end).rejects.toThrow(/does not exist/)
    expect(handlerErrors).toEqual([new Error('onNotice failed')])
  })
})
