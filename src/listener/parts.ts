/**
 * What change feeds and the outbox build on inside a listener, reached through a symbol rather
 * than the listener's API: pglisten/changes and pglisten/outbox are functions that take a
 * listener, so that an application that uses neither does not carry them (issue 13's size
 * budget). Imports types only.
 */
import type { FeedSource } from './feeds.ts'
import type { OutboxSource } from './outbox.ts'

/** The key of Listener's method that hands out its parts. */
export const listenerParts: unique symbol = Symbol('pglisten listener parts')

export interface ListenerParts {
  feedSource(): FeedSource
  outboxSource(): OutboxSource
}

/** The parts of `listener`, or a TypeError if it is not a pglisten Listener. */
export function partsOf(listener: unknown, caller: string): ListenerParts {
  const parts = (listener as { [listenerParts]?: () => ListenerParts } | null)?.[listenerParts]
  if (typeof parts !== 'function') throw new TypeError(`${caller} takes a Listener (from createListener() or new Listener()) as its first argument`)
  return parts.call(listener)
}
