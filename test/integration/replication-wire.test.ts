/**
 * The replication sub-protocol against the real PostgreSQL, at the protocol layer: a
 * replication=database connection, IDENTIFY_SYSTEM, a temporary slot, START_REPLICATION and the
 * COPY BOTH stream's XLogData and keepalives, the standby status update the server acts on,
 * and the ways the copy ends. pgoutput's payloads are only looked at by their first byte here.
 */
import { afterEach, describe, expect, test } from 'vitest'
import { BodyReader } from '../../src/protocol/bytes/reader.ts'
import { ByteWriter } from '../../src/protocol/bytes/writer.ts'
import { DatabaseError } from '../../src/protocol/errors.ts'
import type { Connection } from '../../src/protocol/io/connection.ts'
import { createReplicationSlot, identifySystem, startReplication } from '../../src/protocol/replication/commands.ts'
import { formatLsn, parseLsn, type Lsn } from '../../src/protocol/replication/lsn.ts'
import { decodeReplicationMessage, pgTimeFromMs, writeStandbyStatusUpdate, type ReplicationMessage } from '../../src/protocol/replication/stream-messages.ts'
import { connectSuperuser, eventually } from '../support/connect.ts'

const open: Connection[] = []
/** A copy's promise, marked handled: a test that fails before awaiting it must not also leave an unhandled rejection. */
function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined)
  return promise
}
async function track(connection: Promise<Connection>): Promise<Connection> {
  const c = await connection
  open.push(c)
  return c
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()))
})

let serial = 0
/** A table with a publication of its own, so that a slot hears only this test's changes. */
async function publishedTable(sql: Connection): Promise<{ table: string; publication: string }> {
  const name = `repl_wire_${process.pid}_${++serial}`
  await sql.query(`CREATE TABLE ${name} (id int PRIMARY KEY, note text); CREATE PUBLICATION ${name} FOR TABLE ${name}`)
  return { table: name, publication: name }
}

/** What the stream brought, decoded at the CopyData level. */
interface Heard {
  kind: ReplicationMessage['type']
  walStart?: Lsn
  walEnd: Lsn
  replyRequested?: boolean
  /** XLogData: pgoutput's message type byte, as a character. */
  pgoutput?: string
}

function hear(into: Heard[]): (data: Uint8Array) => void {
  const reader = new BodyReader()
  return (data) => {
    const m = decodeReplicationMessage(data, reader)
    if (m.type === 'XLogData') into.push({ kind: m.type, walStart: m.walStart, walEnd: m.walEnd, pgoutput: String.fromCharCode(m.body.byte('pgoutput type')) })
    else into.push({ kind: m.type, walEnd: m.walEnd, replyRequested: m.replyRequested })
  }
}

describe('a logical replication connection', () => {
  test('IDENTIFY_SYSTEM answers the system, timeline, WAL position and database', async () => {
    const c = await track(connectSuperuser({ replication: 'database' }))
    const [result] = await c.query(identifySystem)
    expect(result!.fields.map((f) => f.name)).toEqual(['systemid', 'timeline', 'xlogpos', 'dbname'])
    const [systemid, timeline, xlogpos, dbname] = result!.rows[0]!
    expect(systemid).toMatch(/^\d+$/)
    expect(Number(timeline)).toBeGreaterThanOrEqual(1)
    expect(parseLsn(xlogpos!)).toBeGreaterThan(0n)
    expect(dbname).toBe('postgres')
  })

  test('streams a committed insert as Begin, Relation, Insert, Commit, and ends cleanly on CopyDone', async () => {
    const sql = await track(connectSuperuser())
    const { table, publication } = await publishedTable(sql)
    const c = await track(connectSuperuser({ replication: 'database' }))
    const slot = `repl_wire_${process.pid}_${serial}`
    const version = Number(c.parameters.get('server_version_num') ?? (await c.query('SHOW server_version_num'))[0]!.rows[0]![0])
    const [created] = await c.query(createReplicationSlot(slot, { temporary: true }, version))
    expect(created!.rows[0]![0]).toBe(slot)
    const consistent = parseLsn(created!.rows[0]![1]!)

    const heard: Heard[] = []
    const copy = handled(c.copyBoth(startReplication(slot, 0n, { protocolVersion: 1, publications: [publication] }), hear(heard)))
    await sql.query(`INSERT INTO ${table} VALUES (1, 'one')`)
    await eventually(() => heard.some((h) => h.pgoutput === 'C'))
    const data = heard.filter((h) => h.kind === 'XLogData')
    expect(data.map((h) => h.pgoutput)).toEqual(['B', 'R', 'I', 'C'])
    // A change's XLogData starts at its WAL record; a Relation message belongs to no record (0/0).
    for (const h of data) {
      if (h.pgoutput === 'R') expect(h.walStart).toBe(0n)
      else expect(h.walStart!).toBeGreaterThanOrEqual(consistent)
    }
    expect(data[3]!.walStart).toBeGreaterThan(data[0]!.walStart!)

    c.endCopy()
    const outcome = await copy
    expect(outcome.commands).toContain('START_REPLICATION')
    // Back in command mode: the same connection answers a query.
    const [again] = await c.query(identifySystem)
    expect(again!.rows).toHaveLength(1)
  })

  test('a standby status update moves the slot: confirmed_flush_lsn becomes what was reported flushed', async () => {
    const sql = await track(connectSuperuser())
    const { table, publication } = await publishedTable(sql)
    const c = await track(connectSuperuser({ replication: 'database' }))
    const slot = `repl_wire_${process.pid}_${serial}`
    await c.query(createReplicationSlot(slot, {}, 140000))
    try {
      const heard: Heard[] = []
      const copy = handled(c.copyBoth(startReplication(slot, 0n, { protocolVersion: 1, publications: [publication] }), hear(heard)))
      await sql.query(`INSERT INTO ${table} VALUES (1, 'one')`)
      await eventually(() => heard.some((h) => h.pgoutput === 'C'))
      const commit = heard.find((h) => h.pgoutput === 'C')!
      const flushed = commit.walEnd
      const now = pgTimeFromMs(Date.now())
      expect(c.sendCopy(writeStandbyStatusUpdate(new ByteWriter(), { written: flushed, flushed, applied: flushed, clientTime: now }).toBytes())).toBe(true)
      let confirmed = ''
      for (let i = 0; i < 100 && confirmed !== formatLsn(flushed); i++) {
        const [row] = await sql.query(`SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '${slot}'`)
        confirmed = row!.rows[0]![0]!
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      expect(parseLsn(confirmed)).toBe(flushed)
      c.endCopy()
      await copy
      expect(c.sendCopy(new Uint8Array([0x64, 0, 0, 0, 4]))).toBe(false)
    } finally {
      await sql.query(`SELECT pg_drop_replication_slot('${slot}')`)
    }
  })

  test('a keepalive asking for a reply is heard when status updates ask for one', async () => {
    const sql = await track(connectSuperuser())
    const { publication } = await publishedTable(sql)
    const c = await track(connectSuperuser({ replication: 'database' }))
    const slot = `repl_wire_${process.pid}_${serial}`
    await c.query(createReplicationSlot(slot, { temporary: true }, 140000))
    const heard: Heard[] = []
    const copy = handled(c.copyBoth(startReplication(slot, 0n, { protocolVersion: 1, publications: [publication] }), hear(heard)))
    await eventually(() => c.copying)
    c.sendCopy(writeStandbyStatusUpdate(new ByteWriter(), { written: 0n, flushed: 0n, applied: 0n, clientTime: pgTimeFromMs(Date.now()), replyRequested: true }).toBytes())
    await eventually(() => heard.some((h) => h.kind === 'PrimaryKeepalive'))
    c.endCopy()
    await copy
  })

  test('START_REPLICATION on a slot that does not exist rejects with the server error, and the connection stays usable', async () => {
    const c = await track(connectSuperuser({ replication: 'database' }))
    const failed = await c.copyBoth(startReplication('no_such_slot_here', 0n, { protocolVersion: 1, publications: ['p'] }), () => {}).catch((e: unknown) => e)
    expect(failed).toBeInstanceOf(DatabaseError)
    expect((failed as DatabaseError).code).toBe('42704')
    const [result] = await c.query(identifySystem)
    expect(result!.rows).toHaveLength(1)
  })

  test('a walsender terminated mid-stream ends the copy with the connection lost', async () => {
    const sql = await track(connectSuperuser())
    const { publication } = await publishedTable(sql)
    const c = await track(connectSuperuser({ replication: 'database' }))
    const slot = `repl_wire_${process.pid}_${serial}`
    await c.query(createReplicationSlot(slot, { temporary: true }, 140000))
    const copy = handled(c.copyBoth(startReplication(slot, 0n, { protocolVersion: 1, publications: [publication] }), () => {}))
    await eventually(() => c.copying)
    await sql.query(`SELECT pg_terminate_backend(${c.processId})`)
    await expect(copy).rejects.toThrow(/terminating connection due to administrator command/)
    expect(await c.closed).toBeInstanceOf(Error)
  })
})
