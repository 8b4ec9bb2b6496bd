/**
 * Calls on the notifier connection made together, against the real server: they take turns on
 * it, so a call whose signal drops the connection (its own, or the one it waits for), or whose
 * result is too large to read, never fails a call that was waiting for its turn: that one has
 * sent nothing yet, and goes on over a new connection.
 */
import { describe, expect, test } from 'vitest'
import { ConnectionLostError, ProtocolViolationError } from '../../src/protocol/errors.ts'
import type { Connection } from '../../src/protocol/io/connection.ts'
import { connectSuperuser, eventually } from '../support/connect.ts'
import { listener } from '../support/listener.ts'

/** What backend `pid` waits for (pg_stat_activity.wait_event), or undefined if it is not running a query. */
async function waitEvent(admin: Connection, pid: number): Promise<string | undefined> {
  const [result] = await admin.query(`SELECT wait_event FROM pg_stat_activity WHERE pid = ${pid} AND state = 'active'`)
  return result!.rows[0]?.[0] ?? undefined
}

const lockKey = () => 700_000 + Math.floor(Math.random() * 100_000)

describe('calls on the notifier made together', () => {
  test("a call waiting behind one whose signal aborts is not failed with the other's abort: it runs on a new connection", async () => {
    const l = await listener()
    const admin = await connectSuperuser()
    const key = lockKey()
    try {
      const first = Number((await l.query('SELECT pg_backend_pid()'))[0]!.rows[0]![0])
      await admin.query(`SELECT pg_advisory_lock(${key})`)
      const controller = new AbortController()
      // Holds the notifier connection until the lock is released or its signal aborts.
      const holding = l.query(`SELECT pg_advisory_lock(${key})`, { signal: controller.signal })
      const waiting = l.query('SELECT pg_backend_pid()')
      await eventually(async () => (await waitEvent(admin, first)) === 'advisory', 10_000)
      controller.abort(new Error('given up by its caller'))
      await expect(holding).rejects.toBeInstanceOf(ConnectionLostError)
      const [result] = await waiting
      expect(Number(result!.rows[0]![0])).not.toBe(first) // not sent on the dropped connection
    } finally {
      await admin.query(`SELECT pg_advisory_unlock_all()`)
      await admin.close()
    }
  })

  test('a call whose signal aborts while it waits for its turn drops the connection under the call before it (it may have gone silent), and the call after it goes on over a new one', async () => {
    const l = await listener()
    const admin = await connectSuperuser()
    const key = lockKey()
    try {
      const first = Number((await l.query('SELECT pg_backend_pid()'))[0]!.rows[0]![0])
      await admin.query(`SELECT pg_advisory_lock(${key})`)
      const holding = l.query(`SELECT pg_advisory_lock(${key})`)
      holding.catch(() => undefined) // heard below, once the others have settled
      const controller = new AbortController()
      const aborting = l.query('SELECT 1', { signal: controller.signal })
      const after = l.query('SELECT pg_backend_pid()')
      await eventually(async () => (await waitEvent(admin, first)) === 'advisory', 10_000)
      controller.abort(new Error('given up by its caller'))
      await expect(aborting).rejects.toBeInstanceOf(ConnectionLostError)
      await expect(holding).rejects.toBeInstanceOf(ConnectionLostError)
      const [result] = await after
      expect(Number(result!.rows[0]![0])).not.toBe(first)
    } finally {
      await admin.query(`SELECT pg_advisory_unlock_all()`)
      await admin.close()
    }
  })

  test('a call waiting behind one whose result is too large to read (a protocol error closes the connection) goes on over a new connection', async () => {
    const l = await listener()
    const first = Number((await l.query('SELECT pg_backend_pid()'))[0]!.rows[0]![0])
    // One DataRow past the 64 MiB a message may have (src/protocol/framer.ts): refused from its header.
    const huge = l.query(`SELECT repeat('x', ${64 * 1024 * 1024 + 1})`)
    const waiting = l.query('SELECT pg_backend_pid()')
    await expect(huge).rejects.toBeInstanceOf(ProtocolViolationError)
    const [result] = await waiting
    expect(Number(result!.rows[0]![0])).not.toBe(first)
  })
})
