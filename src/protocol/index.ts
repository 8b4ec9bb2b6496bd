/**
 * pglisten/protocol for Node, Bun and Deno: the runtime-neutral protocol layer (portable.ts)
 * with Node's Platform bound, so connect() opens node:net sockets. The "workerd" export
 * condition resolves to workers.ts instead. Never imports the listener.
 */
import type { Connection } from './io/connection.ts'
import { connectWith, type ConnectOptions } from './io/connect.ts'
import { nodePlatform } from './io/node-platform.ts'

export * from './portable.ts'
export { nodePlatform }

/** Opens a connection as libpq would (io/connect.ts), over Node's sockets. */
export function connect(options: ConnectOptions | string = {}): Promise<Connection> {
  return connectWith(nodePlatform, options)
}
