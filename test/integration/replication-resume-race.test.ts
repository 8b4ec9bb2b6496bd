/**
 * The slot moved in the moment between a reconnect's look at it and its START_REPLICATION:
 * the server then starts at the slot's new position without a word (logical.c,
 * CreateDecodingContext: "cannot stream from %X/%X, minimum is %X/%X, forwarding"). These
 * tests move it there deterministically, from inside the stream's own connect(), and close()
 * the stream while its second look, made once START holds the slot, is under way. One moves it
 * earlier, while the stream is held before it reconnects, for the first look to see.
 */
import { afterEach, describe, expect, test } from 'vitest'
import { connect } from '../../src/protocol/index.ts'
import { ConnectionLostError } from '../../src/protocol/errors.ts'
import type { ConnectOptions } from '../../src/protocol/io/connect.ts'
import type { Connection } from '../../src/protocol/io/connection.ts'
import { formatLsn, parseLsn, type Lsn } from '../../src/protocol/replication/lsn.ts'
import { ReplicationStream } from '../../src/replication/stream.ts'
import type { ReplicationChange } from '../../src/replication.ts'
import { connectSuperuser, databaseOfItsOwn, eventually, optionsFor, server } from '../support/connect.ts'
import { untilFirstInsert } from '../support/replication.ts'

const pg = server()
const database = databaseOfItsOwn('replication_race')
const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined)
})

let serial = 0

/** The next replication connection waits, having said it arrived, until it is released. */
interface Hold {
  arrived(): void
  released: Promise<void>
}

/**
 * Holds the stream's next replication connection before it is made: `arrived` resolves once the
 * stream asks for it (so it has noticed the loss: its ledger restarted, nothing in hand), and
 * the connection goes ahead on `release()`.
 */
function holdNext(race: { hold?: Hold | undefined }): { arrived: Promise<void>; release: () => void } {
  let release!: () => void
  const released = new Promise<void>((resolve) => (release = resolve))
  const arrived = new Promise<void>((resolve) => (race.hold = { arrived: resolve, released }))
  return { arrived, release }
}

/**
 * A table, its publication, and a stream of it whose connect() lets a test run `hook` (once)
 * right after the next query that reads pg_replication_slots has been answered: on a reconnect,
 * the stream's look at the slot before START_REPLICATION.
 */
async function raced() {
  const sql = await connectSuperuser({ database })
  cleanup.push(() => sql.close())
  const name = `repl_race_${process.pid}_${++serial}`
  await sql.query(`CREATE TABLE ${name} (id int PRIMARY KEY, note text); CREATE PUBLICATION ${name} FOR TABLE ${name}`)
  const race: { hook?: ((text: string) => Promise<void>) | undefined; refuseLook?: boolean; looksRefused: number; hold?: Hold | undefined } = { looksRefused: 0 }
  const reconnects: Error[] = []
  const connectHooked = async (options: ConnectOptions): Promise<Connection> => {
    const hold = race.hold
    if (hold && options.replication === 'database') {
      race.hold = undefined
      hold.arrived()
      await hold.released
    }
    if (race.refuseLook && options.replication === undefined) {
      // The look's ordinary connection: to a port where nothing listens, refused for real.
      race.looksRefused++
      return connect({ ...options, host: '127.0.0.1', port: 1, hostaddr: undefined })
    }
    const connection = await connect(options)
    const query = connection.query.bind(connection)
    connection.query = async (text: string) => {
      const result = await query(text)
      const hook = race.hook
      if (hook && text.includes('pg_replication_slots')) {
        race.hook = undefined
        await hook(text)
      }
      return result
    }
    return connection
  }
  const stream = new ReplicationStream({ connection: optionsFor(pg.superuser, 'tcp', { database }), slot: name, publications: [name], create: true, reconnect: { minDelay: 50, maxDelay: 100 }, onReconnect: ({ error }) => void reconnects.push(error) }, connectHooked)
  cleanup.push(async () => {
    await stream.close()
    await eventually(async () => (await sql.query(`SELECT active FROM pg_replication_slots WHERE slot_name = '${name}'`))[0]!.rows[0]?.[0] !== 't')
    await sql.query(`SELECT pg_drop_replication_slot('${name}')`)
  })
  const slotRow = async () => (await sql.query(`SELECT active, confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '${name}'`))[0]!.rows[0]!
  /** Cuts the walsender off; the stream reconnects at once. */
  const terminate = async () => {
    await sql.query(`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '${name}'`)
  }
  /** Waits for the old walsender to let the slot go, then moves the slot to `lsn`; returns where it went. */
  const advance = async (lsn: Lsn): Promise<Lsn> => {
    await eventually(async () => (await slotRow())[0] === 'f')
    const [moved] = await sql.query(`SELECT end_lsn FROM pg_replication_slot_advance('${name}', '${formatLsn(lsn)}')`)
    return parseLsn(moved!.rows[0]![0]!)
  }
  return { sql, name, stream, race, reconnects, slotRow, terminate, advance }
}

/** Reads up to and including the Commit of the first insert; the Commit stays in hand, not acknowledged. */
async function toCommit(iterator: AsyncIterator<ReplicationChange>): Promise<Extract<ReplicationChange, { kind: 'commit' }>> {
  for (;;) {
    const { value, done } = await iterator.next()
    if (done) throw new Error('the stream ended')
    if (value.kind === 'commit') return value
  }
}

/**
 * Waits for the stream to have noticed its walsender gone: asking for the next change before
 * then would acknowledge the Commit in hand, and the slot would rightly resume after it.
 */
async function lossNoticed(reconnects: Error[]): Promise<void> {
  await eventually(async () => reconnects.length > 0)
}

const supported = (pg.serverVersion ?? 180000) >= 140000

describe.runIf(supported)('replicate(): the slot moved while the stream was away, before its reconnect looks at it', () => {
  // The look before START_REPLICATION compares the slot with what the stream acknowledged
  // (flushed), not with what it received (written): a transaction received, even handed out,
  // but not acknowledged must come again, and a slot moved past its commit skips it. Moved to
  // the commit's end LSN, the slot really skips it (snapbuild.c, SnapBuildXactNeedsSkip: a
  // commit record that begins before confirmed_flush_lsn is not decoded); the stream has
  // received that far (the Commit's XLogData carries its end LSN as walEnd, walsender.c
  // WalSndPrepareWrite), so a look compared with `written` would pass, and the second look would
  // pass too, as the stream starts where the slot was found. An earlier test of this asked for
  // the next change while waiting for the error, which acknowledged the Commit in hand whenever
  // the stream had not yet noticed its walsender gone; this one asks for nothing until the stream
  // has restarted its ledger, and holds its reconnect until the slot has moved (no race with
  // the backoff).
  test('a slot advanced past a commit the stream received but did not acknowledge: the stream fails saying so, and hands out nothing past the skip', async () => {
    const { sql, name, stream, race, reconnects, terminate, advance } = await raced()
    const iterator = stream[Symbol.asyncIterator]()
    await stream.ready
    await sql.query(`INSERT INTO ${name} VALUES (1, 'received, not acknowledged')`)
    // Up to row 1's Commit, which stays in hand: asking for nothing more acknowledges nothing more.
    let insert: ReplicationChange
    do {
      const { value, done } = await iterator.next()
      if (done) throw new Error('the stream ended')
      insert = value
    } while (insert.kind !== 'insert')
    const commit = await toCommit(iterator)
    expect(commit.xid).toBe(insert.xid)
    expect(stream.flushedLsn).toBeLessThan(commit.endLsn)
    const held = holdNext(race)
    await terminate()
    // The stream asks for its next connection only after it has dropped what it had in hand.
    await held.arrived
    expect(reconnects).toHaveLength(1)
    const acknowledged = stream.flushedLsn
    expect(acknowledged).toBeLessThan(commit.endLsn)
    // The commit was sent, so its WAL is flushed and the slot goes all the way past it.
    expect(await advance(commit.endLsn)).toBe(commit.endLsn)
    await sql.query(`INSERT INTO ${name} VALUES (2, 'after')`)
    held.release()
    const rest: ReplicationChange[] = []
    // Compared with what was received, it would hand out row 2, row 1 skipped without a word.
    const failed = untilFirstInsert(iterator, rest)
    await expect(failed).rejects.toThrow(new RegExp(`replication slot "${name}" was moved past what this stream acknowledged \\(${formatLsn(acknowledged)}, now ${formatLsn(commit.endLsn)}\\)`))
    expect(stream.flushedLsn).toBe(acknowledged)
    expect(rest).toEqual([])
  })
})

describe.runIf(supported)('replicate(): the slot moved between the reconnect\'s look at it and START_REPLICATION', () => {
  // Before the fix, the slot was looked at only before START_REPLICATION: the server forwarded
  // the stream to the slot's new position, and row 2 came with row 1 skipped without a word.
  test('a slot advanced after the look and before START_REPLICATION: the stream fails saying so, and hands out nothing past the skip', async () => {
    const { sql, name, stream, race, reconnects, terminate, advance } = await raced()
    const iterator = stream[Symbol.asyncIterator]()
    await stream.ready
    await sql.query(`INSERT INTO ${name} VALUES (1, 'received, not acknowledged')`)
    const commit = await toCommit(iterator)
    expect(stream.flushedLsn).toBeLessThan(commit.endLsn)
    let advancedTo: Lsn | undefined
    // The commit was sent, so its WAL is flushed and the slot goes all the way past it.
    race.hook = async () => void (advancedTo = await advance(commit.endLsn))
    await terminate()
    await lossNoticed(reconnects)
    await sql.query(`INSERT INTO ${name} VALUES (2, 'after')`)
    const rest: ReplicationChange[] = []
    // Before the fix it handed out row 2, row 1 skipped without a word.
    const failed = untilFirstInsert(iterator, rest)
    await expect(failed).rejects.toThrow(new RegExp(`replication slot "${name}" was moved past what this stream acknowledged \\(${formatLsn(stream.flushedLsn)}, now ${formatLsn(commit.endLsn)}\\)`))
    expect(advancedTo).toBe(commit.endLsn)
    expect(rest).toEqual([])
  })

  test('close() while the look after START_REPLICATION is under way: close() returns, the iterator ends, and the slot stays where it was', async () => {
    const { sql, name, stream, race, slotRow, terminate } = await raced()
    const iterator = stream[Symbol.asyncIterator]()
    await stream.ready
    await sql.query(`INSERT INTO ${name} VALUES (1, 'received, not acknowledged')`)
    await toCommit(iterator)
    let closing: Promise<void> | undefined
    let confirmedThen: string | null | undefined
    let hookRan = false
    // The look's query is answered, and before the stream reads the answer it is closed.
    const onLook = async (text: string) => {
      if (!text.includes('active_pid')) return void (race.hook = onLook) // the look before START: not yet
      hookRan = true
      confirmedThen = (await slotRow())[1]
      closing = stream.close()
    }
    race.hook = onLook
    await terminate()
    await eventually(async () => hookRan)
    await closing
    await expect(iterator.next()).resolves.toEqual({ done: true, value: undefined })
    await eventually(async () => (await slotRow())[0] === 'f')
    expect((await slotRow())[1]).toBe(confirmedThen)
  })

  // Found by review: a look that could not be made was a lost attempt, so a stream whose server
  // had no ordinary connection free (max_connections, a role's limit), or that went through a
  // pooler, reconnected for ever and never resumed. Now it resumes as the first look allowed.
  test('a look after START_REPLICATION that can never connect (no connection free): the stream resumes all the same, and what was not acknowledged comes again', async () => {
    const { sql, name, stream, race, reconnects, terminate } = await raced()
    const iterator = stream[Symbol.asyncIterator]()
    await stream.ready
    await sql.query(`INSERT INTO ${name} VALUES (1, 'received, not acknowledged')`)
    await toCommit(iterator)
    race.refuseLook = true
    await terminate()
    await lossNoticed(reconnects)
    await sql.query(`INSERT INTO ${name} VALUES (2, 'after')`)
    const inserts: unknown[] = []
    while (inserts.length < 2) {
      const { value, done } = await iterator.next()
      if (done) throw new Error('the stream ended')
      if (value.kind === 'insert') inserts.push(value.row)
    }
    expect(inserts).toEqual([{ id: 1, note: 'received, not acknowledged' }, { id: 2, note: 'after' }])
    expect(race.looksRefused).toBe(1)
    expect(reconnects).toHaveLength(1) // the walsender terminated; the refused look cost no attempt
  })
})
