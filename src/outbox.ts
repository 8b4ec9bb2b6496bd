/**
 * pglisten/outbox: exactly once on top of NOTIFY's at most once. `outbox(listener, options)`
 * reads an outbox table's events after the last cursor handled, woken by NOTIFY and by every
 * Gap (src/listener/outbox.ts). An entry of its own, so that a listener that reads no outbox
 * does not carry it. Runtime-neutral: it uses the listener it is given.
 */
import { Outbox } from './listener/outbox.ts'
import type { OutboxOptions } from './listener/outbox-options.ts'
import type { Listener } from './listener/listener.ts'
import { supportOf } from './listener/feed-support.ts'

export type { OutboxOptions }

/**
 * The events of an outbox table, each once and in cursor order, whatever happens to the
 * listener's connection: NOTIFY on `options.channel` only wakes the reader, and every Gap makes
 * it read again. A bad option is a RangeError here, at the call.
 */
export function outbox<E, C>(listener: Listener, options: OutboxOptions<E, C>): AsyncIterableIterator<E> {
  return new Outbox(supportOf(listener, 'outbox()').outboxSource(), options)
}
