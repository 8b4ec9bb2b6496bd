/**
 * The slot dropped between a reconnect's look and its START_REPLICATION, through a server or a
 * proxy that leaves out the ErrorResponse's routine field (R: optional, "Error and Notice Message
 * Fields"): the stream ends with the same ReplicationError "is gone" as when the routine says
 * ReplicationSlotAcquire. Before CopyBothResponse the walsender has only acquired the slot and
 * made the decoding context (walsender.c, StartLogicalReplication), and of those only the
 * acquire answers 42704. Found by review: the server's DatabaseError came through instead.
 */
import { expect, test } from 'vitest'
import { connect } from '../../src/protocol/index.ts'
import { DatabaseError } from '../../src/protocol/errors.ts'
import type { ConnectOptions } from '../../src/protocol/io/connect.ts'
import type { Connection } from '../../src/protocol/io/connection.ts'
import { ReplicationError } from '../../src/replication.ts'
import { connectSuperuser } from '../support/connect.ts'
import { insertsUntil, replicationDatabase, untilInactive } from '../support/replication.ts'

const db = replicationDatabase('review13_no_routine')
const supported = (db.pg.serverVersion ?? 180000) >= 140000

test.runIf(supported)("dropped in the moment before a reconnect's START_REPLICATION, its 42704 without a routine: 'is gone'", async () => {
  const name = `no_routine_${process.pid}`
  const sql = await connectSuperuser({ database: db.database })
  await sql.query(`CREATE TABLE ${name} (id int PRIMARY KEY); CREATE PUBLICATION ${name} FOR TABLE ${name}`)
  await sql.query(`SELECT pg_create_logical_replication_slot('${name}', 'pgoutput')`)
  db.cleanup(async () => {
    await untilInactive(sql, name)
    await sql.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '${name}'`)
    await sql.close()
  })
  let afterLook: (() => Promise<void>) | undefined
  const stripped: DatabaseError[] = []
  const hooked = async (options: ConnectOptions): Promise<Connection> => {
    const connection = await connect(options)
    if (options.replication !== 'database') return connection
    const query = connection.query.bind(connection)
    connection.query = async (text: string) => {
      const result = await query(text)
      const hook = afterLook
      if (hook && text.includes('pg_replication_slots')) {
        afterLook = undefined
        await hook()
      }
      return result
    }
    // The ErrorResponse as a server that sends no routine would give it.
    const copyBoth = connection.copyBoth.bind(connection)
    connection.copyBoth = (...args: Parameters<Connection['copyBoth']>) =>
      copyBoth(...args).catch((error: unknown) => {
        if (!(error instanceof DatabaseError)) throw error
        const { routine: _routine, ...fields } = error
        const without = new DatabaseError({ ...fields, message: error.message })
        stripped.push(without)
        throw without
      })
    return connection
  }
  const { iterator } = db.open(name, { create: true, reconnect: { minDelay: 10, maxDelay: 100 } }, hooked)
  await sql.query(`INSERT INTO ${name} VALUES (1)`)
  expect(await insertsUntil(iterator, 1)).toEqual([1])
  afterLook = async () => {
    await untilInactive(sql, name) // the walsender ended below may hold it a moment longer
    await sql.query(`SELECT pg_drop_replication_slot('${name}')`)
  }
  await sql.query(`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '${name}' AND active`)
  const failure = await insertsUntil(iterator, 2).then((ids) => ids, (error: unknown) => error)
  expect(stripped.map((e) => [e.code, e.routine])).toEqual([['42704', undefined]]) // the drop landed where the test meant
  expect(failure).toBeInstanceOf(ReplicationError)
  expect((failure as Error).message).toMatch(new RegExp(`^replication slot "${name}" is gone`))
  expect((failure as Error).cause).toBe(stripped[0])
})
