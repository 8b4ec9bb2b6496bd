/**
 * Connection.pause() at a message boundary, bytesReceived and isClosed, against the real
 * PostgreSQL the harness started. One read can hold thousands of NotificationResponses: a
 * pause asked for by a handler must hold back the rest of that read too.
 */
import { afterEach, describe, expect, test } from 'vitest'
import { ConnectionLostError } from '../../src/protocol/errors.ts'
import type { Connection } from '../../src/protocol/io/connection.ts'
import { connectSuperuser, eventually } from '../support/connect.ts'
import { uniqueChannel } from '../support/listener.ts'

const open: Connection[] = []
async function track(connection: Promise<Connection>): Promise<Connection> {
  const c = await connection
  open.push(c)
  return c
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()))
})

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const numbers = (count: number) => Array.from({ length: count }, (_, i) => String(i + 1))

describe('pausing at a message boundary', () => {
  // Plain TCP reads into one reused buffer (io/node-link.ts); TLS hands on its own records.
  test.each([['plain TCP', { sslmode: 'disable' as const }], ['TLS', {}]])(
    'over %s, a handler that pauses at the 10th of 5,000 notifications sent in one transaction gets exactly 10; resume() delivers all 5,000 in order',
    async (_, route) => {
      const heard: string[] = []
      const listener: Connection = await track(connectSuperuser({
        ...route,
        onNotification: (n) => {
          heard.push(n.payload)
          if (heard.length === 10) listener.pause()
        },
      }))
      const other = await track(connectSuperuser())
      const channel = uniqueChannel('flood') // other files' NOTIFYs on a shared name would land here too
      await listener.query(`LISTEN "${channel}"`)
      await other.query(`SELECT pg_notify('${channel}', g::text) FROM generate_series(1, 5000) g`)
      await eventually(() => heard.length >= 10)
      await wait(300)
      expect(heard).toHaveLength(10)
      listener.resume()
      await eventually(() => heard.length >= 5000)
      expect(heard).toEqual(numbers(5000))
      // Paused and resumed, the connection still answers queries.
      expect((await listener.query('SELECT 1'))[0]!.rows).toEqual([['1']])
    },
  )
})

describe('bytesReceived', () => {
  test('counts every byte read: startup, then each reply and notification to the byte', async () => {
    const listener = await track(connectSuperuser({ sslmode: 'disable' }))
    const other = await track(connectSuperuser())
    const afterStartup = listener.bytesReceived
    expect(afterStartup).toBeGreaterThan(0) // authentication, ParameterStatus, BackendKeyData, ReadyForQuery
    const channel = uniqueChannel('counted')
    await listener.query(`LISTEN "${channel}"`)
    const afterListen = listener.bytesReceived
    // CommandComplete "LISTEN" (12 bytes) and ReadyForQuery (6 bytes).
    expect(afterListen - afterStartup).toBe(18)
    // Distinct payloads: PostgreSQL folds identical notifications sent in one transaction.
    await other.query(`SELECT pg_notify('${channel}', lpad(g::text, 3, '0')) FROM generate_series(1, 100) g`)
    // Each NotificationResponse: 1 type + 4 length + 4 process ID + the channel and NUL + "001\0".
    const each = 1 + 4 + 4 + (channel.length + 1) + 4 // the channel is ASCII: a byte a character
    await eventually(() => listener.bytesReceived - afterListen >= 100 * each)
    expect(listener.bytesReceived - afterListen).toBe(100 * each)
  })
})

describe('isClosed', () => {
  test('false while open; true as soon as close() is called', async () => {
    const c = await connectSuperuser()
    expect(c.isClosed).toBe(false)
    const closing = c.close()
    expect(c.isClosed).toBe(true)
    await closing
    expect(c.isClosed).toBe(true)
  })

  test('true as soon as abort() is called', async () => {
    const c = await connectSuperuser()
    c.abort(new ConnectionLostError('heartbeat unanswered'))
    expect(c.isClosed).toBe(true)
    expect(await c.closed).toBeInstanceOf(ConnectionLostError)
  })

  test('true once the server ends the session', async () => {
    const victim = await connectSuperuser()
    const admin = await track(connectSuperuser())
    await admin.query(`SELECT pg_terminate_backend(${victim.processId})`)
    await victim.closed
    expect(victim.isClosed).toBe(true)
  })
})
