/**
 * replicate() through three faults of the server's own limits and catalogs: every walsender
 * (max_wal_senders) or slot (max_replication_slots) taken when the stream starts or comes back;
 * the slot dropped while the stream runs; a table taken out of the publication and put back.
 * Each ends in the documented outcome: the change delivered, or a typed error naming the cause.
 * The limits are lowered on a cluster of its own: taking every walsender of the shared one would
 * starve the test files that vitest runs beside this one.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest'
import { connect } from '../../src/protocol/index.ts'
import { ConnectionLostError, DatabaseError } from '../../src/protocol/errors.ts'
import type { ConnectOptions } from '../../src/protocol/io/connect.ts'
import type { Connection } from '../../src/protocol/io/connection.ts'
import { ReplicationStream } from '../../src/replication/stream.ts'
import { ReplicationError, type ReplicationChange, type ReplicationOptions } from '../../src/replication.ts'
import { startCluster, type Cluster } from '../harness/cluster.ts'
import { connectSuperuser, isolated, optionsFor } from '../support/connect.ts'
import { insertsUntil, replicationDatabase, until, untilInactive } from '../support/replication.ts'

const db = replicationDatabase('replication_faults_more')
const pg = db.pg
/** pglisten/replication needs PostgreSQL 14; the matrix also runs 13. */
const supported = (pg.serverVersion ?? 180000) >= 140000

let serial = 0

describe.runIf(supported)('every walsender or slot taken (a cluster of its own: max_wal_senders = 2, max_replication_slots = 2)', () => {
  let cluster: Cluster
  const options = (extra: Partial<ConnectOptions> = {}): ConnectOptions => ({ ...isolated, host: '127.0.0.1', port: cluster.server.port, user: 'postgres', database: 'postgres', sslmode: 'disable', ...extra })
  let sql: Connection
  /** Idle replication connections: each holds one of the two walsenders. */
  const fillers: Connection[] = []
  const fill = async () => void fillers.push(await connect(options({ replication: 'database' })))
  const walsenders = async () => Number((await sql.query("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender'"))[0]!.rows[0]![0])
  let cleanups: (() => Promise<unknown>)[] = []

  beforeAll(async () => {
    cluster = await startCluster()
    const admin = await connect(options())
    // Both take effect only at a restart.
    await admin.query('ALTER SYSTEM SET max_wal_senders = 2')
    await admin.query('ALTER SYSTEM SET max_replication_slots = 2')
    await admin.close()
    await cluster.restart()
    sql = await connect(options())
    const [shown] = await sql.query("SELECT current_setting('max_wal_senders'), current_setting('max_replication_slots')")
    expect(shown!.rows[0]).toEqual(['2', '2'])
  }, 120_000)
  afterEach(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup()
    cleanups = []
    for (const filler of fillers.splice(0)) await filler.close()
    await until(async () => (await walsenders()) === 0, 'every walsender to be gone')
  })
  afterAll(async () => {
    await sql?.close()
    await cluster?.stop()
  })

  /** A table, its publication and a logical slot, all named `name`. */
  async function slot(name: string): Promise<void> {
    await sql.query(`CREATE TABLE ${name} (id int PRIMARY KEY); CREATE PUBLICATION ${name} FOR TABLE ${name}`)
    await sql.query(`SELECT pg_create_logical_replication_slot('${name}', 'pgoutput')`)
    cleanups.push(async () => {
      await untilInactive(sql, name)
      await sql.query(`SELECT pg_drop_replication_slot('${name}')`)
    })
  }

  /**
   * A stream of `name` whose replication connections can be held at a gate, and a way to leave
   * it with no walsender to come back to: its own ended while the gate is shut, and the one it
   * let go taken by a filler. Returns what onReconnect was told, and what opens the gate.
   */
  async function streamThenFull(name: string, reconnect: ReplicationOptions['reconnect']) {
    let gate: Promise<void> | undefined
    const gated = async (o: ConnectOptions) => {
      if (o.replication === 'database' && gate) await gate
      return connect(o)
    }
    const told: Error[] = []
    const hooks = { told: (_error: Error) => undefined as void }
    const stream = new ReplicationStream({ connection: options(), slot: name, publications: [name], reconnect, onReconnect: ({ error }) => (told.push(error), hooks.told(error)) }, gated)
    cleanups.push(() => stream.close())
    const iterator = stream[Symbol.asyncIterator]()
    await sql.query(`INSERT INTO ${name} VALUES (1)`)
    expect(await insertsUntil(iterator, 1)).toEqual([1])
    await fill()
    let open!: () => void
    gate = new Promise<void>((resolve) => (open = resolve))
    await sql.query(`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '${name}'`)
    await until(async () => (await walsenders()) === 1, "the stream's walsender to be gone")
    await fill()
    return { iterator, told, hooks, open: () => ((gate = undefined), open()) }
  }

  const refused = (error: unknown) => error instanceof DatabaseError && error.code === '53300' && /max_wal_senders/.test(error.message)

  test('max_wal_senders full at the first start: the stream ends at once with the server\'s 53300, which names max_wal_senders', async () => {
    const name = `walsenders_first_${++serial}`
    await slot(name)
    await fill()
    await fill()
    const stream = new ReplicationStream({ connection: options(), slot: name, publications: [name], reconnect: { minDelay: 10, maxDelay: 10 } }, connect)
    cleanups.push(() => stream.close())
    const failure = await stream.ready.then(() => 'started', (error: unknown) => error)
    expect(refused(failure)).toBe(true)
    await expect(stream[Symbol.asyncIterator]().next()).rejects.toBe(failure)
  })

  test('max_wal_senders full when the stream comes back: it retries with backoff, onReconnect told of each 53300, and once a walsender is free it delivers every change committed meanwhile', async () => {
    const name = `walsenders_back_${++serial}`
    await slot(name)
    const { iterator, told, hooks, open } = await streamThenFull(name, { minDelay: 20, maxDelay: 200 })
    await sql.query(`INSERT INTO ${name} VALUES (2)`)
    const refusedTwice = new Promise<void>((resolve) => (hooks.told = () => void (told.filter(refused).length >= 2 && resolve())))
    open()
    await refusedTwice
    await sql.query(`INSERT INTO ${name} VALUES (3)`)
    await fillers.shift()!.close()
    // 1 again: its commit was never acknowledged.
    expect(await insertsUntil(iterator, 3)).toEqual([1, 2, 3])
    expect(told[0]).toBeInstanceOf(ConnectionLostError) // the walsender ended
    expect(told.slice(1).every(refused)).toBe(true)
  })

  test('max_wal_senders full for good when the stream comes back: maxAttempts ends it with a ReplicationError whose cause is the 53300', async () => {
    const name = `walsenders_gone_${++serial}`
    await slot(name)
    const { iterator, told, open } = await streamThenFull(name, { minDelay: 20, maxDelay: 20, maxAttempts: 3 })
    open()
    const failure = await insertsUntil(iterator, 2).then(() => 'went on', (error: unknown) => error)
    expect(failure).toBeInstanceOf(ReplicationError)
    expect((failure as Error).message).toMatch(/^gave up reconnecting after 3 attempts/)
    expect(refused((failure as Error).cause)).toBe(true)
    expect(told.slice(1).every(refused)).toBe(true)
  })

  test('max_replication_slots full at the first start, with create: the stream ends at once with the server\'s 53400', async () => {
    const name = `slots_full_${++serial}`
    await sql.query(`CREATE TABLE ${name} (id int PRIMARY KEY); CREATE PUBLICATION ${name} FOR TABLE ${name}`)
    await sql.query("SELECT pg_create_physical_replication_slot('filler_a'), pg_create_physical_replication_slot('filler_b')")
    cleanups.push(() => sql.query("SELECT pg_drop_replication_slot('filler_a'), pg_drop_replication_slot('filler_b')"))
    const stream = new ReplicationStream({ connection: options(), slot: name, publications: [name], create: true, reconnect: { minDelay: 10, maxDelay: 10 } }, connect)
    cleanups.push(() => stream.close())
    const failure = await stream.ready.then(() => 'started', (error: unknown) => error)
    expect(failure).toBeInstanceOf(DatabaseError)
    expect((failure as DatabaseError).code).toBe('53400')
    await expect(stream[Symbol.asyncIterator]().next()).rejects.toBe(failure)
  })
})

/**
 * A table, its publication and a slot, all named after `label`, made here (not by the stream, so
 * that a test can end walsenders without ending the one making the slot) and dropped after the
 * test if it is still there; and a stream of them, with create (so that it would make the slot
 * again if it ever did), whose connect() a test can hold (`gate`) or hook: `afterLook` runs once,
 * right after the next look at pg_replication_slots on a replication connection is answered
 * (on a reconnect, the look before START_REPLICATION); with `stripRoutine`, a DatabaseError
 * that START_REPLICATION ends with is given without its routine field, as a server or proxy
 * that leaves it out would send it, and noted there.
 */
async function slotted(label: string) {
  const name = `${label}_${process.pid}_${++serial}`
  const sql = await connectSuperuser({ database: db.database })
  await sql.query(`CREATE TABLE ${name} (id int PRIMARY KEY); CREATE PUBLICATION ${name} FOR TABLE ${name}`)
  await sql.query(`SELECT pg_create_logical_replication_slot('${name}', 'pgoutput')`)
  db.cleanup(async () => {
    await untilInactive(sql, name)
    await sql.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '${name}'`)
    await sql.close()
  })
  const hooks: { gate?: Promise<void> | undefined; afterLook?: (() => Promise<void>) | undefined; stripRoutine?: DatabaseError[] | undefined } = {}
  const hooked = async (options: ConnectOptions): Promise<Connection> => {
    if (options.replication === 'database' && hooks.gate) await hooks.gate
    const connection = await connect(options)
    if (options.replication !== 'database') return connection
    const query = connection.query.bind(connection)
    connection.query = async (text: string) => {
      const result = await query(text)
      const hook = hooks.afterLook
      if (hook && text.includes('pg_replication_slots')) {
        hooks.afterLook = undefined
        await hook()
      }
      return result
    }
    const copyBoth = connection.copyBoth.bind(connection)
    connection.copyBoth = (...args: Parameters<Connection['copyBoth']>) =>
      copyBoth(...args).catch((error: unknown) => {
        const stripped = hooks.stripRoutine
        if (!stripped || !(error instanceof DatabaseError)) throw error
        const { routine: _routine, ...fields } = error
        const without = new DatabaseError({ ...fields, message: error.message })
        stripped.push(without)
        throw without
      })
    return connection
  }
  const told: Error[] = []
  const { iterator } = db.open(name, { create: true, reconnect: { minDelay: 10, maxDelay: 100 }, onReconnect: ({ error }) => void told.push(error) }, hooked)
  await sql.query(`INSERT INTO ${name} VALUES (1)`)
  expect(await insertsUntil(iterator, 1)).toEqual([1])
  /** Ends the stream's walsender; resolves once the slot is let go. */
  const terminate = async () => {
    await sql.query(`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '${name}' AND active`)
    await untilInactive(sql, name)
  }
  const slots = async () => (await sql.query(`SELECT count(*) FROM pg_replication_slots WHERE slot_name = '${name}'`))[0]!.rows[0]![0]
  return { name, sql, iterator, hooks, told, terminate, slots }
}

/** How reading up to the insert of `last` ended: the stream's error, or else the inserts it handed out. */
const outcome = (iterator: AsyncIterator<ReplicationChange>, last: number) => insertsUntil(iterator, last).then((ids) => ids, (error: unknown) => error)

describe.runIf(supported)('the slot dropped while the stream runs', () => {
  test('pg_drop_replication_slot while the walsender holds it: PostgreSQL refuses it (55006), and the stream goes on delivering', async () => {
    const { name, sql, iterator } = await slotted('slot_held')
    const refused = await sql.query(`SELECT pg_drop_replication_slot('${name}')`).then(() => 'dropped', (error: unknown) => error)
    expect(refused).toBeInstanceOf(DatabaseError)
    expect((refused as DatabaseError).code).toBe('55006')
    await sql.query(`INSERT INTO ${name} VALUES (2)`)
    expect(await insertsUntil(iterator, 2)).toContain(2)
  })

  test('DROP_REPLICATION_SLOT WAIT from another session drops it once the walsender lets go: the stream comes back to no slot and ends with a ReplicationError naming it, making none', async () => {
    const { name, sql, iterator, hooks, told, slots } = await slotted('slot_dropped')
    let open!: () => void
    hooks.gate = new Promise<void>((resolve) => (open = resolve))
    const dropper = await connect(optionsFor(pg.superuser, 'tcp', { database: db.database, replication: 'database' }))
    try {
      const dropped = dropper.query(`DROP_REPLICATION_SLOT ${name} WAIT`)
      await sql.query(`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '${name}' AND active`)
      await dropped
    } finally {
      await dropper.close()
    }
    await sql.query(`INSERT INTO ${name} VALUES (2)`) // no slot keeps it
    hooks.gate = undefined
    open()
    const failure = await outcome(iterator, 2)
    expect(failure).toBeInstanceOf(ReplicationError)
    expect((failure as Error).message).toMatch(new RegExp(`^replication slot "${name}" is gone`))
    expect(await slots()).toBe('0')
    expect(told).toHaveLength(1) // the walsender ended: no reconnecting after that
  })

  test("dropped in the moment between the reconnect's look at the slot and its START_REPLICATION: the stream ends with the same ReplicationError naming it, the server's 42704 as its cause", async () => {
    const { name, sql, iterator, hooks, told, terminate, slots } = await slotted('slot_raced')
    hooks.afterLook = async () => {
      await untilInactive(sql, name) // the walsender ended below may hold it a moment longer
      await sql.query(`SELECT pg_drop_replication_slot('${name}')`)
      await sql.query(`INSERT INTO ${name} VALUES (2)`)
    }
    await terminate()
    const failure = await outcome(iterator, 2)
    // Before, the server's DatabaseError itself: a stream whose slot was dropped while it was
    // away ended with a ReplicationError or not, depending on when the drop landed.
    expect(failure).toBeInstanceOf(ReplicationError)
    expect((failure as Error).message).toMatch(new RegExp(`^replication slot "${name}" is gone`))
    expect((failure as Error).cause).toBeInstanceOf(DatabaseError)
    expect(((failure as Error).cause as DatabaseError).code).toBe('42704')
    expect(await slots()).toBe('0')
    expect(told).toHaveLength(1)
  })

  // Found by review (4b54312): through a server or a proxy that leaves out the ErrorResponse's
  // routine field (R: optional, "Error and Notice Message Fields"), the server's DatabaseError
  // came through instead. Before CopyBothResponse the walsender has only acquired the slot and
  // made the decoding context (walsender.c, StartLogicalReplication), and of those only the
  // acquire answers 42704.
  test("dropped in that moment, its 42704 without a routine: the same ReplicationError 'is gone' as when the routine says ReplicationSlotAcquire", async () => {
    const { name, sql, iterator, hooks, terminate } = await slotted('no_routine')
    const stripped: DatabaseError[] = []
    hooks.stripRoutine = stripped
    hooks.afterLook = async () => {
      await untilInactive(sql, name) // the walsender ended below may hold it a moment longer
      await sql.query(`SELECT pg_drop_replication_slot('${name}')`)
    }
    await terminate()
    const failure = await outcome(iterator, 2)
    expect(stripped.map((e) => [e.code, e.routine])).toEqual([['42704', undefined]]) // the drop landed where the test meant
    expect(failure).toBeInstanceOf(ReplicationError)
    expect((failure as Error).message).toMatch(new RegExp(`^replication slot "${name}" is gone`))
    expect((failure as Error).cause).toBe(stripped[0])
  })

  test('dropped and made again in that moment: the stream ends with a ReplicationError naming the slot, instead of streaming from the new one', async () => {
    const { name, sql, iterator, hooks, terminate } = await slotted('slot_remade')
    hooks.afterLook = async () => {
      await untilInactive(sql, name) // the walsender ended below may hold it a moment longer
      await sql.query(`SELECT pg_drop_replication_slot('${name}')`)
      await sql.query(`INSERT INTO ${name} VALUES (2)`)
      await sql.query(`SELECT pg_create_logical_replication_slot('${name}', 'pgoutput')`)
      await sql.query(`INSERT INTO ${name} VALUES (3)`)
    }
    await terminate()
    const failure = await outcome(iterator, 3)
    expect(failure).toBeInstanceOf(ReplicationError)
    expect((failure as Error).message).toMatch(new RegExp(`^replication slot "${name}" was moved past what this stream acknowledged`))
  })
})

describe.runIf(supported)('a table taken out of the publication while the stream runs, and put back', () => {
  test('what it changed while out is not delivered (PostgreSQL publishes it to no one), the rest is, a TRUNCATE names only the tables published then, and the stream goes on', async () => {
    const name = `pub_table_${process.pid}_${++serial}`
    const other = `${name}_other`
    const sql = await db.publishedSlot(name)
    await sql.query(`CREATE TABLE ${other} (id int PRIMARY KEY); ALTER PUBLICATION ${name} ADD TABLE ${other}`)
    const { iterator } = db.open(name, { reconnect: { minDelay: 10, maxDelay: 100 } })
    /** Every change but begin and commit, as a line, until the insert of `last` into `name`. */
    const seen: string[] = []
    const upTo = async (last: number) => {
      for (;;) {
        const { value: c, done } = await iterator.next()
        if (done) throw new Error('the stream ended')
        if (c.kind === 'insert') seen.push(`insert ${c.relation.table} ${c.row['id']}`)
        else if (c.kind === 'truncate') seen.push(`truncate ${c.relations.map((r) => r.table).join(', ')}`)
        else if (c.kind !== 'begin' && c.kind !== 'commit') seen.push(c.kind)
        if (c.kind === 'insert' && c.relation.table === name && c.row['id'] === last) return
      }
    }
    await sql.query(`INSERT INTO ${name} VALUES (1)`)
    await upTo(1)
    await sql.query(`ALTER PUBLICATION ${name} DROP TABLE ${name}`)
    await sql.query(`INSERT INTO ${name} VALUES (2)`)
    await sql.query(`INSERT INTO ${other} VALUES (100)`)
    await sql.query(`TRUNCATE ${name}, ${other}`)
    await sql.query(`INSERT INTO ${name} VALUES (3)`)
    // Back in: the walsender describes it again (a Relation message the stream already had one of).
    await sql.query(`ALTER PUBLICATION ${name} ADD TABLE ${name}`)
    await sql.query(`INSERT INTO ${name} VALUES (4)`)
    await sql.query(`TRUNCATE ${name}`)
    await sql.query(`INSERT INTO ${name} VALUES (5)`)
    await upTo(5)
    expect(seen).toEqual([`insert ${name} 1`, `insert ${other} 100`, `truncate ${other}`, `insert ${name} 4`, `truncate ${name}`, `insert ${name} 5`])
  })
})
