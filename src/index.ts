/**
 * pglisten: a PostgreSQL LISTEN/NOTIFY client written from the wire protocol up.
 * The package's front door for Node, Bun and Deno: the listener, and the protocol layer's
 * connection and errors (the whole protocol layer is also available as 'pglisten/protocol'),
 * with Node's Platform bound. The "workerd" export condition resolves to workers.ts instead.
 */
import { Listener as PortableListener, type ListenerOptions } from './listener/index.ts'
import { nodePlatform } from './protocol/node.ts'

export * from './front.ts'
export { connect, nodePlatform } from './protocol/node.ts'

/** The listener (listener/listener.ts), connecting over Node's sockets unless the options name another platform. */
export class Listener extends PortableListener {
  constructor(options: ListenerOptions = {}) {
    // Not an object: left as it is, for the listener's check to refuse (spread, 5 would be {}).
    super(typeof options === 'object' && options !== null ? { ...options, platform: options.platform ?? nodePlatform } : options)
  }
}

/** Connects, and resolves once the listener is ready. Register handlers first with `new Listener()` and start(). */
export async function createListener(options: ListenerOptions = {}): Promise<Listener> {
  const listener = new Listener(options)
  await listener.start()
  return listener
}
