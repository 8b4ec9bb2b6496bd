/**
 * An error inside a transaction block on the notifier connection, against the real server:
 * PostgreSQL then refuses every command but the block's end (SQLSTATE 25P02), so a query()
 * that failed after its own BEGIN must not leave the connection that way for the calls after
 * it, notify() among them. The notifier rolls such a block back; the connection is kept. A
 * block an earlier call opened is left to its caller.
 */
import { describe, expect, test } from 'vitest'
import { DatabaseError } from '../../src/protocol/errors.ts'
import { listener, uniqueChannel } from '../support/listener.ts'
import { within } from '../support/listener-world.ts'

const pidOf = async (l: Awaited<ReturnType<typeof listener>>) => Number((await l.query('SELECT pg_backend_pid()'))[0]!.rows[0]![0])

describe('a failed transaction block on the notifier', () => {
  test('left by a query that failed after its BEGIN, it is rolled back: notify() and query() go on, on the same connection', async () => {
    const l = await listener()
    const channel = uniqueChannel()
    await l.listen(channel)
    const heard = l.notifications({ channels: [channel], gaps: false })
    const before = await pidOf(l)
    await expect(l.query('BEGIN; SELECT 1/0; COMMIT')).rejects.toBeInstanceOf(DatabaseError)
    await l.notify(channel, 'after the error')
    const item = await within(heard.next(), 10_000, 'the notification')
    expect(item.value).toMatchObject({ channel, payload: 'after the error' })
    await heard.return?.()
    expect(await pidOf(l)).toBe(before)
  })

  test("one an earlier call opened is its caller's: it stays failed, so the caller's next statement is refused, not run and committed outside it, and the caller's ROLLBACK ends it", async () => {
    const l = await listener()
    const table = `notifier_tx_${Math.random().toString(36).slice(2, 10)}`
    await l.query(`CREATE TEMP TABLE ${table} (id int)`)
    await l.query('BEGIN')
    await l.query(`INSERT INTO ${table} VALUES (1)`)
    await expect(l.query('SELECT 1/0')).rejects.toBeInstanceOf(DatabaseError)
    // Rolled back by the notifier, this would have run on its own, and committed.
    await expect(l.query(`INSERT INTO ${table} VALUES (2)`)).rejects.toMatchObject({ code: '25P02' })
    await l.query('ROLLBACK')
    const [result] = await l.query(`SELECT count(*) FROM ${table}`)
    expect(result!.rows).toEqual([['0']])
  })
})
