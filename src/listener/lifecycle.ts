/**
 * The listener's lifecycle as a table: its states, and the events that move between them.
 * Anything the table does not list is a bug in the listener and throws, as h11's _state.py
 * does, so "what happens if close() comes while reconnecting" is answered by reading one row.
 * Pure: imports nothing.
 */

export type ListenerState =
  /** Made, not started. */
  | 'idle'
  /** The first connection is being opened (start()). */
  | 'connecting'
  /** Connected, reading the socket. */
  | 'listening'
  /** Connected, not reading: a consumer is highWaterMark behind (backpressure). */
  | 'backlogged'
  /** The connection is gone; waiting before the next attempt. */
  | 'lost'
  /** An attempt to reconnect (connect, then LISTEN on every channel) is under way. */
  | 'reconnecting'
  /** close() was called, or the listener gave up. Final. */
  | 'closed'

export type LifecycleEvent =
  | 'start'
  | 'connected'
  | 'failed'
  | 'paused'
  | 'resumed'
  | 'lost'
  | 'attempt'
  | 'gaveUp'
  | 'close'

/**
 * Every allowed move. Notes on the ones that are not obvious:
 * - a failed first connection goes back to idle: start() rejects and may be called again
 *   (reconnecting begins only after one success, as libpq's callers expect);
 * - backpressure is independent of the connection: a new connection may be paused at once
 *   (consumers still behind), so `paused` follows `connected` immediately then;
 * - `close` is allowed from every state but closed; close() twice is a no-op, not an event.
 */
export const transitions: { readonly [S in ListenerState]: { readonly [E in LifecycleEvent]?: ListenerState } } = {
  idle: { start: 'connecting', close: 'closed' },
  connecting: { connected: 'listening', failed: 'idle', close: 'closed' },
  listening: { paused: 'backlogged', lost: 'lost', close: 'closed' },
  backlogged: { resumed: 'listening', lost: 'lost', close: 'closed' },
  lost: { attempt: 'reconnecting', gaveUp: 'closed', close: 'closed' },
  reconnecting: { connected: 'listening', failed: 'lost', close: 'closed' },
  closed: {},
}

/** The state after `event`, or undefined if the table does not allow it. */
export function nextState(state: ListenerState, event: LifecycleEvent): ListenerState | undefined {
  return transitions[state][event]
}

export class Lifecycle {
  #state: ListenerState = 'idle'

  constructor(private readonly onChange: (from: ListenerState, to: ListenerState, event: LifecycleEvent) => void = () => {}) {}

  get state(): ListenerState {
    return this.#state
  }

  /** Whether the listener holds a live connection. */
  get connected(): boolean {
    return this.#state === 'listening' || this.#state === 'backlogged'
  }

  can(event: LifecycleEvent): boolean {
    return nextState(this.#state, event) !== undefined
  }

  /** Moves on `event`; an event the table does not allow here is a bug, and throws. */
  to(event: LifecycleEvent): ListenerState {
    const from = this.#state
    const to = nextState(from, event)
    if (to === undefined) throw new Error(`pglisten bug: listener event "${event}" is not allowed in state "${from}"`)
    this.#state = to
    this.onChange(from, to, event)
    return to
  }
}
