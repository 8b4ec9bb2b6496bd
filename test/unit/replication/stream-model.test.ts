/**
 * The replication stream's lifecycle against a model (fast-check fc.commands), on a model
 * walsender (test/support/fake-walsender.ts): transactions committed on the server (some sent
 * slowly, with a keepalive in the middle), WAL no publication covers, keepalives that ask for a
 * reply, the consumer reading with next() (one at a time or several at once) and acknowledging
 * with ack(), the consumer stalling while read-ahead fills, the connection dropped, and close()
 * in several states. After every step the stream is held to
 * the acknowledgement contract (README, "The acknowledgement contract"):
 * 1. changes come in commit order, each transaction whole, never interleaved;
 * 2. after a drop, what comes again starts at the Begin of the first transaction not
 *    acknowledged: nothing is lost, and nothing acknowledged and reported comes again;
 * 3. the flush position reported never exceeds the end of the last commit acknowledged (on
 *    the connection that delivered it; with nothing owed, the server's own position), and
 *    never goes back; a keepalive that asks for a reply is answered as it is read;
 * 4. at most highWater changes are read ahead; reading pauses when they are, and status updates go
 *    on meanwhile;
 * 5. after close() the iterator is done, ready has settled, every connection has ended, the last
 *    acknowledgement was reported before the copy ended, and a new stream starts right after it;
 * 6. no unhandled rejection, and every wait is bounded: a hang fails with what was awaited.
 *
 * Fixed sequences by default, as test/integration/listener-model.test.ts has them;
 * PGLISTEN_MODEL_SEED=random explores new ones (a failure found so is a bug to fix).
 */
import fc from 'fast-check'
import { expect, test } from 'vitest'
import type { ReplicationChange } from '../../../src/replication/changes.ts'
import { ReplicationStream } from '../../../src/replication/stream.ts'
import { FakeWalsender, sentSlowly, type Lsn } from '../../support/fake-walsender.ts'

const highWater = 3
const options = {
  slot: 'model',
  publications: ['items'],
  highWater,
  // A status update every 5 ms: the stall step waits for three of them.
  statusInterval: 5,
  reconnect: { minDelay: 1, maxDelay: 2 },
}
/** Any one wait: generous, since nothing here should take more than a few turns of the event loop. */
const patience = 10_000

/** A change's place: its transaction, and 0 for Begin, 1..n for the rows, n + 1 for Commit. */
interface Place {
  txn: number
  pos: number
}

interface Model {
  /** Transactions committed on the server. */
  committed: number
  /** The rows of each. */
  sizes: number[]
  /** A transaction the server is sending slowly: how many of its changes it has sent so far. */
  partial: { txn: number; sent: number } | undefined
  /** What next() must hand out next. */
  cursor: Place
  /** What next() has handed out, in order; from `epoch` on, on the current connection. */
  handed: Place[]
  epoch: number
  /** The index in `handed` of the change in hand, which the next next() acknowledges. */
  inHand: number | undefined
  /** The index in `handed` of the last change acknowledged, or of the last one handed out before the connection was lost. */
  acked: number
  /**
   * The stream's flushedLsn: the end of the last commit acknowledged on the connection that
   * delivered it, or, with nothing owed, the server's position past WAL it did not publish.
   */
  flushed: Lsn
  closed: boolean
}

interface World {
  server: FakeWalsender
  stream: ReplicationStream
  iterator: AsyncIterator<ReplicationChange>
  /** The changes themselves, as `handed` places them. */
  changes: ReplicationChange[]
  readySettled: boolean
  unhandled: unknown[]
}

type Command = fc.AsyncCommand<Model, World>

/** `promise`, or a failure naming `what` if it has not settled after `patience` ms. */
async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  promise.catch(() => undefined) // if the timeout wins, a late rejection is not unhandled
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${patience} ms`)), patience)))
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Waits, a millisecond at a time, until `condition` holds; fails naming `what` after `patience` ms. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + patience
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${patience} ms`)
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
}

/** The server has sent the client everything it had, or the client has paused reading. */
async function settled(w: World): Promise<void> {
  await until(() => w.server.current?.copying === true && w.server.current.quiet, 'the walsender streaming with nothing unread')
}

/** The change at `place`, as the stream should hand it on. */
function expected(w: World, place: Place): Record<string, unknown> {
  const t = w.server.wal[place.txn]!
  const common = { xid: t.xid, commitLsn: t.commitLsn }
  if (place.pos === 0) return { kind: 'begin', ...common, lsn: t.beginLsn }
  const row = t.rows[place.pos - 1]
  if (row !== undefined) return { kind: 'insert', ...common, lsn: row.lsn, row: { id: row.id }, key: { id: row.id } }
  return { kind: 'commit', ...common, lsn: t.endLsn, endLsn: t.endLsn }
}

function isCommit(w: World, place: Place): boolean {
  return place.pos === w.server.wal[place.txn]!.rows.length + 1
}

function after(w: World, place: Place): Place {
  return isCommit(w, place) ? { txn: place.txn + 1, pos: 0 } : { txn: place.txn, pos: place.pos + 1 }
}

/**
 * The consumer acknowledges handed[index] and all handed out before it. Only the current
 * connection's changes count: one from a connection since lost comes again, and moves nothing.
 * The slot moves by whole transactions: to the end of the last commit among them.
 */
function acknowledge(m: Model, w: World, index: number): void {
  if (m.inHand === index) m.inHand = undefined
  if (index < m.epoch) return
  if (index > m.acked) m.acked = index
  for (let i = m.epoch; i <= index; i++) {
    const place = m.handed[i]!
    const end = w.server.wal[place.txn]!.endLsn
    if (isCommit(w, place) && end > m.flushed) m.flushed = end
  }
  w.server.bound = m.flushed
}

/** Changes sent and not yet handed out, from the cursor on. */
function available(m: Readonly<Model>): number {
  const unsent = m.partial ? m.sizes[m.partial.txn]! + 2 - m.partial.sent : 0
  return m.sizes.slice(m.cursor.txn).reduce((sum, rows) => sum + rows + 2, 0) - m.cursor.pos - unsent
}

/** The server commits; whatever it was sending slowly it sends in full first. */
function committed(m: Model, rows: number, slowly = false): void {
  m.partial = slowly ? { txn: m.committed, sent: sentSlowly(rows) } : undefined
  m.committed++
  m.sizes.push(rows)
}

/** After every step. */
function check(m: Model, w: World): void {
  expect(w.server.violations, 'what the walsender saw').toEqual([])
  expect(w.unhandled, 'unhandled rejections').toEqual([])
  expect(w.stream.flushedLsn, 'flushedLsn: the end of the last commit acknowledged').toBe(m.flushed)
  const c = w.server.current
  if (m.closed || !c?.copying) return
  expect(c.replyOwed, 'a keepalive that asks for a reply is answered as it is read').toBe(false)
  // Read ahead: delivered on this connection and not yet handed out.
  const readAhead = c.changesRead - (m.handed.length - m.epoch)
  expect(readAhead).toBeGreaterThanOrEqual(0)
  expect(readAhead, 'read-ahead is bounded by highWater').toBeLessThanOrEqual(highWater)
  if (c.paused) expect(readAhead, 'reading resumes once half the read-ahead is taken').toBeGreaterThan(highWater / 2)
  else expect(readAhead, 'reading pauses once highWater changes are read ahead').toBeLessThan(highWater)
}

/**
 * A transaction of 1 to 5 rows commits. `slowly`: the server sends its Begin and half its rows,
 * then a keepalive at the end of its commit record (a walsender replaying a large transaction),
 * and the rest only before whatever it sends next: the consumer may read, and acknowledge, all
 * it has while the transaction is still open, and the slot must not move.
 */
class Commit implements Command {
  constructor(readonly rows: number, readonly slowly: boolean) {}
  check = (m: Readonly<Model>) => !m.closed
  async run(m: Model, w: World): Promise<void> {
    w.server.commit(this.rows, { slowly: this.slowly })
    committed(m, this.rows, this.slowly)
    await settled(w)
    check(m, w)
  }
  toString = () => `commit(${this.rows} rows${this.slowly ? ', slowly' : ''})`
}

/** next(): acknowledges the change in hand, then must hand out exactly the model's next change. */
class Next implements Command {
  /** `thenAck`: the consumer acknowledges the change itself once it has handled it: ack(change). */
  constructor(readonly thenAck: boolean) {}
  check = (m: Readonly<Model>) => !m.closed && available(m) > 0
  async run(m: Model, w: World): Promise<void> {
    const place = m.cursor
    if (m.inHand !== undefined) acknowledge(m, w, m.inHand)
    const result = await within(w.iterator.next(), `next(), for transaction ${place.txn} at ${place.pos}`)
    expect(result.done, `next(), for transaction ${place.txn} at ${place.pos}`).toBe(false)
    expect(result.value, `transaction ${place.txn} at ${place.pos}`).toMatchObject(expected(w, place))
    m.handed.push(place)
    w.changes.push(result.value as ReplicationChange)
    m.inHand = m.handed.length - 1
    m.cursor = after(w, place)
    if (this.thenAck) {
      acknowledge(m, w, m.inHand)
      w.stream.ack(result.value as ReplicationChange)
    }
    await settled(w)
    check(m, w)
  }
  toString = () => (this.thenAck ? 'next(), then ack() of it' : 'next()')
}

/**
 * next() called `count` times at once: answered in order, each with its own change; each call
 * acknowledges only what was handed out before it, so the changes between stay unacknowledged
 * until a later call (README).
 */
class NextTogether implements Command {
  constructor(readonly count: number) {}
  check = (m: Readonly<Model>) => !m.closed && available(m) >= this.count
  async run(m: Model, w: World): Promise<void> {
    if (m.inHand !== undefined) acknowledge(m, w, m.inHand)
    const results = await within(Promise.all(Array.from({ length: this.count }, () => w.iterator.next())), `${this.count} next() calls at once`)
    for (const result of results) {
      const place = m.cursor
      expect(result.value, `transaction ${place.txn} at ${place.pos}`).toMatchObject(expected(w, place))
      m.handed.push(place)
      w.changes.push(result.value as ReplicationChange)
      m.cursor = after(w, place)
    }
    m.inHand = m.handed.length - 1
    await settled(w)
    check(m, w)
  }
  toString = () => `next() x${this.count}, at once`
}

/** ack(change) of any change handed out so far, this connection's or an earlier one's: the one at `percentile`. */
class Ack implements Command {
  constructor(readonly percentile: number) {}
  check = (m: Readonly<Model>) => !m.closed && m.handed.length > 0
  async run(m: Model, w: World): Promise<void> {
    const index = Math.min(m.handed.length - 1, Math.floor((this.percentile / 100) * m.handed.length))
    acknowledge(m, w, index)
    w.stream.ack(w.changes[index]!)
    check(m, w)
  }
  toString = () => `ack(the change at ${this.percentile}%)`
}

/** The connection is lost; the stream reconnects, and must resume right after what was acknowledged. */
class Drop implements Command {
  check = (m: Readonly<Model>) => !m.closed
  async run(m: Model, w: World): Promise<void> {
    const before = w.server.connections.length
    w.server.drop()
    await until(() => w.server.starts.at(-1)?.connection === before + 1, 'START_REPLICATION on a new connection after a drop')
    await settled(w)
    expect(w.server.connections, 'one new connection').toHaveLength(before + 1)
    const start = w.server.starts.at(-1)!
    expect(start.requested, 'START_REPLICATION from the end of the last commit acknowledged').toBe(m.flushed)
    // The first transaction whose commit was not acknowledged: nothing before it comes again,
    // nothing from it on is skipped. What was handed out and not acknowledged comes again.
    const resume = w.server.firstFrom(m.flushed)
    expect(start.firstTransaction).toBe(resume)
    m.cursor = { txn: resume, pos: 0 }
    m.partial = undefined // a new connection sends every transaction whole
    m.epoch = m.handed.length
    m.acked = m.handed.length - 1
    m.inHand = undefined
    check(m, w)
  }
  toString = () => 'drop()'
}

/**
 * The consumer stops reading for a while, perhaps as transactions keep coming: read-ahead fills,
 * reading pauses, and the stream still sends a status update each interval, on the same
 * connection, reporting what was acknowledged; a silent server is asked for a reply. (The wait
 * is for three status updates, not for a time.)
 */
class Stall implements Command {
  constructor(readonly burst: number[]) {}
  check = (m: Readonly<Model>) => !m.closed
  async run(m: Model, w: World): Promise<void> {
    for (const rows of this.burst) {
      w.server.commit(rows)
      committed(m, rows)
    }
    await settled(w)
    const connection = w.server.current
    const seen = w.server.statusUpdates.length
    await until(() => w.server.statusUpdates.length >= seen + 3, 'three status updates while the consumer stalls')
    expect(w.server.current, 'the same connection').toBe(connection)
    for (const update of w.server.statusUpdates.slice(seen)) expect(update.flushed).toBe(m.flushed)
    check(m, w)
  }
  toString = () => (this.burst.length === 0 ? 'stall()' : `stall(after transactions of ${this.burst.join(', ')} rows)`)
}

/** The walsender asks for a reply (wal_sender_timeout is near): the stream answers as it reads it (the walsender checks). */
class Ping implements Command {
  check = (m: Readonly<Model>) => !m.closed
  async run(m: Model, w: World): Promise<void> {
    w.server.current!.ping()
    await settled(w)
    check(m, w)
  }
  toString = () => 'ping()'
}

/** Everything sent was handed out and acknowledged, and no transaction is open. */
function settledUp(m: Readonly<Model>): boolean {
  return m.cursor.txn === m.committed && m.acked === m.handed.length - 1
}

/**
 * With nothing owed, the server writes WAL that no publication covers and says so with a
 * keepalive at its new position: the stream takes it as flushed, so the slot of a quiet
 * publication does not hold WAL back. (That it must not while anything is owed, the keepalive
 * after each transaction and the one in the middle of a slow one test. Here only with nothing
 * owed: a keepalive at this position could otherwise come, and count, whenever the consumer
 * catches up, which the model could not predict.)
 */
class Unpublished implements Command {
  check = (m: Readonly<Model>) => !m.closed && settledUp(m)
  async run(m: Model, w: World): Promise<void> {
    m.flushed = w.server.unpublished()
    w.server.bound = m.flushed
    await settled(w)
    check(m, w)
  }
  toString = () => 'unpublished WAL'
}

type CloseMode = 'close()' | 'close() with next() waiting' | 'close() just after a drop' | 'close() during the reconnect'

class Close implements Command {
  constructor(readonly mode: CloseMode) {}
  check = (m: Readonly<Model>) => !m.closed && (this.mode !== 'close() with next() waiting' || available(m) === 0)
  async run(m: Model, w: World): Promise<void> {
    await close(m, w, this.mode)
  }
  toString = () => this.mode
}

async function close(m: Model, w: World, mode: CloseMode): Promise<void> {
  let waiting: Promise<IteratorResult<ReplicationChange>> | undefined
  const connections = w.server.connections.length
  if (mode === 'close() with next() waiting') {
    if (m.inHand !== undefined) acknowledge(m, w, m.inHand)
    waiting = w.iterator.next()
  }
  if (mode === 'close() just after a drop' || mode === 'close() during the reconnect') w.server.drop()
  if (mode === 'close() during the reconnect') await until(() => w.server.connections.length > connections, 'a new connection after a drop')
  m.closed = true
  await within(w.stream.close(), mode)
  if (waiting) expect(await within(waiting, 'the next() waiting at close()')).toEqual({ done: true, value: undefined })
  expect(await within(w.iterator.next(), 'next() after close()')).toEqual({ done: true, value: undefined })
  expect(w.readySettled, 'ready has settled').toBe(true)
  expect(w.server.connections.every((c) => c.closed), 'every connection has ended').toBe(true)
  if (mode === 'close() just after a drop') expect(w.server.connections, 'no reconnect after close()').toHaveLength(connections)
  if (mode === 'close()' || mode === 'close() with next() waiting') {
    // The last acknowledgement is reported before the copy ends, so a clean restart repeats nothing.
    expect(w.server.connections.at(-1)!.flushedAtCopyDone, 'the flush reported before CopyDone').toBe(m.flushed)
    expect(w.server.confirmed).toBe(m.flushed)
  }
  check(m, w)
}

/** A new stream on the same slot starts at the first transaction the slot has not confirmed. */
async function restart(w: World): Promise<void> {
  const resume = w.server.firstFrom(w.server.confirmed)
  const again = new ReplicationStream(options, w.server.connect)
  try {
    await within(again.ready, 'ready, after a restart')
    if (resume < w.server.wal.length) {
      const first = await within(again[Symbol.asyncIterator]().next(), 'next(), after a restart')
      expect(first.value, 'the first change after a restart').toMatchObject(expected(w, { txn: resume, pos: 0 }))
    }
  } finally {
    await within(again.close(), 'close(), after a restart')
  }
  expect(w.server.violations).toEqual([])
}

const commit = fc.tuple(fc.integer({ min: 1, max: 5 }), fc.boolean()).map(([rows, slowly]) => new Commit(rows, slowly))
// 100: the last change handed out, as a loop that acknowledges each change it has handled does.
const ack = fc.oneof(fc.constant(100), fc.integer({ min: 0, max: 99 })).map((percentile) => new Ack(percentile))
/** Weighted by repetition: mostly reading, since close() ends a run. */
const next = fc.boolean().map((thenAck) => new Next(thenAck))
const commands = [
  commit,
  commit,
  next,
  next,
  next,
  next,
  ack,
  fc.integer({ min: 2, max: 6 }).map((count) => new NextTogether(count)),
  fc.constant(new Drop()),
  fc.constant(new Ping()),
  fc.constant(new Unpublished()),
  fc.array(fc.integer({ min: 1, max: 5 }), { maxLength: 3 }).map((burst) => new Stall(burst)),
  fc.constantFrom<CloseMode>('close()', 'close() with next() waiting', 'close() just after a drop', 'close() during the reconnect').map((mode) => new Close(mode)),
]

/** Before the stream starts: some transactions, of which the slot has confirmed the first few. */
const history = fc.record({ before: fc.array(fc.integer({ min: 1, max: 5 }), { maxLength: 3 }), confirmed: fc.nat(3) })

test('model: through commits, reads, acknowledgements, stalls, drops and close(), the stream hands on every transaction whole and in order, repeats only what was not acknowledged, and reports only what was', async () => {
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown) => void unhandled.push(reason)
  process.on('unhandledRejection', onUnhandled)
  const chosen = process.env.PGLISTEN_MODEL_SEED ?? '20260512'
  const seed = chosen === 'random' ? undefined : Number(chosen)
  try {
    await fc.assert(
      fc.asyncProperty(history, fc.commands(commands, { maxCommands: 30, size: 'max' }), async ({ before, confirmed }, steps) => {
        const server = new FakeWalsender()
        for (const rows of before) server.commit(rows)
        const from = server.confirmThrough(Math.min(confirmed, before.length))
        const stream = new ReplicationStream(options, server.connect)
        const w: World = { server, stream, iterator: stream[Symbol.asyncIterator](), changes: [], readySettled: false, unhandled }
        stream.ready.then(() => (w.readySettled = true), () => (w.readySettled = true))
        const m: Model = {
          committed: before.length,
          sizes: [...before],
          partial: undefined,
          cursor: { txn: server.firstFrom(from), pos: 0 },
          handed: [],
          epoch: 0,
          inHand: undefined,
          acked: -1,
          flushed: from,
          closed: false,
        }
        try {
          expect(await within(stream.ready, 'ready')).toBe(from)
          await settled(w)
          check(m, w)
          await fc.asyncModelRun(() => ({ model: m, real: w }), steps)
          if (!m.closed) await close(m, w, 'close()')
          await restart(w)
        } finally {
          // Only after a failure is the stream still open; its own error is the one to see.
          await within(stream.close(), 'close(), cleaning up').catch(() => undefined)
        }
      }),
      { numRuns: 200, ...(seed === undefined ? {} : { seed }), interruptAfterTimeLimit: 60_000, markInterruptAsFailure: true },
    )
  } finally {
    process.off('unhandledRejection', onUnhandled)
  }
}, 90_000)
