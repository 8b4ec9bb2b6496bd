/**
 * A listener under test and everything recorded about it, for the model-based test
 * (test/integration/listener-model.test.ts): a listener behind a fault proxy, the notifications
 * sent to it from a connection of their own, the consumers reading it, and its events. Its
 * check() holds the record against the listener's promises (test/support/delivery-audit.ts).
 * Every wait here is bounded.
 */
import { ListenerError } from '../../src/listener/errors.ts'
import { Listener } from '../../src/index.ts'
import type { ListenerItem, Notification } from '../../src/listener/subscription.ts'
import { connect } from '../../src/protocol/index.ts'
import type { Connection } from '../../src/protocol/io/connection.ts'
import { connectSuperuser, server } from './connect.ts'
import { audit, iso, span, type ConsumerRecord, type Outage, type Phase, type Sent } from './delivery-audit.ts'
import { startFaultProxy, type FaultProxy } from './fault-proxy.ts'
import { listenerOptions } from './listener.ts'

export const highWaterMark = 20
/** Delivery's hard bound, even while a reply is awaited. */
export const maxBacklog = 4 * highWaterMark

/** How a consumer reads: an iterator read at once, slowly or not until the end, or 'notification' and 'gap' handlers. */
export type Kind = 'fast' | 'slow' | 'never' | 'handler'

export interface ConsumerSpec {
  kind: Kind
  /** Indexes into the channel pool; undefined: every channel. A handler takes every channel. */
  channels: number[] | undefined
}

export interface WorldOptions {
  /** false: the listener gives up at the first lost connection. */
  reconnect: boolean
  /** The proxy passes the server's bytes on in batches this many ms apart (0: at once). */
  coalesce: number
}

export interface Consumer extends ConsumerRecord {
  kind: Kind
  /** An iterator, or for a handler the removal of its two handlers. */
  reader: { iterator: AsyncIterableIterator<ListenerItem> } | { off: () => void }
  /** The read loop; a 'never' consumer gets one only at the end, a handler none. */
  reading: Promise<void> | undefined
  /** 'done', or what next() threw. */
  ending: unknown
}

const takes = (channels: ReadonlySet<string> | undefined, channel: string) => channels === undefined || channels.has(channel)

export const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** `promise`, or a rejection naming `what` if it has not settled after `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  promise.catch(() => undefined) // if the timeout wins, a late rejection is not unhandled
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms)))
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Polls `condition` until it holds (true) or `ms` pass (false). */
export async function holds(condition: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) return false
    await wait(10)
  }
  return true
}

export class World {
  readonly pool: string[]
  readonly sent: Sent[] = []
  readonly consumers: Consumer[] = []
  readonly outages: Outage[] = []
  readonly trace: string[] = []
  /** Reconnect off: a request sent after this was answered, so all committed before it reached the consumers. */
  confirmedAt = -Infinity
  closedByUs = false
  /** Backends this test terminated. */
  readonly terminated = new Set<number>()
  /** Every connection the listener dropped, and which backend it was on. */
  readonly drops: { at: number; processId: number | undefined; why: string }[] = []
  /** Stretches when this process did not run for over 100 ms: a heartbeat may rightly give up then. */
  readonly freezes: { from: number; to: number }[] = []
  /** For each channel listen() resolved on and unlisten() was not called since, a token for that stretch. */
  readonly #listening = new Map<string, object>()
  /** For each channel, how many listen() and unlisten() calls were made on it. */
  readonly #calls = new Map<string, number>()
  /**
   * For each channel whose consumers all stopped, or which was unlistened, the last sequence
   * number sent before: a later first consumer of it is owed only what comes after.
   */
  readonly #freedAfter = new Map<string, number>()
  /** Notifications go one at a time, so that they commit in the order they are numbered. */
  #sending: Promise<unknown> = Promise.resolve()
  #seq = 0
  #processId: number | undefined
  #disconnectedAt: Date | undefined
  #backlogPeak = 0
  #traffic: { stop: boolean; done: Promise<void> } | undefined
  readonly #sampler: ReturnType<typeof setInterval>

  private constructor(
    readonly options: WorldOptions,
    readonly proxy: FaultProxy,
    readonly listener: Listener,
    readonly notifier: Connection,
    readonly admin: Connection,
    readonly unhandled: readonly unknown[],
  ) {
    const tag = Math.random().toString(36).slice(2, 8)
    this.pool = ['a', 'b', 'c'].map((letter) => `model_${tag}_${letter}`)
    let tick = Date.now()
    this.#sampler = setInterval(() => {
      this.#backlogPeak = Math.max(this.#backlogPeak, listener.stats.backlog)
      const now = Date.now()
      if (now - tick > 100) this.freezes.push({ from: tick, to: now })
      tick = now
    }, 5)
    listener.on('connected', ({ processId }) => {
      this.#processId = processId
      this.log(`event connected ${processId}`)
    })
    listener.on('disconnected', ({ at, error }) => {
      this.#disconnectedAt = at
      this.drops.push({ at: at.getTime(), processId: this.#processId, why: error?.message ?? 'no error' })
      this.log(`event disconnected at ${iso(at)}: ${error?.message}`)
    })
    listener.on('reconnected', (gap) => {
      this.outages.push({ at: this.#disconnectedAt!, gap })
      this.log(`event reconnected, ${span(gap)}`)
    })
    listener.on('error', (error) => {
      this.log(`event error ${error.name}: ${error.message}`)
    })
  }

  /** A started listener behind a new fault proxy; `unhandled` collects unhandled rejections. */
  static async open(options: WorldOptions, unhandled: readonly unknown[]): Promise<World> {
    const pg = server()
    const proxy = await startFaultProxy(pg.host, pg.port)
    proxy.coalesce = options.coalesce
    const listener = new Listener(listenerOptions({
      port: proxy.port,
      connectTimeout: 5,
      highWaterMark,
      lowWaterMark: 5,
      stallTimeout: 300,
      heartbeat: { interval: 100, timeout: 400 }, // a server slow to answer on a loaded machine is no dead link (invariant 6)
      reconnect: options.reconnect ? { minDelay: 20, maxDelay: 200, attemptTimeout: 2000 } : false,
      poolerCheck: false,
    }))
    const notifier = await connect(listenerOptions())
    const admin = await connectSuperuser()
    const world = new World(options, proxy, listener, notifier, admin, unhandled)
    await within(listener.start(), 10_000, 'start()')
    return world
  }

  log(line: string): void {
    this.trace.push(`${iso(Date.now())} ${line}`)
  }

  /** The listener closed without our close(): it gave up reconnecting. */
  get gaveUp(): boolean {
    return !this.closedByUs && this.listener.stats.state === 'closed'
  }

  /**
   * listen() on the i-th channel; false if it rejected because the listener gave up. The
   * channel counts as listened on once it resolves, unless unlisten() was called after it (the
   * two reach the server in call order: the UNLISTEN came last).
   */
  listen(i: number): Promise<boolean> {
    const channel = this.pool[i]!
    const call = this.#call(channel)
    return this.#request(`listen(${channel})`, async () => {
      await this.listener.listen(channel)
      if (this.#calls.get(channel) === call && !this.#listening.has(channel)) this.#listening.set(channel, {})
    })
  }

  /** unlisten() on the i-th channel; false if it rejected because the listener gave up. */
  unlisten(i: number): Promise<boolean> {
    const channel = this.pool[i]!
    this.#call(channel)
    this.#listening.delete(channel) // from the call on, nothing sent on it is owed
    const calledAfter = this.#seq
    return this.#request(`unlisten(${channel})`, async () => {
      await this.listener.unlisten(channel)
      this.#freedAfter.set(channel, calledAfter) // what was held on it was dropped at the call (one that rejects drops nothing)
    })
  }

  /** Numbers the listen() and unlisten() calls on `channel`; returns this one's number. */
  #call(channel: string): number {
    const call = (this.#calls.get(channel) ?? 0) + 1
    this.#calls.set(channel, call)
    return call
  }

  async #request(what: string, call: () => Promise<void>): Promise<boolean> {
    const before = Date.now()
    try {
      await within(call(), 10_000, what)
      this.confirmedAt = Math.max(this.confirmedAt, before)
      return true
    } catch (error) {
      if (!(error instanceof ListenerError && this.gaveUp)) throw error
      this.log(`${what} rejected: the listener gave up`)
      return false
    }
  }

  /**
   * A consumer. On each channel it takes that no consumer took since listen() (or since the last
   * one of that channel stopped), it is owed what was held for it: everything sent since then.
   */
  consume(spec: ConsumerSpec): void {
    const channels = spec.kind === 'handler' ? undefined : spec.channels && new Set(spec.channels.map((i) => this.pool[i]!))
    const live = this.consumers.filter((c) => !c.stopped)
    const unconsumed = this.pool.filter((channel) => takes(channels, channel) && !live.some((other) => takes(other.channels, channel)))
    const consumer: Consumer = {
      name: `consumer ${this.consumers.length + 1} (${spec.kind}${channels ? ` on ${spec.channels!.map((i) => 'abc'[i]).join('')}` : ''})`,
      kind: spec.kind,
      channels,
      madeAfter: this.#seq,
      owedFrom: new Map(unconsumed.map((channel) => [channel, this.#freedAfter.get(channel) ?? 0])),
      stopped: false,
      items: [],
      reader: { off: () => undefined },
      reading: undefined,
      ending: undefined,
    }
    this.consumers.push(consumer)
    this.log(`made ${consumer.name} after #${this.#seq}`)
    if (spec.kind === 'handler') {
      // 'gap' first: a 'notification' handler takes what was held at once, its Gaps as 'gap' events.
      const offGap = this.listener.on('gap', (gap) => void consumer.items.push(gap))
      const offNotification = this.listener.on('notification', (notification) => void consumer.items.push(notification))
      consumer.reader = { off: () => (offNotification(), offGap()) }
      consumer.reading = Promise.resolve()
      consumer.ending = 'done'
      return
    }
    consumer.reader = { iterator: this.listener.notifications(channels ? { channels } : {}) }
    if (spec.kind !== 'never') this.read(consumer)
  }

  /**
   * Stops the i-th (modulo) consumer still consuming: return() on its iterator, or its handlers
   * removed. Its channels that no other consumer takes are held again from now on.
   */
  stop(i: number): void {
    const live = this.consumers.filter((c) => !c.stopped)
    const consumer = live[i % live.length]
    if (!consumer) return
    consumer.stopped = true
    this.log(`stopping ${consumer.name} after #${this.#seq}`)
    if ('off' in consumer.reader) consumer.reader.off()
    else void consumer.reader.iterator.return?.()
    for (const channel of this.pool) {
      if (takes(consumer.channels, channel) && !live.some((other) => other !== consumer && takes(other.channels, channel))) this.#freedAfter.set(channel, this.#seq)
    }
  }

  /** Reads `consumer` to its end, slowly if it is slow; records how it ended. */
  read(consumer: Consumer): void {
    if (!('iterator' in consumer.reader)) return
    const iterator = consumer.reader.iterator
    consumer.reading ??= (async () => {
      try {
        for (;;) {
          const result = await iterator.next()
          if (result.done) return void (consumer.ending = 'done')
          consumer.items.push(result.value)
          if (consumer.kind === 'slow') await wait(2)
        }
      } catch (error) {
        consumer.ending = error
      }
    })()
  }

  /** `count` notifications on the i-th channel, `pace` ms apart. */
  async notify(i: number, count: number, pace = 0): Promise<Sent[]> {
    const sent: Sent[] = []
    for (let k = 0; k < count; k++) {
      if (pace && k) await wait(pace)
      sent.push(await this.#send(this.pool[i]!))
    }
    return sent
  }

  /**
   * One NOTIFY in a transaction of its own, numbered and timed. Recorded as it is sent (the
   * listener may hear it before its answer comes back), owed only once answered, and only if
   * its channel was listened on all along.
   */
  #send(channel: string): Promise<Sent> {
    const sending = this.#sending.then(async () => {
      const stretch = this.#listening.get(channel)
      const record: Sent = { seq: ++this.#seq, channel, sentAt: Date.now(), repliedAt: Infinity, expected: false }
      this.sent.push(record)
      await this.notifier.query(`SELECT pg_notify('${channel}', '${record.seq}')`)
      record.repliedAt = Date.now()
      record.expected = stretch !== undefined && this.#listening.get(channel) === stretch
      return record
    })
    this.#sending = sending.catch(() => undefined)
    return sending
  }

  /** Background traffic: a notification every few ms on a channel listened on, until stopTraffic(). */
  startTraffic(): void {
    const traffic = { stop: false, done: Promise.resolve() }
    traffic.done = (async () => {
      for (let n = 0; !traffic.stop; n++) {
        const listened = [...this.#listening.keys()]
        if (listened.length) await this.#send(listened[n % listened.length]!)
        await wait(3)
      }
    })()
    this.#traffic = traffic
  }

  async stopTraffic(): Promise<void> {
    if (!this.#traffic) return
    this.#traffic.stop = true
    await within(this.#traffic.done, 5000, 'the background traffic stopping')
  }

  /** The highest sequence number `consumer` read on `channel`. */
  lastRead(consumer: Consumer, channel: string): number {
    let last = 0
    for (const item of consumer.items) if (item.type !== 'Gap' && item.channel === channel) last = Number((item as Notification).payload)
    return last
  }

  /** Every invariant that can be judged in `phase`; throws with the trace if one fails. */
  check(phase: Phase): void {
    const problems: string[] = []
    // 3. Backpressure bounds every queue by 4 × highWaterMark.
    const stats = this.listener.stats
    const peak = Math.max(this.#backlogPeak, stats.backlog, stats.maxBacklog)
    // The bound is on notifications; a queue at it may also hold Gap markers, which the backlog
    // counts as items: consecutive ones merge, but a reconnect's and a cut's with notifications
    // between them do not (what was held for a consumer yet to come: the reconnect's Gap, 80
    // notifications, the cut's Gap). So at most one per reconnect and stall, and one more.
    const gaps = 1 + stats.reconnects + stats.stalls
    if (peak > maxBacklog + gaps) problems.push(`a backlog of ${peak}, over 4 × highWaterMark = ${maxBacklog} notifications and ${gaps} Gaps`)
    // 1 and 2. Nothing lost without a Gap; a Gap before anything from a new connection.
    for (const consumer of this.consumers) {
      problems.push(...audit(consumer, this.sent, this.outages, phase, this.confirmedAt))
    }
    // 5. No unhandled rejection.
    for (const reason of this.unhandled) problems.push(`unhandled rejection: ${reason instanceof Error ? reason.stack : String(reason)}`)
    // 6. A connection is dropped only when it was harmed, or when this process froze long enough to look dead.
    for (const drop of this.drops) {
      const harmed = drop.processId !== undefined && (this.proxy.harmed(drop.processId) || this.terminated.has(drop.processId))
      const froze = this.freezes.some((f) => f.to >= drop.at - 1000 && f.from <= drop.at + 50)
      if (!harmed && !froze) problems.push(`the connection to backend ${drop.processId} was dropped at ${iso(drop.at)}, though nothing harmed it: ${drop.why}`)
    }
    if (problems.length) throw new Error(`${problems.join('\n')}\n${this.describe()}`)
  }

  /** The trace and what each consumer read, for a failure's message. */
  describe(): string {
    const read = this.consumers.map((c) => `${c.name}: ${c.items.map((i) => (i.type === 'Gap' ? `[${span(i)}]` : (i as Notification).payload)).join(' ')}`)
    return `--- trace (last 80) ---\n${this.trace.slice(-80).join('\n')}\n--- read ---\n${read.join('\n')}`
  }

  async dispose(): Promise<void> {
    clearInterval(this.#sampler)
    if (this.#traffic) this.#traffic.stop = true
    await within(this.listener.close(), 5000, 'close() in cleanup').catch(() => undefined)
    await this.#traffic?.done.catch(() => undefined)
    await Promise.all([this.proxy.close(), this.notifier.close(), this.admin.close()])
  }
}
