/**
 * `pglisten listen` whose connection ends while stdout's reader has stopped reading and the
 * listener, its queue full, has stopped reading the socket. With stallTimeout off (the command
 * waits for its reader, however long), nothing cuts the loop off to resume the socket: the end
 * must still be found once the reader reads again, and the command reconnect and go on.
 * Every wait is for a line or a server's state, never a fixed time.
 */
import { beforeAll, describe, expect, test } from 'vitest'
import { ensureBuilt } from '../support/cli.ts'
import { blockBackend, listenUnread, untilPrinted } from '../support/cli-blocked-stdout.ts'

beforeAll(ensureBuilt, 120_000)

describe('pglisten listen, its connection ended while stdout is not read and the socket is paused', () => {
  test('once the reader reads again: what was read is printed, the loss is found, it reconnects and prints what comes next', async () => {
    const unread = await listenUnread(['--reconnect-delay', '0.01,0.01'])
    const { cli, pid, sql } = unread

    // The backend waits to write: the listener has stopped reading its socket.
    await blockBackend(unread)
    await sql.query(`SELECT pg_terminate_backend(${pid})`)
    for (;;) {
      const [result] = await sql.query(`SELECT count(*)::int FROM pg_stat_activity WHERE pid = ${pid}`)
      if (Number(result!.rows[0]?.[0]) === 0) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    cli.child.stdout!.resume()
    await cli.stderrLine(/^pglisten: connection lost at /, 60_000)
    await cli.stderrLine(/^pglisten: reconnected/, 60_000)
    // A new backend is listening once the Gap is reported; what is sent now must be printed.
    await untilPrinted(unread, 'last')
    const numbers = cli.stdout.slice(0, -1).map((line) => Number((JSON.parse(line) as { payload: string }).payload.split(' ')[0]))
    expect(numbers).toEqual(Array.from({ length: numbers.length }, (_, i) => i + 1)) // in order, none skipped before the loss
    cli.child.kill('SIGTERM')
    expect(await cli.exited).toEqual({ status: 0, signal: null })
  }, 120_000)

  test('SIGTERM while the socket is paused behind a stdout nobody reads: status 0, nothing on stderr but its own lines', async () => {
    const unread = await listenUnread()
    const { cli } = unread
    await blockBackend(unread)
    cli.child.kill('SIGTERM')
    expect(await cli.exited).toEqual({ status: 0, signal: null })
    expect(cli.stderr.filter((line) => !line.startsWith('pglisten: '))).toEqual([])
  }, 120_000)

  test('the reader going away while a write waits for it: status 0, nothing on stderr but its own lines', async () => {
    const unread = await listenUnread()
    const { cli } = unread
    await blockBackend(unread)
    cli.child.stdout!.destroy()
    expect(await cli.exited).toEqual({ status: 0, signal: null })
    expect(cli.stderr.filter((line) => !line.startsWith('pglisten: '))).toEqual([])
  }, 120_000)
})
