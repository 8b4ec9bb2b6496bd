/**
 * `pglisten listen` whose connection ends while stdout's reader has stopped reading and the
 * listener, its queue full, has stopped reading the socket. With stallTimeout off (the command
 * waits for its reader, however long), nothing cuts the loop off to resume the socket: the end
 * must still be found once the reader reads again, and the command reconnect and go on.
 * Every wait is for a line or a server's state, never a fixed time.
 */
import { afterEach, beforeAll, describe, expect, test } from 'vitest'
import type { Connection } from '../../src/protocol/io/connection.ts'
import { connectSuperuser } from '../support/connect.ts'
import { ensureBuilt, startCli, superuserArgs, type Running } from '../support/cli.ts'
import { uniqueChannel } from '../support/listener.ts'

beforeAll(ensureBuilt, 120_000)

const running: Running[] = []
const connections: Connection[] = []
afterEach(async () => {
  for (const cli of running.splice(0)) if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL')
  await Promise.all(connections.splice(0).map((c) => c.close()))
})

/**
 * Sends 4 kB notifications, 1,000 at a time, until the listener's backend waits to write: the
 * listener has stopped reading (its high-water mark is 1024) and both sockets' buffers, which
 * the kernel sizes (the receiving one up to net.ipv4.tcp_rmem's maximum), are full.
 */
async function blockBackend(sql: Connection, channel: string, pid: number): Promise<void> {
  let sent = 0
  const send = async () => {
    await sql.query(`SELECT pg_notify('${channel}', g || ' ' || repeat('x', 4000)) FROM generate_series(${sent + 1}, ${sent + 1000}) g`)
    sent += 1000
  }
  await send()
  for (;;) {
    const [result] = await sql.query(`SELECT wait_event FROM pg_stat_activity WHERE pid = ${pid}`)
    const event = result!.rows[0]?.[0]
    if (event === 'ClientWrite') return
    if (event === 'ClientRead') await send() // idle, all it had sent
    else await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe('pglisten listen, its connection ended while stdout is not read and the socket is paused', () => {
  test('once the reader reads again: what was read is printed, the loss is found, it reconnects and prints what comes next', async () => {
    const channel = uniqueChannel('cli')
    const { args, env } = superuserArgs()
    const cli = startCli(['listen', ...args, '--reconnect-delay', '0.01,0.01', channel], { env })
    running.push(cli)
    await cli.stderrLine(/^pglisten: listening on /)
    const pid = Number(/backend pid (\d+)/.exec(cli.stderr[0]!)![1])
    cli.child.stdout!.pause()
    const sql = await connectSuperuser()
    connections.push(sql)

    // The backend waits to write: the listener has stopped reading its socket.
    await blockBackend(sql, channel, pid)
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
    await sql.query(`SELECT pg_notify('${channel}', 'last')`)
    const deadline = Date.now() + 60_000
    while (!cli.stdout.some((line) => line.includes('"payload":"last"'))) {
      if (cli.child.exitCode !== null || Date.now() > deadline) throw new Error(`the marker did not come: ${cli.stdout.length} lines; stderr:\n${cli.stderr.join('\n')}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const numbers = cli.stdout.slice(0, -1).map((line) => Number((JSON.parse(line) as { payload: string }).payload.split(' ')[0]))
    expect(numbers).toEqual(Array.from({ length: numbers.length }, (_, i) => i + 1)) // in order, none skipped before the loss
    cli.child.kill('SIGTERM')
    expect(await cli.exited).toEqual({ status: 0, signal: null })
  }, 120_000)

  test('SIGTERM while the socket is paused behind a stdout nobody reads: status 0, nothing on stderr but its own lines', async () => {
    const channel = uniqueChannel('cli')
    const { args, env } = superuserArgs()
    const cli = startCli(['listen', ...args, channel], { env })
    running.push(cli)
    await cli.stderrLine(/^pglisten: listening on /)
    const pid = Number(/backend pid (\d+)/.exec(cli.stderr[0]!)![1])
    cli.child.stdout!.pause()
    const sql = await connectSuperuser()
    connections.push(sql)

    await blockBackend(sql, channel, pid)
    cli.child.kill('SIGTERM')
    expect(await cli.exited).toEqual({ status: 0, signal: null })
    expect(cli.stderr.filter((line) => !line.startsWith('pglisten: '))).toEqual([])
  }, 120_000)

  test('the reader going away while a write waits for it: status 0, nothing on stderr but its own lines', async () => {
    const channel = uniqueChannel('cli')
    const { args, env } = superuserArgs()
    const cli = startCli(['listen', ...args, channel], { env })
    running.push(cli)
    await cli.stderrLine(/^pglisten: listening on /)
    const pid = Number(/backend pid (\d+)/.exec(cli.stderr[0]!)![1])
    cli.child.stdout!.pause()
    const sql = await connectSuperuser()
    connections.push(sql)

    await blockBackend(sql, channel, pid)
    cli.child.stdout!.destroy()
    expect(await cli.exited).toEqual({ status: 0, signal: null })
    expect(cli.stderr.filter((line) => !line.startsWith('pglisten: '))).toEqual([])
  }, 120_000)
})
