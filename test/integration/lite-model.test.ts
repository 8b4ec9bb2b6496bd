/**
 * pglisten/lite's bookkeeping and its Gap promise, tested against a model. fast-check picks a
 * short run of steps (listen(c) and unlisten(c), each answered after a few notifications; the
 * server hanging up, with listen() and unlisten() called before the listener notices; iterators
 * and 'notification' handlers made, read and stopped) and plays them on a LiteListener against
 * a scripted server (support/scripted-listener-server.ts). After every step it holds
 * `listener.channels` against the model, and after each hang-up what the new connection LISTENs
 * on first. At the end it reads every consumer and holds what it read against the promise: each
 * notification that arrived while the consumer existed reaches it, in order, or a Gap between
 * its neighbours covers it; a loss is a Gap between what came before and what came after it; a
 * consumer made after something arrived with no consumer begins with a Gap.
 *
 * Nothing here is timed: each step waits for its own calls, a hang-up for the reconnect's Gap.
 * The sequences are fixed (PGLISTEN_MODEL_SEED, as listener-model.test.ts; 'random' for others).
 */
import fc from 'fast-check'
import { expect, test } from 'vitest'
import { createListener, type Gap, type LiteItem, type LiteListener } from '../../src/lite.ts'
import { eventually } from '../support/connect.ts'
import { scriptedListenerServer } from '../support/scripted-listener-server.ts'
import { backend } from '../support/wire.ts'

const highWaterMark = 3

/** What a consumer read: a notification by its number (the order it was sent in), or a Gap. */
type Read = number | Gap

interface Consumer {
  kind: 'iterator' | 'handler'
  read: Read[]
  /** Notifications sent while it existed. */
  owed: number[]
  /** The number of the first notification sent after each loss it lived through. */
  losses: number[]
  /** Something arrived with no consumer before it was made: it must begin with a Gap. */
  startsWithGap: boolean
  /** Reads what is queued (an iterator), without waiting for more. */
  drain(): Promise<void>
  stop(): Promise<void>
  stopped: boolean
  /** An iterator's next() said done. */
  done: boolean
}

interface Model {
  channels: Set<string>
  /** Something arrived (a notification, a reconnect's Gap) while there was no consumer. */
  unconsumed: boolean
}

interface Real {
  listener: LiteListener
  server: Awaited<ReturnType<typeof scriptedListenerServer>>
  consumers: Consumer[]
  /** Notifications to send before the answer to the next query on connection `connection`. */
  inject: { connection: number; numbers: number[] } | undefined
  sent: number
  gaps: number
}

type Command = fc.AsyncCommand<Model, Real>

const live = (r: Real) => r.consumers.filter((c) => !c.stopped)

/** Numbers the next `count` notifications, owed to every consumer there is now. */
function send(m: Model, r: Real, count: number): number[] {
  const numbers = Array.from({ length: count }, () => r.sent++)
  for (const consumer of live(r)) consumer.owed.push(...numbers)
  if (count > 0 && live(r).length === 0) m.unconsumed = true
  return numbers
}

function checkChannels(m: Model, r: Real): void {
  expect([...r.listener.channels]).toEqual([...m.channels])
}

const channel = fc.constantFrom('a', 'b', 'c')

/** listen(c) or unlisten(c), answered after `count` notifications. */
const change = fc.tuple(fc.boolean(), channel, fc.integer({ min: 0, max: 5 })).map(([listen, c, count]): Command => ({
  check: () => true,
  async run(m, r) {
    r.inject = { connection: r.server.queries.length - 1, numbers: send(m, r, count) }
    await (listen ? r.listener.listen(c) : r.listener.unlisten(c))
    expect(r.inject).toBeUndefined() // the notifications went out before the answer
    if (listen) m.channels.add(c)
    else m.channels.delete(c)
    checkChannels(m, r)
  },
  toString: () => `${listen ? 'listen' : 'unlisten'}(${c}, ${count})`,
}))

/**
 * The server hangs up; listen() and unlisten() are called before the listener can notice (they
 * are made in the same tick), so the reconnect LISTENs on the set as they left it, in one query,
 * answered after `count` notifications (heard before the re-LISTEN's answer: after the Gap;
 * past highWaterMark, none of them, the Gap covering them all).
 */
const hangUp = fc.tuple(fc.array(fc.tuple(fc.boolean(), channel), { maxLength: 3 }), fc.integer({ min: 0, max: highWaterMark + 2 })).map(([calls, count]): Command => ({
  check: () => true,
  async run(m, r) {
    const next = r.server.queries.length
    const gaps = r.gaps
    r.server.clients.at(-1)!.end()
    const pending = calls.map(([listen, c]) => (listen ? r.listener.listen(c) : r.listener.unlisten(c)))
    for (const [listen, c] of calls) listen ? m.channels.add(c) : m.channels.delete(c)
    checkChannels(m, r)
    for (const consumer of live(r)) consumer.losses.push(r.sent)
    if (live(r).length === 0) m.unconsumed = true // the reconnect's Gap, taken by nobody
    if (m.channels.size > 0) r.inject = { connection: next, numbers: send(m, r, count) }
    await Promise.all(pending)
    await eventually(() => r.gaps === gaps + 1)
    expect(r.inject).toBeUndefined()
    const relisten = [...m.channels].map((c) => `LISTEN "${c}"`).join(';')
    expect(r.server.queries[next]).toEqual(m.channels.size > 0 ? [relisten] : [])
    checkChannels(m, r)
  },
  toString: () => `hangUp([${calls.map(([listen, c]) => `${listen ? '' : 'un'}listen(${c})`).join(', ')}], ${count})`,
}))

function consumer(m: Model, r: Real, kind: Consumer['kind']): Consumer {
  const read: Read[] = []
  const base = { kind, read, owed: [], losses: [], startsWithGap: m.unconsumed, stopped: false, done: false }
  m.unconsumed = false
  const record = (item: LiteItem) => read.push(item.type === 'Gap' ? item : Number(item.payload))
  if (kind === 'handler') {
    const offs = [r.listener.on('notification', record), r.listener.on('gap', record)]
    const self: Consumer = { ...base, drain: async () => {}, async stop() {
      self.stopped = true
      for (const off of offs) off()
    } }
    return self
  }
  const iterator = r.listener.notifications()
  /** A next() that found nothing queued: it takes the next item, so it is kept and read first. */
  let waiting: Promise<IteratorResult<LiteItem>> | undefined
  const self: Consumer = { ...base, drain, async stop() {
    await drain()
    self.stopped = true
    await iterator.return!()
    if (waiting) expect(await waiting).toEqual({ value: undefined, done: true })
  } }
  async function drain() {
    for (;;) {
      const next = waiting ?? iterator.next()
      waiting = undefined
      // Everything the listener has heard by now is queued: a macrotask later, nothing more is.
      const result = await Promise.race([next, new Promise<'idle'>((resolve) => setImmediate(() => resolve('idle')))])
      if (result === 'idle') return void (waiting = next)
      if (result.done) return void (self.done = true)
      record(result.value)
    }
  }
  return self
}

const make = fc.constantFrom<Consumer['kind']>('iterator', 'handler').map((kind): Command => ({
  check: () => true,
  async run(m, r) {
    if (live(r).length < 3) r.consumers.push(consumer(m, r, kind))
    await Promise.resolve() // a handler hears its Gap a microtask later
  },
  toString: () => `make(${kind})`,
}))
const read = fc.integer({ min: 0, max: 2 }).map((i): Command => ({
  check: () => true,
  run: async (m, r) => void (await live(r)[i]?.drain()),
  toString: () => `read(${i})`,
}))
const stop = fc.integer({ min: 0, max: 2 }).map((i): Command => ({
  check: () => true,
  run: async (m, r) => void (await live(r)[i]?.stop()),
  toString: () => `stop(${i})`,
}))

/** What `consumer` read, held against what it was owed. */
function audit(consumer: Consumer, index: number): void {
  const { read, owed } = consumer
  const where = `consumer ${index} (${consumer.kind}) read ${JSON.stringify(read.map((x) => (typeof x === 'number' ? x : 'Gap')))}, owed ${JSON.stringify(owed)}`
  const numbers = read.filter((x): x is number => typeof x === 'number')
  expect(numbers, `${where}: in order, nothing it was not owed`).toEqual(owed.filter((n) => numbers.includes(n)))
  if (consumer.startsWithGap) expect(typeof read[0], `${where}: begins with a Gap`).toBe('object')
  for (const item of read) {
    if (typeof item === 'number') continue
    expect(item.from.getTime(), `${where}: a Gap ends after it begins`).toBeLessThanOrEqual(item.to.getTime())
    expect(item.cause).toBeInstanceOf(Error)
  }
  /** A Gap between the last number read below `n` and the first read from `n` on. */
  const gapBefore = (n: number) => {
    const after = read.findIndex((x) => typeof x === 'number' && x >= n)
    const end = after === -1 ? read.length : after
    let start = -1
    read.forEach((x, i) => typeof x === 'number' && x < n && i < end && (start = i))
    return read.slice(start + 1, end).some((x) => typeof x !== 'number')
  }
  for (const n of owed) if (!numbers.includes(n)) expect(gapBefore(n), `${where}: ${n} neither read nor covered by a Gap`).toBe(true)
  for (const n of consumer.losses) expect(gapBefore(n), `${where}: no Gap for the loss before ${n}`).toBe(true)
}

const seed = process.env.PGLISTEN_MODEL_SEED === 'random' ? undefined : Number(process.env.PGLISTEN_MODEL_SEED ?? 20261204)

test('LiteListener keeps its channels across hang-ups, and every notification owed to a consumer reaches it or is covered by a Gap', async () => {
  await fc.assert(
    fc.asyncProperty(fc.commands([change, change, hangUp, make, read, stop], { maxCommands: 20 }), async (steps) => {
      const r: Real = { consumers: [], inject: undefined, sent: 0, gaps: 0 } as unknown as Real
      r.server = await scriptedListenerServer({
        before: (index, sql) => {
          if (r.inject?.connection !== index) return []
          const { numbers } = r.inject
          r.inject = undefined
          return numbers.map((n) => backend.notificationResponse(7, 'n', String(n)))
        },
      })
      try {
        r.listener = await createListener({ host: '127.0.0.1', port: r.server.port, user: 'u', sslmode: 'disable', highWaterMark, reconnect: { minDelay: 2, maxDelay: 4 } })
        r.listener.on('gap', () => void r.gaps++)
        const model: Model = { channels: new Set(), unconsumed: false }
        await fc.asyncModelRun(() => ({ model, real: r }), steps)
        for (const c of live(r)) await c.drain()
        r.consumers.forEach(audit)
        // close(): every iterator still there ends; later calls reject.
        const iterators = live(r).filter((c) => c.kind === 'iterator')
        await r.listener.close()
        for (const c of iterators) {
          await c.drain()
          expect(c.done, 'an iterator ends at close()').toBe(true)
        }
        await expect(r.listener.listen('a')).rejects.toThrow('the listener is closed')
      } finally {
        await r.listener?.close()
        await r.server.close()
      }
    }),
    { numRuns: 150, ...(seed !== undefined ? { seed } : {}) },
  )
}, 60_000)
