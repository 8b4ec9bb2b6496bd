/**
 * `pglisten listen` into a pipe whose reader stops reading for a while (`| less`, a consumer busy
 * with a batch): README promises "When stdout is a slow pipe, it waits, so the listener's
 * backpressure reaches the server". The wait must have no end of its own: the listener's
 * stallTimeout (30 s by default) cuts off a consumer that reads nothing for that long, which in
 * the library keeps one idle iterator from holding others back, but in the command, whose one
 * consumer waits for stdout, dropped what the reader still wanted.
 *
 * The time stdout goes unread is the subject here, not a way to wait for something: it is
 * longer than that default with a margin, and nothing else is waited for by the clock.
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

/** The library's default stallTimeout (src/listener/delivery.ts), and a margin for a busy machine. */
const unreadMs = 30_000 + 8_000

describe('pglisten listen, its stdout unread for longer than the listener would wait for a consumer', () => {
  // Found by a hunt: after 30 s the loop was cut off ("pglisten: iterator #1 read nothing for
  // 30000 ms while 1024 notifications waited for it; it is cut off and will get a Gap when it
  // reads again"), and once the reader read again 1,089 lines came, then none, not even one sent
  // after it was reading again.
  test('every notification is printed, in order, once the reader reads again; none is dropped, no Gap', async () => {
    const channel = uniqueChannel('cli')
    const { args, env } = superuserArgs()
    const cli = startCli(['listen', ...args, channel], { env })
    running.push(cli)
    await cli.stderrLine(/^pglisten: listening on /)
    const pid = Number(/backend pid (\d+)/.exec(cli.stderr[0]!)![1])
    cli.child.stdout!.pause()
    const sql = await connectSuperuser()
    connections.push(sql)
    // 5,000 of 4 kB: beyond the pipe, stdout's buffer and the listener's high-water mark (1024),
    // so the listener stops reading and the server's backend waits to write. Both sockets' buffers
    // are the kernel's to size (the receiving one grows up to net.ipv4.tcp_rmem's maximum, 32 MB
    // here), so when the backend has written them all and waits to read, 1,000 more, until it waits.
    let count = 0
    const send = async (more: number) => {
      await sql.query(`SELECT pg_notify('${channel}', g || ' ' || repeat('x', 4000)) FROM generate_series(${count + 1}, ${count + more}) g`)
      count += more
    }
    await send(5000)
    for (;;) {
      const [result] = await sql.query(`SELECT wait_event FROM pg_stat_activity WHERE pid = ${pid}`)
      const event = result!.rows[0]?.[0]
      if (event === 'ClientWrite') break
      if (event === 'ClientRead') await send(1000) // idle, all it had sent
      else await new Promise((resolve) => setTimeout(resolve, 50))
    }
    await new Promise((resolve) => setTimeout(resolve, unreadMs)) // the reader away: the subject of the test
    cli.child.stdout!.resume()
    await sql.query(`SELECT pg_notify('${channel}', 'last')`)
    // Up to the marker. Before the fix it never came: 1,089 lines, then nothing, the rest dropped
    // and the loop cut off; the deadline only turns that into a message saying so.
    const deadline = Date.now() + 60_000
    while (!cli.stdout.some((line) => line.includes('"payload":"last"'))) {
      if (cli.child.exitCode !== null || Date.now() > deadline) throw new Error(`the marker did not come: ${cli.stdout.length} lines; stderr:\n${cli.stderr.join('\n')}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const lines = cli.stdout
    expect(lines.map((line) => (JSON.parse(line) as { payload: string }).payload.split(' ')[0])).toEqual([...Array.from({ length: count }, (_, i) => String(i + 1)), 'last'])
    expect(cli.stderr.slice(2)).toEqual([]) // after "connected" and "listening": no cut-off, no Gap
    cli.child.kill('SIGTERM')
    expect(await cli.exited).toEqual({ status: 0, signal: null })
  }, 120_000)
})
