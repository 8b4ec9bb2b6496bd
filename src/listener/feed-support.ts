/**
 * What a listener gives change feeds (pglisten/changes) and the outbox (pglisten/outbox): their
 * LISTEN and release, connections of their own for the triggers' SQL, and close()'s wait for
 * the removals they asked for. Not API: they reach it through parts.ts, and only they import
 * this file, so a listener without them does not carry it. Imports the protocol's connect(), the
 * listener's attempt bounds and connection options, parts.ts's key, and the feeds' and outbox's types.
 */
import { ConnectionLostError } from '../protocol/errors.ts'
import { connect } from '../protocol/io/connect.ts'
import type { Connection } from '../protocol/io/connection.ts'
import { bounded } from './attempt.ts'
import { attemptPlan } from './connect-options.ts'
import { ListenerError } from './errors.ts'
import type { FeedSource } from './feeds.ts'
import type { ListenerOptions, NotificationsOptions } from './listener-types.ts'
import type { OutboxSource } from './outbox.ts'
import { listenerParts, type ListenerParts } from './parts.ts'
import type { ListenerItem } from './subscription.ts'

/** How long close() waits for feeds' triggers to be removed (removeOnClose), in ms. */
export const removalTimeout = 5_000

/** What the listener lends its feeds and outboxes: functions, handed on and called unbound. */
export interface FeedHost {
  options: ListenerOptions
  /** An iterator, as Listener.notifications() makes, that is no consumer of the user's: it takes nothing held for them. */
  notifications(options: NotificationsOptions): AsyncIterableIterator<ListenerItem>
  /** LISTEN on a feed's channel: counted, and kept out of the listener's channels and other consumers. */
  listen(channel: string): Promise<void>
  /** A feed ended: UNLISTEN its channel unless another feed or the user still listens on it. */
  release(channel: string): void
  /** close() has been called. */
  closing(): boolean
  /** Aborted by close(): an install under way stops. */
  stopped: AbortSignal
  /** close() was called, and not because the listener gave up: feeds and outboxes then end, not fail. */
  closed(): boolean
  /** To the listener's 'error' handlers. */
  reportError(error: Error, source: string): void
}

/**
 * The FeedSupport of `listener`, made the first time a feed or an outbox asks and then kept by
 * the listener for close(); a TypeError if `listener` is not a pglisten Listener.
 */
export function supportOf(listener: unknown, caller: string): FeedSupport {
  const parts = (listener as { [listenerParts]?: () => ListenerParts } | null)?.[listenerParts]
  if (typeof parts !== 'function') throw new TypeError(`${caller} takes a Listener (from createListener() or new Listener()) as its first argument`)
  return parts.call(listener).support((host) => new FeedSupport(host))
}

export class FeedSupport {
  readonly #host: FeedHost
  /** What feeds asked close() to do: remove their triggers (removeOnClose). */
  readonly #cleanups = new Set<() => Promise<void>>()
  /** Aborted when close() has waited removalTimeout for those removals. */
  readonly #removals = new AbortController()

  constructor(host: FeedHost) {
    this.#host = host
  }

  /** What a change feed needs of the listener: its own iterator, LISTEN, connections for its SQL, and a say in close(). */
  feedSource(): FeedSource {
    const host = this.#host
    return {
      notifications: host.notifications,
      listen: host.listen,
      release: host.release,
      closed: host.closed,
      install: (work) => {
        if (host.closing()) return Promise.reject(new ListenerError('the listener is closed'))
        return this.#ownConnection(host.stopped, work)
      },
      remove: (work) => this.#ownConnection(this.#removals.signal, work),
      onClose: (cleanup) => {
        if (host.closing()) return false
        const reported = () =>
          cleanup().catch((error: unknown) => {
            host.reportError(new ListenerError(`a change feed's trigger may still be installed: ${String((error as Error)?.message ?? error)}`, { cause: error }), 'feed removal')
          })
        this.#cleanups.add(reported)
        return () => this.#cleanups.delete(reported)
      },
    }
  }

  /** What an outbox needs of the listener: LISTEN as a feed's, its wake-ups, and the 'error' handlers. */
  outboxSource(): OutboxSource {
    const host = this.#host
    return {
      // Its channel is counted as a feed's is: hidden from other consumers (never held for
      // them), UNLISTENed when the last outbox or feed on it ends, untouched by unlistenAll().
      listen: host.listen,
      release: host.release,
      closed: host.closed,
      wakeUps: (channel, signal) => host.notifications({ channels: [channel], signal }),
      reportError: (error) => host.reportError(error, 'outbox read'),
    }
  }

  /** For close(): the feeds' removals, each on a connection of its own, get removalTimeout; then they are cut. */
  async removeAll(): Promise<void> {
    const removals = Promise.all([...this.#cleanups].map((cleanup) => cleanup()))
    const deadline = setTimeout(() => this.#removals.abort(new ListenerError(`close() waited ${removalTimeout} ms for the removals`)), removalTimeout)
    deadline.unref?.()
    await removals.finally(() => clearTimeout(deadline))
  }

  /**
   * Runs `work` (an install or a removal: a transaction of its own) on a connection of its own,
   * never the notifier's, where notify() and query() would land inside its transaction. The
   * connection is bounded as a reconnect attempt is, and aborted when `signal` is.
   */
  async #ownConnection<T>(signal: AbortSignal, work: (connection: Connection) => Promise<T>): Promise<T> {
    const options = this.#host.options
    const plan = await attemptPlan(options)
    const connection = await bounded(signal, plan.timeout, (bound) => connect({ ...plan.connect, signal: bound }))
    // Why: the listener closed, or close() waited its removalTimeout.
    const stop = () => connection.abort(new ConnectionLostError(String((signal.reason as Error | undefined)?.message ?? 'the listener closed'), { cause: signal.reason }))
    signal.addEventListener('abort', stop, { once: true })
    try {
      if (signal.aborted) stop()
      return await work(connection)
    } finally {
      signal.removeEventListener('abort', stop)
      await connection.close()
    }
  }
}
