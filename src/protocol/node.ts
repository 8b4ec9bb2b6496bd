/**
 * connect() over Node's sockets (io/node-platform.ts, for Node, Bun and Deno): what pglisten
 * and pglisten/protocol export as connect. A module of its own so that pglisten can export it
 * without the rest of pglisten/protocol. Imports io/connect.ts and io/node-platform.ts only.
 */
import type { Connection } from './io/connection.ts'
import { connectWith, type ConnectOptions } from './io/connect.ts'
import { nodePlatform } from './io/node-platform.ts'

export { nodePlatform }

/** Opens a connection as libpq would (io/connect.ts), over Node's sockets. */
export function connect(options: ConnectOptions | string = {}): Promise<Connection> {
  return connectWith(nodePlatform, options)
}
