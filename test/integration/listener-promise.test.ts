/**
 * The listener's one promise, nothing lost without a Gap that says so, under the races,
 * backlogs and faults that broke it (one describe per way it broke), against the real server.
 * Each test would fail without the fix it is named after.
 */
import { getEventListeners } from 'node:events'
import { describe, expect, test } from 'vitest'
import { ConsumerStalledError, ListenerError } from '../../src/listener/errors.ts'
import { Listener, type ListenerEvents } from '../../src/index.ts'
import type { Gap, ListenerItem, Notification } from '../../src/listener/subscription.ts'
import { connect } from '../../src/protocol/index.ts'
import type { Tracer } from '../../src/protocol/session.ts'
import { connectSuperuser, eventually } from '../support/connect.ts'
import { collect, listener, listenerOptions, uniqueChannel } from '../support/listener.ts'
import { scriptedListenerServer } from '../support/scripted-listener-server.ts'
import { backend } from '../support/wire.ts'
import { startFaultProxy } from '../support/fault-proxy.ts'
import { within } from '../support/listener-world.ts'
import { changes } from '../../src/changes.ts'

const fast = { reconnect: { minDelay: 20, maxDelay: 200 } }
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** `count` notifications with payloads 1..count, committed in one transaction. */
async function flood(channel: string, count: number): Promise<void> {
  const c = await connect(listenerOptions())
  await c.query(`SELECT pg_notify('${channel.replaceAll("'", "''")}', i::text) FROM generate_series(1, ${count}) i`)
  await c.close()
}

async function terminate(processId: number | undefined): Promise<void> {
  const admin = await connectSuperuser()
  await admin.query(`SELECT pg_terminate_backend(${processId})`)
  await admin.close()
}

/** A tracer that keeps the text of every frontend message sent, and counts heartbeats. */
function sentMessages(): { tracer: Tracer; sent: string[]; beats(): number } {
  const sent: string[] = []
  let beats = 0
  const tracer: Tracer = {
    sent(bytes) {
      const text = Buffer.from(bytes).toString('latin1')
      if (isHeartbeat(text)) beats++
      else sent.push(text)
    },
    received() {},
  }
  return { sent, tracer, beats: () => beats }
}

/** Sync as sent: Byte1('S') Int32(4): a heartbeat. */
const isHeartbeat = (message: string) => message === 'S\0\0\0\u0004'

/** A sender that notifies one payload at a time and records when each was sent and answered. */
async function sender(channel: string, pause = 2) {
  const c = await connect(listenerOptions())
  const sent: { seq: number; sentAt: number; answeredAt: number }[] = []
  let stop = false
  const loop = (async () => {
    for (let seq = 1; !stop; seq++) {
      const sentAt = Date.now()
      await c.query(`SELECT pg_notify('${channel.replaceAll("'", "''")}', '${seq}')`)
      sent.push({ seq, sentAt, answeredAt: Date.now() })
      if (pause > 0) await sleep(pause)
    }
  })()
  return {
    sent,
    async stop() {
      stop = true
      await loop
      await c.close()
    },
  }
}

/**
 * Every notification sent is either heard once, in order, or missing with a Gap heard between
 * its neighbours whose window covers it (Date rounding: 1 ms).
 */
function expectCovered(items: ListenerItem[], sent: { seq: number; sentAt: number; answeredAt: number }[]): Gap[] {
  const gaps: Gap[] = []
  let next = 1
  let pending: Gap[] = []
  for (const item of items) {
    if (item.type === 'Gap') {
      pending.push(item)
      gaps.push(item)
      continue
    }
    const seq = Number(item.payload)
    expect(seq, 'order').toBeGreaterThanOrEqual(next)
    for (let missing = next; missing < seq; missing++) {
      const s = sent[missing - 1]!
      const covered = pending.some((g) => g.from.getTime() <= s.answeredAt + 1 && g.to.getTime() >= s.sentAt - 1)
      expect(covered, `notification ${missing} (sent ${s.sentAt}, answered ${s.answeredAt}) lost without a Gap covering it: ${JSON.stringify(pending)}`).toBe(true)
    }
    next = seq + 1
    pending = []
  }
  return gaps
}

describe('1. nothing is dropped for lack of a consumer', () => {
  test('listen, notify, wait, then iterate: the notification is heard', async () => {
    const l = await listener()
    const channel = uniqueChannel()
    await l.listen(channel)
    await l.notify(channel, 'while nobody iterated')
    await sleep(200)
    for await (const item of l.notifications()) {
      expect(item).toMatchObject({ channel, payload: 'while nobody iterated' })
      break
    }
  })

  test('a consumer of other channels (a change feed, say) does not make the listen-refresh-iterate pattern lose anything', async () => {
    const l = await listener()
    const other = l.notifications({ channels: [uniqueChannel('other')] })
    const channel = uniqueChannel()
    await l.listen(channel)
    await l.notify(channel, 'while the other consumer iterated')
    await sleep(200)
    for await (const item of l.notifications({ channels: [channel] })) {
      expect(item).toMatchObject({ channel, payload: 'while the other consumer iterated' })
      break
    }
    await other.return!()
  })

  test('the first listen() on a channel already busy resolves at once (the self-test runs before any LISTEN)', async () => {
    const channel = uniqueChannel()
    const stream = await sender(channel, 0) // as fast as one connection can commit
    try {
      await sleep(50)
      // With the self-test after the LISTEN, the stream filled what is held (4 × highWaterMark
      // while a query waits) before the test's own notification came back: a hang until the stall.
      // The order of the LISTENs, checked below, is what catches that. highWaterMark 128: room for
      // the notifications that precede the LISTEN's own answer (committed between the LISTEN and
      // its ReadyForQuery; on a loaded machine that was once more than 4 × 8 = 32, and the LISTEN's
      // answer could not be read until the stall).
      const { tracer, sent } = sentMessages()
      const l = await listener({ highWaterMark: 128, lowWaterMark: 32, stallTimeout: 60_000, trace: tracer }) // a hang would outlast the test
      const errors: Error[] = []
      l.on('error', (e) => void errors.push(e))
      await l.listen(channel)
      // Whatever the stream's pace, the self-test's NOTIFY had nothing of the channel's ahead of it.
      const listens = sent.filter((m) => m.startsWith('Q') && m.includes('LISTEN "') && !m.includes('UNLISTEN'))
      expect(listens.map((m) => (m.includes('pglisten.self-test.') ? 'self-test' : 'channel'))).toEqual(['self-test', 'channel'])
      const iterator = l.notifications()
      expect((await iterator.next()).value).toMatchObject({ channel })
      expect(errors).toEqual([])
    } finally {
      await stream.stop()
    }
  })

  test('a handler registered after listen() gets what was held', async () => {
    const l = await listener()
    const channel = uniqueChannel()
    await l.listen(channel)
    await l.notify(channel, 'held')
    await eventually(() => l.stats.notifications === 1) // heard, and held: nobody consumes it yet
    const heard: string[] = []
    l.on('notification', (n) => void heard.push(n.payload))
    await null // what was held comes once on() has returned
    expect(heard).toEqual(['held'])
  })

  test('a handler that hears once (const off = on(..., () => off())) has its off() when what was held comes: the rest stays held, for the next consumer', async () => {
    const l = await listener()
    const channel = uniqueChannel()
    await l.listen(channel)
    for (const payload of ['1', '2', '3']) await l.notify(channel, payload)
    await eventually(() => l.stats.notifications === 3) // held: nobody consumes it yet
    const errors: unknown[] = []
    l.on('error', (error) => void errors.push(error))
    const once: string[] = []
    const off = l.on('notification', (n) => {
      once.push(n.payload)
      off()
    })
    await null
    // Before: the held ones came inside on(), before `off` was assigned, so each call threw a
    // ReferenceError (to 'error'), and the handler, never removed, heard all three and more.
    expect(errors).toEqual([])
    expect(once).toEqual(['1'])
    const rest = l.notifications({ channels: [channel] })
    await l.notify(channel, '4')
    const next: string[] = []
    for await (const item of rest) {
      if (item.type === 'Gap') continue
      next.push(item.payload)
      if (next.length === 3) break
    }
    expect(next).toEqual(['2', '3', '4'])
    expect(once).toEqual(['1'])
  })

  test('held notifications count for backpressure: a flood with no consumer keeps the backlog at highWaterMark, then reaches the consumer whole', async () => {
    const l = await listener({ highWaterMark: 100, lowWaterMark: 25 })
    const channel = uniqueChannel()
    await l.listen(channel)
    await flood(channel, 5000)
    await eventually(() => l.stats.backlog === 100)
    await sleep(100)
    expect(l.stats.backlog).toBe(100)
    expect(l.stats.state).toBe('backlogged')
    let expected = 1
    for await (const item of l.notifications()) {
      expect(item).toMatchObject({ payload: String(expected) })
      if (++expected > 5000) break
    }
    expect(l.stats.maxBacklog).toBe(100)
  })

  test('a consumer that takes what was held, cut off for waiting too long, pauses the socket at once (found by the model test)', async () => {
    const l = await listener({ highWaterMark: 4, lowWaterMark: 1, stallTimeout: 1000 })
    const channel = uniqueChannel()
    await l.listen(channel)
    const cut = new Promise((resolve) => l.on('error', (e) => e instanceof ConsumerStalledError && resolve(e)))
    await flood(channel, 10)
    await within(cut, 5000, 'what was held being cut off')
    await eventually(() => !l.stats.paused) // the rest is read and dropped, under a Gap
    const consumer = l.notifications() // takes the 4 held and their Gap: a highWaterMark's worth
    expect(l.stats).toMatchObject({ backlog: 5, paused: true })
    await l.notify(channel, 'after')
    await sleep(100)
    expect(l.stats.backlog).toBe(5) // before the fix the socket was still read: 6
    const first = await consumer.next()
    expect(first.value).toMatchObject({ payload: '1' })
  })
  test('a reconnect while a channel\'s notifications are held: its consumer gets the Gap among them, though a consumer of another channel came first', async () => {
    const l = await listener({ reconnect: { minDelay: 100, maxDelay: 100 } })
    const [a, b] = [uniqueChannel('a'), uniqueChannel('b')]
    await l.listen(a)
    await l.listen(b)
    const first = collect(l.notifications({ channels: [a] })) // a change feed, say: b has no consumer
    await l.notify(b, 'before')
    await eventually(() => l.stats.backlog === 1) // held for b's consumer
    const reconnected = new Promise<Gap>((resolve) => l.on('reconnected', resolve))
    const admin = await connectSuperuser()
    await admin.query(`SELECT pg_terminate_backend(${l.processId})`)
    await admin.close()
    await reconnected // what was committed on b meanwhile is lost: the Gap says so
    const second = collect(l.notifications({ channels: [a] })) // takes its part of what is held: none of b
    await l.notify(b, 'after')
    await l.notify(b, 'end')
    const items: string[] = []
    for await (const item of l.notifications({ channels: [b] })) {
      items.push(item.type === 'Gap' ? 'Gap' : item.payload)
      if (item.type !== 'Gap' && item.payload === 'end') break
    }
    expect(items).toEqual(['before', 'Gap', 'after', 'end']) // the Gap was dropped from what was held: no Gap
    await l.close()
    await Promise.all([first.done, second.done])
  })
})

describe('1a. a change feed on a channel the user listens on too is no consumer of the user\'s', () => {
  test('it takes nothing of what is held for the user\'s first consumer, before it came or while it alone consumed', async () => {
    const l = await listener()
    const channel = uniqueChannel('shared')
    await l.listen(channel)
    await l.notify(channel, 'before the feed')
    await eventually(() => l.stats.notifications === 1) // held: nobody of the user's consumes it
    const feed = changes(l, 'public.pglisten_shared', { install: false, channel }) // tcn's default channel is shared so
    await feed.ready
    await l.notify(channel, 'while only the feed consumed')
    await eventually(() => l.stats.notifications === 2)
    const mine = l.notifications({ channels: [channel] })
    const items: string[] = []
    for (let i = 0; i < 2; i++) {
      const item = (await within(mine.next(), 2000, 'the user\'s iterator reading')).value as ListenerItem // before the fix: never (the feed took both)
      items.push(item.type === 'Gap' ? 'Gap' : item.payload)
    }
    expect(items).toEqual(['before the feed', 'while only the feed consumed'])
    await mine.return!()
    await feed.return!()
  })
})

describe('1b. what was held on a channel is let go when it is unlistened', () => {
  test.each(['unlisten', 'unlistenAll'] as const)('%s(): the socket that what was held kept paused is read again for the consumers of other channels (with stallTimeout false it stayed paused for good)', async (how) => {
    const l = await listener({ highWaterMark: 4, lowWaterMark: 1, stallTimeout: false })
    const [a, b] = [uniqueChannel('a'), uniqueChannel('b')]
    await l.listen(a)
    await l.listen(b)
    const consumer = l.notifications({ channels: [a] }) // nobody consumes b
    await flood(b, 10)
    await eventually(() => l.stats.paused)
    if (how === 'unlisten') await l.unlisten(b)
    else {
      await l.unlistenAll()
      await l.listen(a)
    }
    expect(l.stats.backlog).toBe(0)
    await flood(a, 1)
    expect((await within(consumer.next(), 5000, 'the consumer of a reading')).value).toMatchObject({ channel: a, payload: '1' })
    // Listened on again, b's first consumer gets what comes from now on, not what was dropped.
    await l.listen(b)
    await l.notify(b, 'new')
    const next = await within(l.notifications({ channels: [b] }).next(), 5000, 'the consumer of b reading')
    expect(next.value).toMatchObject({ channel: b, payload: 'new' })
    expect(l.stats.backlog).toBe(0)
  })
})

describe('1c. a listen() that fails lets go of what came on its channel meanwhile', () => {
  test('with stallTimeout false, it held the socket paused for good (a scripted server: a real one does not fail a LISTEN after sending on its channel)', async () => {
    const server = await scriptedListenerServer({
      before: (_, sql) => (sql === 'LISTEN "c"' ? [backend.notificationResponse(2000, 'c', 'while the LISTEN failed')] : []),
      fails: (_, sql) => sql === 'LISTEN "c"',
    })
    const l = new Listener({ host: '127.0.0.1', port: server.port, user: 'u', database: 'd', sslmode: 'disable', env: {}, passfile: '/nonexistent/pglisten-test-pgpass', poolerCheck: false, heartbeat: false, reconnect: false, highWaterMark: 1, lowWaterMark: 0, stallTimeout: false })
    try {
      await l.start()
      await expect(l.listen('c')).rejects.toThrow(/scripted failure of LISTEN "c"/)
      expect(l.channels).toEqual(new Set())
      expect(l.stats).toMatchObject({ backlog: 0, paused: false })
    } finally {
      await l.close()
      await server.close()
    }
  })
})

describe('2a. LISTEN and UNLISTEN reach the server in the order they were called', () => {
  /** What the server sends `all` up to the marker on `marker`, the marker included. */
  async function heardUntil(all: AsyncIterableIterator<ListenerItem>, marker: string): Promise<string[]> {
    const heard: string[] = []
    for await (const item of all) {
      if (item.type === 'Gap') continue
      heard.push(`${item.channel}:${item.payload}`)
      if (item.channel === marker) return heard
    }
    return heard
  }

  test.each([
    ['unlisten(y)', (l: Listener, y: string) => l.unlisten(y)],
    ['unlistenAll()', (l: Listener) => l.unlistenAll()],
  ])('listen(y) and %s called together: the server stops listening on y, as listener.channels says', async (_, unlisten) => {
    const { tracer, sent } = sentMessages()
    const l = await listener({ trace: tracer })
    const x = uniqueChannel('x')
    await l.listen(x) // the pooler self-test is behind: listen() waits for nothing before its LISTEN
    const y = uniqueChannel('y')
    await Promise.all([l.listen(y), unlisten(l, y)])
    expect(l.channels.has(y)).toBe(false)
    const listenY = sent.findIndex((m) => m.includes(`LISTEN "${y}"`) && !m.includes('UNLISTEN'))
    const unlistenY = sent.findIndex((m) => m.includes(`UNLISTEN "${y}"`) || m.includes('UNLISTEN *'))
    expect(listenY).toBeGreaterThanOrEqual(0)
    expect(unlistenY).toBeGreaterThan(listenY) // sent before the LISTEN, the UNLISTEN undid nothing
    await l.listen(x)
    const all = l.notifications()
    await l.notify(y, 'after the unlisten')
    await l.notify(x, 'marker')
    expect(await heardUntil(all, x)).toEqual([`${x}:marker`])
  })
})

describe('2. the first listen() calls made together', () => {
  test('share one pooler self-test: both resolve, nothing leaks, the test channel is UNLISTENed', async () => {
    const { tracer, sent } = sentMessages()
    const l = await listener({ trace: tracer })
    const heard = collect(l.notifications())
    const [a, b] = [uniqueChannel('a'), uniqueChannel('b')]
    await Promise.all([l.listen(a), l.listen(b)])
    expect([...l.channels].sort()).toEqual([a, b].sort())
    const selfTest = (verb: string) => sent.filter((m) => m.includes(`${verb} "pglisten.self-test.`) && !m.includes(`UN${verb}`))
    expect(selfTest('LISTEN')).toHaveLength(1)
    expect(sent.filter((m) => m.includes('UNLISTEN "pglisten.self-test.'))).toHaveLength(1)
    await l.notify(a, '1')
    await l.notify(b, '2')
    await eventually(() => heard.items.length === 2)
    await sleep(50)
    expect(heard.items.map((n) => (n as Notification).channel)).toEqual([a, b])
  })

  test('two change feeds created together both become ready', async () => {
    const { tracer, sent } = sentMessages()
    const l = await listener({ trace: tracer })
    const one = changes(l, 'public.pglisten_race_one', { install: false })
    const two = changes(l, 'public.pglisten_race_two', { install: false })
    await Promise.all([one.ready, two.ready])
    expect(sent.filter((m) => m.includes('UNLISTEN "pglisten.self-test.'))).toHaveLength(1)
    await Promise.all([one.return!(), two.return!()])
  })

  test('unlistenAll() then the first listen(), called together: the pooler self-test goes after the UNLISTEN *, which cannot undo it', async () => {
    const l = await listener({ poolerCheck: { timeout: 500 } })
    const y = uniqueChannel('y')
    await Promise.all([l.unlistenAll(), l.listen(y)]) // the self-test's LISTEN undone: "LISTEN does not work on this connection"
    expect([...l.channels]).toEqual([y])
  })

  test('unlisten() and unlistenAll() on a listener that never listened send no self-test', async () => {
    const { tracer, sent } = sentMessages()
    const l = await listener({ trace: tracer })
    await l.unlisten(uniqueChannel('x'))
    await l.unlistenAll()
    expect(sent.filter((m) => m.includes('pglisten.self-test.'))).toEqual([])
    expect(sent.filter((m) => m.includes('UNLISTEN'))).toHaveLength(2)
  })

  test('close() with LISTENs and UNLISTENs queued behind the self-test: each rejects, none hangs', async () => {
    const l = await listener({ poolerCheck: { timeout: 500 } })
    const calls = [l.listen(uniqueChannel('a')), l.unlisten(uniqueChannel('b')), l.listen(uniqueChannel('c')), l.unlistenAll()]
    const closing = l.close()
    const results = await Promise.allSettled(calls)
    await closing
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected'])
    expect(l.channels.size).toBe(0)
  })
})

describe('3. the heartbeat never kills a connection that is delivering', () => {
  test('a heartbeat answered only after a long backlog, while the consumer stops for 3 × the timeout: nothing lost, no reconnect', async () => {
    const { tracer, beats } = sentMessages()
    const l = await listener({ highWaterMark: 200, heartbeat: { interval: 20, timeout: 400 }, poolerCheck: false, trace: tracer })
    const channel = uniqueChannel()
    await l.listen(channel)
    const iterator = l.notifications()
    // A heartbeat is sent only between socket reads while nobody is behind, so it is a matter
    // of timing whether one goes out during a given flood: flood until one has.
    let held = false
    for (let round = 0; round < 20 && !held; round++) {
      await flood(channel, 20_000)
      const beatsBefore = beats() // any beat sent from now on is answered after these 20,000
      for (let expected = 1; expected <= 20_000; expected++) {
        const { value } = await iterator.next()
        expect(value).toMatchObject({ type: 'NotificationResponse', payload: String(expected) })
        if (!held && beats() > beatsBefore) {
          held = true
          await sleep(1200) // the socket pauses, with the heartbeat's answer behind the backlog
        }
      }
    }
    expect(held).toBe(true)
    expect(l.stats.reconnects).toBe(0)
  })
})

describe('3b. the heartbeat never judges a silence the event loop made', () => {
  test('the loop blocked for 3 × the timeout right after a heartbeat: its answer is read before any verdict', async () => {
    const { tracer, beats } = sentMessages()
    // The timeout is wide enough that a server slow to answer (a loaded machine) is not taken
    // for dead; the loop blocks for three of it.
    const l = await listener({ heartbeat: { interval: 100, timeout: 500 }, poolerCheck: false, trace: tracer })
    const lost: unknown[] = []
    l.on('disconnected', (e) => void lost.push(e))
    const before = beats()
    await eventually(() => beats() > before)
    const until = Date.now() + 1500
    while (Date.now() < until) {
      // A long synchronous task: no timer, no socket read, until it ends.
    }
    await sleep(500)
    expect(lost).toEqual([])
    expect(l.stats.reconnects).toBe(0)
  })
})

describe('4. a reconnect attempt is bounded', () => {
  test('a host that accepts and never answers: each attempt is abandoned after attemptTimeout, and the listener comes back when it answers', async () => {
    const base = listenerOptions()
    const proxy = await startFaultProxy(base.host as string, base.port as number)
    try {
      const l = await listener({ host: '127.0.0.1', port: proxy.port, reconnect: { minDelay: 20, maxDelay: 100, attemptTimeout: 300 }, heartbeat: false })
      const errors: Error[] = []
      l.on('error', (e) => void errors.push(e))
      const reconnected = new Promise<Gap>((resolve) => l.on('reconnected', resolve))
      // From the loss on, connections are accepted and hear nothing. (Not before: a blackholed
      // socket would not even hear the server hang up.)
      l.on('disconnected', () => proxy.blackhole())
      await terminate(l.processId)
      await eventually(() => errors.length >= 2, 5000)
      expect(errors[0]!.message).toMatch(/did not finish within 300 ms/)
      proxy.restore()
      await reconnected
    } finally {
      await proxy.close()
    }
  })

  test('by default too (10 s when connect_timeout is not set)', async () => {
    const base = listenerOptions()
    const proxy = await startFaultProxy(base.host as string, base.port as number)
    try {
      const { connectTimeout: _none, ...options } = listenerOptions({ host: '127.0.0.1', port: proxy.port, heartbeat: false, ...fast })
      const l = new Listener(options)
      await l.start()
      try {
        const errors: Error[] = []
        l.on('error', (e) => void errors.push(e))
        l.on('disconnected', () => proxy.blackhole())
        await terminate(l.processId)
        await eventually(() => errors.length >= 1, 15_000)
        expect(errors[0]!.message).toMatch(/did not finish within 10000 ms/)
      } finally {
        await l.close()
      }
    } finally {
      await proxy.close()
    }
  }, 30_000)
})

describe('5. the Gap comes first, and from when nothing was yet lost', () => {
  test('across five terminations under a steady stream: nothing sent after the loss comes before its Gap, and every missing one is covered', async () => {
    const l = await listener(fast)
    const channel = uniqueChannel()
    await l.listen(channel)
    const heard = collect(l.notifications())
    const lostAt: number[] = []
    l.on('disconnected', () => void lostAt.push(Date.now()))
    const stream = await sender(channel)
    for (let round = 0; round < 5; round++) {
      await sleep(30)
      const reconnected = new Promise((resolve) => l.on('reconnected', resolve))
      await terminate(l.processId)
      await reconnected
    }
    await sleep(30)
    await stream.stop()
    const last = stream.sent.length
    await eventually(() => heard.items.some((i) => i.type !== 'Gap' && Number(i.payload) === last))
    const gaps = expectCovered(heard.items, stream.sent)
    expect(gaps).toHaveLength(5)
    // Before each Gap, nothing whose sending began after that loss was detected.
    let round = 0
    for (const item of heard.items) {
      if (item.type === 'Gap') {
        round++
        continue
      }
      if (round < lostAt.length) expect(stream.sent[Number(item.payload) - 1]!.sentAt).toBeLessThanOrEqual(lostAt[round]!)
    }
  })

  test('a link that goes silent: Gap.from is before every notification lost in the silence', async () => {
    const base = listenerOptions()
    const proxy = await startFaultProxy(base.host as string, base.port as number)
    try {
      const l = await listener({ ...fast, host: '127.0.0.1', port: proxy.port, heartbeat: { interval: 200, timeout: 500 } }) // a slow answer is no silence
      const channel = uniqueChannel()
      await l.listen(channel)
      const heard = collect(l.notifications())
      const stream = await sender(channel)
      await sleep(500)
      const reconnected = new Promise((resolve) => l.on('reconnected', resolve))
      proxy.blackhole()
      proxy.restore()
      await reconnected
      await sleep(100)
      await stream.stop()
      const last = stream.sent.length
      await eventually(() => heard.items.some((i) => i.type !== 'Gap' && Number(i.payload) === last))
      const gaps = expectCovered(heard.items, stream.sent)
      expect(gaps).toHaveLength(1)
      const heardCount = heard.items.length - 1
      expect(heardCount).toBeLessThan(last) // the silence did lose some: the check above had work to do
    } finally {
      await proxy.close()
    }
  })
})

describe('5b. the Gap comes before what the new connection heard while it LISTENed again', () => {
  /** A server whose first connection hangs up after the LISTEN, and whose second sends a notification before answering the re-LISTEN. */
  async function reconnectingServer() {
    return scriptedListenerServer({
      before: (index, sql) => (index === 1 && sql.startsWith('LISTEN') ? [backend.notificationResponse(2000, 'ch', 'heard on the new connection')] : []),
      hangUpAfter: (index, sql) => index === 0 && sql.startsWith('LISTEN'),
    })
  }
  const options = (port: number) => ({ host: '127.0.0.1', port, user: 'u', database: 'd', sslmode: 'disable' as const, env: {}, passfile: '/nonexistent/pglisten-test-pgpass', poolerCheck: false as const, heartbeat: false as const, reconnect: { minDelay: 10, maxDelay: 20 } })

  test('to iterators and to handlers alike', async () => {
    const server = await reconnectingServer()
    const l = new Listener(options(server.port))
    try {
      const iterator = l.notifications()
      const heard: string[] = []
      l.on('notification', (n) => void heard.push(n.payload))
      l.on('gap', () => void heard.push('Gap'))
      await l.start()
      await l.listen('ch')
      await eventually(() => heard.length >= 2)
      expect(heard).toEqual(['Gap', 'heard on the new connection'])
      const first = (await iterator.next()).value as ListenerItem
      const second = (await iterator.next()).value as ListenerItem
      expect([first.type, second.type === 'Gap' ? 'Gap' : second.payload]).toEqual(['Gap', 'heard on the new connection'])
      expect(server.queries[1]).toEqual(['LISTEN "ch"'])
    } finally {
      await l.close()
      await server.close()
    }
  })

  test('a handler that closes the listener on the reconnect: nothing more happens, nothing outlives close()', async () => {
    const server = await reconnectingServer()
    const l = new Listener({ ...options(server.port), heartbeat: { interval: 20 } })
    const events: string[] = []
    let closing: Promise<void> | undefined
    l.on('reconnected', () => void (closing = l.close()))
    l.on('notification', () => void events.push('notification'))
    l.on('connected', () => void events.push('connected'))
    await l.start()
    await l.listen('ch')
    await eventually(() => closing !== undefined)
    await closing
    await sleep(200)
    expect(events).toEqual(['connected', 'connected'])
    expect(l.stats.state).toBe('closed')
    expect(server.queries[1]).toEqual(['LISTEN "ch"']) // no heartbeat went out after close()
    await server.close()
  })
})

describe('6. giving up is never silent', () => {
  test('with reconnect: false, iterators and feeds end by throwing the ListenerError, and later calls reject with it', async () => {
    const l = await listener({ reconnect: false })
    const channel = uniqueChannel()
    await l.listen(channel)
    const iterator = l.notifications()
    const feed = changes(l, 'public.pglisten_give_up', { install: false })
    await feed.ready
    await l.notify(channel, 'queued')
    await eventually(() => l.stats.notifications === 1)
    await terminate(l.processId)
    expect((await iterator.next()).value).toMatchObject({ payload: 'queued' })
    const error = await iterator.next().then(() => undefined, (e: unknown) => e)
    expect(error).toBeInstanceOf(ListenerError)
    expect((error as Error).message).toMatch(/reconnect is off/)
    await expect(feed.next()).rejects.toBe(error)
    await expect(l.listen('another')).rejects.toBe(error)
    await expect(l.notifications().next()).rejects.toBe(error)
    expect(l.stats.state).toBe('closed')
  })

  test('what was held for a consumer that had not come yet is still given to it, then the error', async () => {
    const l = await listener({ reconnect: false })
    const channel = uniqueChannel()
    await l.listen(channel)
    await l.notify(channel, 'held')
    await eventually(() => l.stats.notifications === 1)
    const closed = new Promise((resolve) => l.on('error', resolve))
    await terminate(l.processId)
    await closed
    const late = l.notifications()
    expect((await late.next()).value).toMatchObject({ payload: 'held' })
    await expect(late.next()).rejects.toThrow(/reconnect is off/)
  })

  test.each(['unlisten', 'unlistenAll'] as const)('%s() after giving up rejects with the ListenerError and changes nothing: what was held still goes to the first iterator made then', async (how) => {
    const l = await listener({ reconnect: false })
    const channel = uniqueChannel()
    await l.listen(channel)
    await l.notify(channel, 'held')
    await eventually(() => l.stats.notifications === 1)
    const gaveUp = new Promise((resolve) => l.on('error', resolve))
    await terminate(l.processId)
    const error = await gaveUp
    await expect(how === 'unlisten' ? l.unlisten(channel) : l.unlistenAll()).rejects.toBe(error)
    expect(l.channels).toEqual(new Set([channel]))
    const late = l.notifications()
    expect((await late.next()).value).toMatchObject({ payload: 'held' }) // before the fix: dropped by the call that rejected
    await expect(late.next()).rejects.toBe(error)
  })

  test('a listen() waiting when close() comes rejects with a ListenerError', async () => {
    const l = await listener({ highWaterMark: 10, poolerCheck: false })
    const channel = uniqueChannel()
    await l.listen(channel)
    await flood(channel, 20_000) // nobody reads: the next LISTEN's answer waits behind this
    const waiting = l.listen(uniqueChannel()).then(() => undefined, (e: unknown) => e)
    await sleep(50)
    await l.close()
    expect(await waiting).toBeInstanceOf(ListenerError)
  })

  test('after maxAttempts, the same', async () => {
    const base = listenerOptions()
    const proxy = await startFaultProxy(base.host as string, base.port as number)
    const l = await listener({ host: '127.0.0.1', port: proxy.port, reconnect: { minDelay: 10, maxDelay: 20, maxAttempts: 2 } })
    await l.listen(uniqueChannel())
    const iterator = l.notifications()
    await proxy.close() // refuses from now on
    await terminate(l.processId)
    await expect(iterator.next()).rejects.toThrow(/gave up after 2 attempts/)
  })
})

describe('7. an abandoned iterator stalls nobody for long, and is told', () => {
  test('it is cut off after stallTimeout, named in a ConsumerStalledError; the live consumer gets everything; the abandoned one gets a Gap when it reads again', async () => {
    const l = await listener({ highWaterMark: 50, lowWaterMark: 10, stallTimeout: 300 })
    const channel = uniqueChannel()
    await l.listen(channel)
    const errors: Error[] = []
    l.on('error', (e) => void errors.push(e))
    const abandoned = l.notifications({ channels: [channel] })
    const live = collect(l.notifications())
    await flood(channel, 1000)
    await eventually(() => live.items.length === 1000 && errors.length > 0, 10_000)
    await sleep(50)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toBeInstanceOf(ConsumerStalledError)
    expect((errors[0] as ConsumerStalledError).consumer).toMatch(/^iterator #\d+ on "test /)
    expect(l.stats.stalls).toBe(1)
    const back: ListenerItem[] = []
    for (let i = 0; i < 51; i++) back.push((await abandoned.next()).value as ListenerItem)
    expect(back.slice(0, 50).map((n) => (n as Notification).payload)).toEqual(Array.from({ length: 50 }, (_, i) => String(i + 1)))
    expect(back[50]).toMatchObject({ type: 'Gap', cause: errors[0] })
    await l.notify(channel, 'after')
    expect((await abandoned.next()).value).toMatchObject({ payload: 'after' })
  })
})

describe('7b. async handlers that never settle lose nobody anything, and are told of at every stall', () => {
  test('the iterator gets everything; each stall is a ConsumerStalledError naming the handlers; what is pending stays under highWaterMark', async () => {
    const l = await listener({ highWaterMark: 4, lowWaterMark: 0, stallTimeout: 100 })
    const channel = uniqueChannel()
    await l.listen(channel)
    const errors: Error[] = []
    l.on('error', (e) => void errors.push(e))
    l.on('notification', () => new Promise(() => {})) // never settles
    const live = collect(l.notifications())
    await flood(channel, 20)
    await eventually(() => live.items.length === 20, 20_000)
    expect(live.items.map((n) => (n as Notification).payload)).toEqual(Array.from({ length: 20 }, (_, i) => String(i + 1)))
    expect(errors.length).toBeGreaterThanOrEqual(4) // one per 4 notifications: the price of handlers that never settle
    expect(new Set(errors.map((e) => (e as ConsumerStalledError).consumer))).toEqual(new Set(["'notification' handlers"]))
    expect(l.stats.stalls).toBe(errors.length)
    expect(l.stats.maxBacklog).toBeLessThanOrEqual(4)
  })
})

describe('8. listen() inside a consumer loop while backlogged', () => {
  test('reads at most 4 × highWaterMark; a consumer that waits on it is cut off with a Gap rather than the backlog read into memory', async () => {
    const l = await listener({ highWaterMark: 100, lowWaterMark: 25, stallTimeout: 500 })
    const channel = uniqueChannel()
    await l.listen(channel)
    await flood(channel, 20_000)
    const items: ListenerItem[] = []
    for await (const item of l.notifications()) {
      items.push(item)
      if (items.length === 1) {
        await l.listen(uniqueChannel())
        await l.notify(channel, 'end')
      }
      if (item.type === 'Gap') await l.notify(channel, 'end') // the first was sent while it was cut off
      if (item.type !== 'Gap' && item.payload === 'end') break
    }
    expect(l.stats.maxBacklog).toBeLessThanOrEqual(400)
    let next = 1
    for (const item of items.slice(0, -1)) {
      if (item.type === 'Gap') {
        expect(item.cause).toBeInstanceOf(ConsumerStalledError)
        next = Infinity
        continue
      }
      if (next !== Infinity) expect(item.payload).toBe(String(next++))
    }
    const heard = items.filter((i) => i.type !== 'Gap').length - 1
    if (heard < 20_000) expect(items.some((i) => i.type === 'Gap')).toBe(true)
  })
})

describe('10. smaller faults', () => {
  test('close() during a reconnect attempt to a host that never answers aborts the attempt at once', async () => {
    const base = listenerOptions()
    const proxy = await startFaultProxy(base.host as string, base.port as number)
    try {
      const l = await listener({ ...fast, host: '127.0.0.1', port: proxy.port, heartbeat: false })
      await l.listen(uniqueChannel())
      l.on('disconnected', () => proxy.blackhole())
      await terminate(l.processId)
      await eventually(() => l.stats.state === 'reconnecting' && proxy.open >= 1)
      await l.close()
      await eventually(() => proxy.open === 0, 2000) // the attempt's socket is gone, not left to connect_timeout
    } finally {
      await proxy.close()
    }
  })

  test('the backlog never passes highWaterMark (not by a whole socket read)', async () => {
    const l = await listener({ highWaterMark: 16, lowWaterMark: 4, poolerCheck: false })
    const channel = uniqueChannel()
    await l.listen(channel)
    let expected = 1
    const iterator = l.notifications()
    await flood(channel, 5000)
    for await (const item of iterator) {
      expect(item).toMatchObject({ payload: String(expected) })
      if (expected % 100 === 0) await sleep(1)
      if (++expected > 5000) break
    }
    expect(l.stats.maxBacklog).toBe(16)
  })

  test('two start() calls at once make one connection', async () => {
    const name = `pglisten-start-${Math.random().toString(36).slice(2)}`
    const l = new Listener(listenerOptions({ applicationName: name }))
    try {
      await Promise.all([l.start(), l.start()])
      const admin = await connectSuperuser()
      const [result] = await admin.query(`SELECT count(*) FROM pg_stat_activity WHERE application_name = '${name}'`)
      await admin.close()
      expect(result!.rows).toEqual([['1']])
    } finally {
      await l.close()
    }
  })

  test("an iterator that ends another way removes its signal's abort listener", async () => {
    const l = await listener()
    const controller = new AbortController()
    const iterator = l.notifications({ signal: controller.signal })
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1)
    await iterator.return!()
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
  })

  test('events say what happened, in order', async () => {
    const l = await listener(fast)
    await l.listen(uniqueChannel())
    const names: string[] = []
    for (const name of ['disconnected', 'connected', 'reconnected', 'gap'] as (keyof ListenerEvents)[]) l.on(name, () => void names.push(name))
    await terminate(l.processId)
    await eventually(() => names.length === 4)
    expect(names).toEqual(['disconnected', 'connected', 'reconnected', 'gap'])
  })
})
