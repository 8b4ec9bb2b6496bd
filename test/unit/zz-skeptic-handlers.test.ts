/** Skeptic review of 99a61b2: EventHub's #counting flag is hub-wide, so any settle re-enables counting. */
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { Delivery, type Watermarks } from '../../src/listener/delivery.ts'
import { EventHub } from '../../src/listener/events.ts'
import type { ListenerEvents } from '../../src/listener/listener-types.ts'
import { Subscription, type Notification } from '../../src/listener/subscription.ts'

const note = (payload: string, channel = 'a'): Notification => ({ type: 'NotificationResponse', processId: 1, channel, payload })

function setup(options: Watermarks, asyncErrorHandler: boolean, Hub: typeof EventHub = EventHub) {
  const errors: Error[] = []
  let delivery!: Delivery
  const events = new Hub<ListenerEvents>((e) => errors.push(e as Error), () => delivery.settled())
  // A very ordinary error handler: async (it logs somewhere and awaits it).
  if (asyncErrorHandler) events.on('error', async (e) => void errors.push(e))
  else events.on('error', (e) => void errors.push(e))
  delivery = new Delivery(events, options)
  delivery.listened = new Set(['a'])
  const reading: boolean[] = []
  delivery.attach((paused) => reading.push(!paused))
  const iterator = () => {
    const s = new Subscription({ onDrain: (sub) => delivery.drained(sub) })
    delivery.subscribe(s)
    return s
  }
  return { delivery, events, errors, reading, iterator }
}

describe('skeptic: never-settling handlers after their stall', () => {
  beforeEach(() => void vi.useFakeTimers())
  afterEach(() => void vi.useRealTimers())

  async function scenario(asyncErrorHandler: boolean, extraFastAsyncHandler: boolean) {
    const { delivery, events, errors, reading, iterator } = setup({ highWaterMark: 2, lowWaterMark: 0, stallTimeout: 1000 }, asyncErrorHandler)
    events.on('notification', () => new Promise(() => {})) // never settles
    if (extraFastAsyncHandler) events.on('notification', async () => {}) // settles at once
    const s = iterator()
    let delivered = 0
    // Deliver only while the socket is being read, as the real socket would; let time pass when paused.
    for (let step = 0; step < 200 && delivered < 20; step++) {
      if (reading.at(-1) ?? true) {
        delivery.deliver(note(String(++delivered)))
        await s.next()
      } else {
        await vi.advanceTimersByTimeAsync(1000)
      }
    }
    return { delivered, stalls: delivery.stats.stalls, errors, pauses: delivery.stats.pauses }
  }

  test('control (the commit\'s own case): sync error handler, one stuck handler: one stall', async () => {
    const r = await scenario(false, false)
    expect(r.delivered).toBe(20)
    expect(r.stalls).toBe(1)
  })

  test('an async error handler: the ConsumerStalledError handler\'s own promise re-enables counting', async () => {
    const r = await scenario(true, false)
    expect(r.delivered).toBe(20)
    expect(r.stalls).toBe(1) // expected, per README; actual: a stall every highWaterMark notifications
  })

  test('a stuck handler next to a fast async handler: the fast one\'s settle re-enables counting the stuck one\'s', async () => {
    const r = await scenario(false, true)
    expect(r.delivered).toBe(20)
    expect(r.stalls).toBe(1)
  })
})

describe('skeptic: merely slow handlers after their stall', () => {
  beforeEach(() => void vi.useFakeTimers())
  afterEach(() => void vi.useRealTimers())

  test.each([['99a61b2', EventHub], ['5c382e3 (before)', OldEventHub as unknown as typeof EventHub]] as const)('%s: a handler that takes 5 × stallTimeout per notification: unsettled promises outstanding vs highWaterMark', async (_name, Hub) => {
    const { delivery, events, reading, iterator } = setup({ highWaterMark: 4, lowWaterMark: 0, stallTimeout: 1000 }, false, Hub)
    let outstanding = 0
    let maxOutstanding = 0
    events.on('notification', () => {
      outstanding++
      maxOutstanding = Math.max(maxOutstanding, outstanding)
      return new Promise<void>((r) => setTimeout(() => { outstanding--; r() }, 5000))
    })
    const s = iterator()
    let delivered = 0
    // A flood: 1000 notifications per simulated second while the socket is read.
    for (let ms = 0; ms < 20_000; ms++) {
      if (reading.at(-1) ?? true) {
        delivery.deliver(note(String(++delivered)))
        await s.next()
      }
      await vi.advanceTimersByTimeAsync(1)
    }
    console.log({ delivered, maxOutstanding, stalls: delivery.stats.stalls, pending: events.pending })
    // Before the commit: 20 (highWaterMark per stallTimeout, times 5 s of handler time). After: the flood rate × 4 s.
    expect(maxOutstanding).toBeLessThanOrEqual(20)
  }, 60_000)
})

// The EventHub as it was at 5c382e3, for comparison.
/**
 * A small typed event hub. A handler that throws, or returns a promise that rejects, never
 * stops delivery to the other handlers nor escapes as an uncaught exception: the error goes to
 * `onError`. Promises handlers return are counted, so slow async handlers can apply
 * backpressure. Pure.
 */

class OldEventHub<Events extends object> {
  readonly #handlers: { [K in keyof Events]?: ((value: Events[K]) => unknown)[] } = {}
  #pending = 0
  /** Promises tracked before the last forgetPending() no longer count when they settle. */
  #generation = 0

  constructor(
    private readonly onError: (error: unknown, event: keyof Events) => void,
    private readonly onSettled: () => void = () => {},
  ) {}

  /** Promises returned by handlers, not yet settled. */
  get pending(): number {
    return this.#pending
  }

  on<K extends keyof Events>(event: K, handler: (value: Events[K]) => unknown): () => void {
    if (typeof handler !== 'function') throw new TypeError(`a handler for "${String(event)}" must be a function`)
    const list = this.handlers(event)
    list.push(handler)
    return () => {
      const at = list.indexOf(handler)
      if (at !== -1) list.splice(at, 1)
    }
  }

  /**
   * The live list of an event's handlers (always the same array), so a hot path can hold it and
   * check its length before emitting, instead of looking the event up for every message.
   */
  handlers<K extends keyof Events>(event: K): ((value: Events[K]) => unknown)[] {
    return (this.#handlers[event] ??= [])
  }

  has(event: keyof Events): boolean {
    return (this.#handlers[event]?.length ?? 0) > 0
  }

  emit<K extends keyof Events>(event: K, value: Events[K], list = this.#handlers[event]): void {
    if (!list || list.length === 0) return
    for (const handler of list.length === 1 ? list : [...list]) {
      try {
        const result = handler(value)
        if (result != null && typeof (result as PromiseLike<unknown>).then === 'function') this.#track(result as PromiseLike<unknown>, event)
      } catch (error) {
        this.#report(error, event)
      }
    }
  }

  /**
   * Stops counting the promises now pending (handlers that never settle must not hold
   * backpressure forever); their errors are still reported when they settle.
   */
  forgetPending(): void {
    this.#pending = 0
    this.#generation++
  }

  #track(promise: PromiseLike<unknown>, event: keyof Events): void {
    this.#pending++
    const generation = this.#generation
    promise.then(
      () => this.#settle(generation),
      (error: unknown) => {
        this.#settle(generation)
        this.#report(error, event)
      },
    )
  }

  #settle(generation: number): void {
    if (generation !== this.#generation) return
    this.#pending--
    this.onSettled()
  }

  #report(error: unknown, event: keyof Events): void {
    try {
      this.onError(error, event)
    } catch {
      // The error handler failed too; there is nobody left to tell.
    }
  }
}

describe('skeptic: handlerAdded() restarts the stall clock only when nothing is pending', () => {
  beforeEach(() => void vi.useFakeTimers())
  afterEach(() => void vi.useRealTimers())

  test('a handler added while a removed handler\'s promise is still pending is cut off before stallTimeout from its coming', async () => {
    const { delivery, events, errors } = setup({ highWaterMark: 2, lowWaterMark: 0, stallTimeout: 1000 }, false)
    const off = events.on('notification', () => new Promise(() => {})) // an earlier handler, since removed, left one promise
    delivery.handlerAdded()
    delivery.deliver(note('0'))
    off()
    delivery.deliver(note('1'))
    delivery.deliver(note('2')) // held, and the socket paused
    vi.advanceTimersByTime(900)
    events.on('notification', () => new Promise<void>(() => {}))
    delivery.handlerAdded() // takes the two
    vi.advanceTimersByTime(200) // 1100 ms after the pause, 200 ms after the handler came
    // Same expectation as delivery.test.ts 'a handler added while what is held pauses the socket is given stallTimeout from then'
    expect(errors).toEqual([])
  })
})
