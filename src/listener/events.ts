/**
 * A small typed event hub. A handler that throws, or returns a promise that rejects, never
 * stops delivery to the other handlers nor escapes as an uncaught exception: the error goes to
 * `onError`. Promises handlers return are counted, so slow async handlers can apply
 * backpressure. Pure.
 */

/**
 * One on(): the same function registered twice is two of these, called twice, each removed by
 * its own unsubscribe only. `removed` is set as it leaves its event's list, so an emit under way
 * skips it in O(1), as the DOM Standard's "inner invoke" skips a listener whose removed flag
 * "remove an event listener" set; a function re-added is a new registration.
 */
export interface Registration<Value> {
  readonly handler: (value: Value) => unknown
  removed: boolean
  /** The number of the last emit that called it (0: none): a held Gap's audience (holding.ts) tells by it who heard the Gap. */
  called: number
}

export class EventHub<Events extends object> {
  readonly #handlers: { [K in keyof Events]?: Registration<Events[K]>[] } = {}
  #pending = 0
  #emits = 0
  /** Promises tracked before the last forgetPending() no longer count when they settle. */
  #generation = 0

  constructor(
    private readonly onError: (error: unknown, event: keyof Events) => void,
    private readonly onSettled: () => void = () => {},
  ) {}

  /** How many emits have begun, of any event: each is numbered, the next one `emits + 1`. */
  get emits(): number {
    return this.#emits
  }

  /** Promises returned by handlers, not yet settled. */
  get pending(): number {
    return this.#pending
  }

  on<K extends keyof Events>(event: K, handler: (value: Events[K]) => unknown): () => void {
    if (typeof handler !== 'function') throw new TypeError(`a handler for "${String(event)}" must be a function`)
    const list = this.handlers(event)
    const registration: Registration<Events[K]> = { handler, removed: false, called: 0 }
    list.push(registration)
    return () => {
      if (registration.removed) return // called twice, or after clear(): it removes nobody else
      registration.removed = true
      list.splice(list.indexOf(registration), 1)
    }
  }

  /**
   * The live list of an event's registrations (always the same array), so a hot path can hold
   * it and check its length before emitting, instead of looking the event up for every message.
   */
  handlers<K extends keyof Events>(event: K): Registration<Events[K]>[] {
    return (this.#handlers[event] ??= [])
  }

  has(event: keyof Events): boolean {
    return (this.#handlers[event]?.length ?? 0) > 0
  }

  /**
   * Calls the handlers `list` holds as the event comes: one added by a handler hears the next
   * event, not this one (a held Gap's audience, holding.ts, counts on that); one that an
   * earlier handler removed (or close() forgot) is not called, even if re-added since: that is a
   * new registration, which hears the next event only. `list` may be a copy (the 'gap' handlers owed a held
   * Gap): the registrations' own flag says which were removed. With n handlers an emit costs
   * O(n), one copy and one look at each flag (looking each up in the live list cost O(n²)).
   */
  emit<K extends keyof Events>(event: K, value: Events[K], list = this.#handlers[event]): void {
    const number = ++this.#emits
    if (!list || list.length === 0) return
    // One handler, the hot path of a notification: no copy of the list to make.
    if (list.length === 1) {
      const only = list[0]!
      if (!only.removed) this.#call(only, value, event, number)
    } else for (const registration of list.slice()) if (!registration.removed) this.#call(registration, value, event, number)
  }

  /** Forgets the handlers of every event but `kept` (close()): one an emit under way has yet to call is not called. */
  clear(kept: keyof Events): void {
    for (const [event, list] of Object.entries(this.#handlers) as [string, Registration<unknown>[]][]) {
      if (event === kept) continue
      for (const registration of list) registration.removed = true
      list.length = 0
    }
  }

  #call<K extends keyof Events>(registration: Registration<Events[K]>, value: Events[K], event: K, number: number): void {
    registration.called = number
    try {
      const result = registration.handler(value)
      if (result != null && typeof (result as PromiseLike<unknown>).then === 'function') this.#track(result as PromiseLike<unknown>, event)
    } catch (error) {
      this.#report(error, event)
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

  /**
   * Counts a handler's thenable until it settles, once: a hand-made thenable is not a promise,
   * and its `then` may call back twice, or both ways, or throw (counted for ever, it would hold
   * backpressure; settled twice, the count would go below what is pending). What comes first
   * wins, as a promise's resolve functions do (ECMA-262, "CreateResolvingFunctions").
   */
  #track(promise: PromiseLike<unknown>, event: keyof Events): void {
    this.#pending++
    const generation = this.#generation
    let settled = false
    const settle = (failed: boolean, error?: unknown) => {
      if (settled) return
      settled = true
      this.#settle(generation)
      if (failed) this.#report(error, event)
    }
    try {
      promise.then(
        () => settle(false),
        (error: unknown) => settle(true, error),
      )
    } catch (error) {
      // As a promise would: later, not from inside the emit under way.
      queueMicrotask(() => settle(true, error))
    }
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
