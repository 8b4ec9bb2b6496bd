/**
 * What change feeds and the outbox build on inside a listener, reached through a symbol rather
 * than the listener's API: pglisten/changes and pglisten/outbox are functions that take a
 * listener, so that an application that uses neither does not carry them, nor the support they
 * share (feed-support.ts), which they bring and the listener only keeps (issue 13's size budget).
 * Imports types only.
 */
import type { FeedHost, FeedSupport } from './feed-support.ts'

/** The key of Listener's method that hands out its parts. */
export const listenerParts: unique symbol = Symbol('pglisten listener parts')

export interface ListenerParts {
  /** What the listener lends: its options, LISTEN and release, its iterators, close()'s state. */
  readonly host: FeedHost
  /**
   * The listener's one FeedSupport: made by `make` the first time a feed or an outbox asks,
   * then kept, so that close() waits for the removals every feed asked of it.
   */
  support(make: (host: FeedHost) => FeedSupport): FeedSupport
}
