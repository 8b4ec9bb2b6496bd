/**
 * pglisten/lite for Cloudflare Workers (the "workerd" export condition): src/lite.ts's listener
 * and connection over cloudflare:sockets (io/workers-link.ts), no node: module anywhere below.
 * TLS is verified against the runtime's trust store whatever sslmode says: `ca` is refused
 * (AuthenticationRefusedError), as the full client's Workers build refuses sslrootcert.
 */
import { connect as connectSocket } from 'cloudflare:sockets'
import { openWorkersLink } from './protocol/io/workers-link.ts'
import { connectLite, type LiteConnection, type LiteHandlers, type LiteOpen, type LiteOptions } from './protocol/lite.ts'
import { createLiteListener, type LiteListener, type LiteListenerOptions } from './listener/lite.ts'

export type { LiteConnection, LiteHandlers, LiteOptions, LiteListener, LiteListenerOptions }
export type { LiteEvents, LiteItem } from './listener/lite.ts'
export type { Gap } from './listener/subscription.ts'
export { ListenerError } from './listener/errors.ts'
export * from './protocol/errors.ts'

const open: LiteOpen = (options, signal) => {
  const host = options.host ?? 'localhost'
  const mode = options.sslmode ?? 'verify-full'
  const tls = { mode, ...(options.ca !== undefined ? { ca: options.ca } : {}) }
  return openWorkersLink(connectSocket, { host, port: options.port ?? 5432 }, tls, mode !== 'disable', { signal })
}

/** Connects, and resolves once the listener is ready; the first connection is not retried. */
export function createListener(options: LiteListenerOptions): Promise<LiteListener> {
  return createLiteListener(open, options)
}

/** One connection: queries, notifications to `handlers`. */
export function connect(options: LiteOptions, handlers?: LiteHandlers): Promise<LiteConnection> {
  return connectLite(open, options, handlers)
}
