/**
 * pglisten/lite: the listener and a connection for bundles where every kilobyte counts, over
 * Node's sockets (Node, Bun, Deno). Settings as an object only, SCRAM without channel binding,
 * TLS checked by node:tls, a consumer that falls behind told by a Gap (README, "pglisten/lite").
 */
import { openLiteNodeLink } from './protocol/io/lite-node-link.ts'
import { connectLite, type LiteConnection, type LiteHandlers, type LiteOptions } from './protocol/lite.ts'
import { createLiteListener, type LiteListener, type LiteListenerOptions } from './listener/lite.ts'

export type { LiteConnection, LiteHandlers, LiteOptions, LiteListener, LiteListenerOptions }
export type { LiteEvents, LiteItem } from './listener/lite.ts'
export type { Gap } from './listener/subscription.ts'
export { ListenerError } from './listener/errors.ts'
export * from './protocol/errors.ts'

/** Connects, and resolves once the listener is ready; the first connection is not retried. */
export function createListener(options: LiteListenerOptions): Promise<LiteListener> {
  return createLiteListener(openLiteNodeLink, options)
}

/** One connection: queries, notifications to `handlers`. */
export function connect(options: LiteOptions, handlers?: LiteHandlers): Promise<LiteConnection> {
  return connectLite(openLiteNodeLink, options, handlers)
}
