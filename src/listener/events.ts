/**
 * A small typed event hub. A handler that throws, or returns a promise that rejects, never
 * stops delivery to the other handlers nor escapes as an uncaught exception: the error goes to
 * `onError`. Promises handlers return are counted, so slow async handlers can apply
 * backpressure. Pure.
 */

export class EventHub<Events extends object> {
  readonly #handlers: { [K in keyof Events]?: ((value: Events[K]) => unknown)[] } = {}
  #pending = 0
  /** Promises tracked before the last forgetPending() no longer count when they settle. */
  #generation = 0
  /** False from forgetPending() until one of the handlers' promises settles. */
  #counting = true

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
   * Stops counting the promises now pending, and those returned from now on until one of them
   * settles: handlers that never settle must not hold backpressure forever, nor again with
   * each new promise, as an iterator cut off holds nobody back until it reads again. Their
   * errors are still reported when they settle.
   */
  forgetPending(): void {
    this.#pending = 0
    this.#generation++
    this.#counting = false
  }

  #track(promise: PromiseLike<unknown>, event: keyof Events): void {
    const generation = this.#counting ? this.#generation : -1 // -1: never counted
    if (generation !== -1) this.#pending++
    const settle = () => {
      this.#counting = true // the handlers make progress again
      if (generation === this.#generation) {
        this.#pending--
        this.onSettled()
      }
    }
    promise.then(settle, (error: unknown) => {
      settle()
      this.#report(error, event)
    })
  }

  #report(error: unknown, event: keyof Events): void {
    try {
      this.onError(error, event)
    } catch {
      // The error handler failed too; there is nobody left to tell.
    }
  }
}
