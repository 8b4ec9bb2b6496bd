/**
 * The Node clients under test, each used the way its documentation shows for listening:
 * connect without TLS, LISTEN on one channel, and hand every payload to `onPayload`. Each
 * driver resolves once the server has acknowledged LISTEN. Imports pglisten's source, pg and
 * postgres (dev dependencies of the benchmark only); a child process loads exactly one driver.
 */
import type { ClientName, ServerAddress } from './workloads.ts'

export type OnPayload = (payload: string) => void
type Driver = (server: ServerAddress, channel: string, onPayload: OnPayload) => Promise<void>

export const drivers: Record<Exclude<ClientName, 'libpq'>, Driver> = {
  /** listener.on('notification'): a handler called from the socket's data event. */
  async pglisten(server, channel, onPayload) {
    const { createListener } = await import('../../src/index.ts')
    const listener = await createListener({ ...server, sslmode: 'disable' })
    listener.on('error', (error) => process.stderr.write(`pglisten: ${error.message}\n`))
    listener.on('notification', (n) => onPayload(n.payload))
    await listener.listen(channel)
  },

  /** for await (... of listener.notifications()): the loop the README leads with. */
  async 'pglisten-iter'(server, channel, onPayload) {
    const { createListener } = await import('../../src/index.ts')
    const listener = await createListener({ ...server, sslmode: 'disable' })
    listener.on('error', (error) => process.stderr.write(`pglisten: ${error.message}\n`))
    const items = listener.notifications({ gaps: false })
    void (async () => {
      for await (const item of items) if (item.type === 'NotificationResponse') onPayload(item.payload)
    })()
    await listener.listen(channel)
  },

  /** pg.Client and its 'notification' event. */
  async pg(server, channel, onPayload) {
    const { default: pg } = await import('pg')
    const client = new pg.Client({ ...server, ssl: false })
    client.on('error', (error) => process.stderr.write(`pg: ${error.message}\n`))
    client.on('notification', (message) => onPayload(message.payload ?? ''))
    await client.connect()
    await client.query(`LISTEN "${channel}"`)
  },

  /** sql.listen(channel, fn): postgres.js opens a dedicated connection for it. */
  async 'postgres.js'(server, channel, onPayload) {
    const { default: postgres } = await import('postgres')
    const { user, password, ...rest } = server
    const sql = postgres({ ...rest, username: user, ...(password !== undefined ? { password } : {}), ssl: false, onnotice: () => {} })
    await sql.listen(channel, onPayload)
  },
}
