/**
 * pglisten for Cloudflare Workers (the "workerd" export condition): the listener and the
 * protocol layer's connection and errors, as src/index.ts has them, with the Workers Platform
 * bound (cloudflare:sockets; no node: import anywhere below). What a Worker cannot do is
 * refused with a typed error: see protocol/io/workers-platform.ts.
 */
import { Listener as PortableListener, type ListenerOptions } from './listener/index.ts'
import { workersPlatform } from './protocol/workers.ts'

export * from './front.ts'
export { connect, workersPlatform } from './protocol/workers.ts'

/**
 * The listener (listener/listener.ts) over cloudflare:sockets. A socket belongs to the request
 * that opened it: create, use and close a listener within one request (or one Durable Object).
 */
export class Listener extends PortableListener {
  constructor(options: ListenerOptions = {}) {
    // Not an object: left as it is, for the listener's check to refuse (spread, 5 would be {}).
    super(typeof options === 'object' && options !== null ? { ...options, platform: options.platform ?? workersPlatform } : options)
  }
}

/** Connects, and resolves once the listener is ready. Register handlers first with `new Listener()` and start(). */
export async function createListener(options: ListenerOptions = {}): Promise<Listener> {
  const listener = new Listener(options)
  await listener.start()
  return listener
}
