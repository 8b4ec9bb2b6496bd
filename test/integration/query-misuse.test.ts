/**
 * Connection misuse: query() given something other than a string is a TypeError, and the
 * connection goes on (an array used to be sent as its items joined, so query([]) ran an empty
 * query and resolved); abort() given something other than an Error still leaves an Error behind.
 */
import { afterEach, expect, test } from 'vitest'
import type { Connection } from '../../src/protocol/io/connection.ts'
import { ConnectionLostError } from '../../src/protocol/errors.ts'
import { connectSuperuser } from '../support/connect.ts'
import { listener } from '../support/listener.ts'

let connection: Connection | undefined
afterEach(async () => {
  await connection?.close()
  connection = undefined
})

test("Connection.query() refuses what is not a string, sending nothing, and the connection stays usable", async () => {
  connection = await connectSuperuser()
  for (const [sql, type] of [[[], 'an array'], [['SELECT 1'], 'an array'], [5, 'number'], [undefined, 'undefined'], [{ toString: () => 'SELECT 1' }, 'object']] as const) {
    await expect(connection.query(sql as never)).rejects.toThrow(new TypeError(`a query must be a string, not ${type}`))
  }
  expect((await connection.query('SELECT 1'))[0]!.rows).toEqual([['1']])
})

test("the listener's query() does too", async () => {
  const l = await listener()
  await expect(l.query([] as never)).rejects.toThrow(new TypeError('a query must be a string, not an array'))
  expect((await l.query('SELECT 2'))[0]!.rows).toEqual([['2']])
})

test('abort() with a reason that is not an Error: closed and every later call give a ConnectionLostError caused by it, not the bare value', async () => {
  connection = await connectSuperuser()
  connection.abort('gone' as never)
  const why = await connection.closed
  expect(why).toBeInstanceOf(ConnectionLostError)
  expect((why as Error).cause).toBe('gone')
  await expect(connection.query('SELECT 1')).rejects.toThrow(ConnectionLostError)
})
