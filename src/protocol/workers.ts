/**
 * pglisten/protocol for Cloudflare Workers (the "workerd" export condition): the runtime-neutral
 * protocol layer (portable.ts) with the Workers Platform bound. The only module that imports
 * cloudflare:sockets; nothing here imports node:. Never imports the listener.
 */
import { connect as connectSocket } from 'cloudflare:sockets'
import type { Connection } from './io/connection.ts'
import { connectWith, type ConnectOptions } from './io/connect.ts'
import { createWorkersPlatform } from './io/workers-platform.ts'

export * from './portable.ts'

/** Cloudflare Workers' sockets (io/workers-link.ts); what a Worker cannot do is refused, see io/workers-platform.ts. */
export const workersPlatform = /* @__PURE__ */ createWorkersPlatform(connectSocket)

/** Opens a connection as libpq would (io/connect.ts), over cloudflare:sockets. */
export function connect(options: ConnectOptions | string = {}): Promise<Connection> {
  return connectWith(workersPlatform, options)
}
