/**
 * `pglisten listen` with its stdout unread, for the tests of a reader that stops reading
 * (cli-listen-slow-reader, cli-listen-lost-while-blocked): the command started and listening,
 * its backend's pid, stdout paused, and a superuser connection to send with; then notifications
 * sent until that backend waits to write, so that the listener's backpressure has reached the
 * server. Both are killed or closed after each test (this module's hook), failed or not.
 * Every wait is for a line or a server's state, never a fixed time.
 */
import { afterEach } from 'vitest'
import type { Connection } from '../../src/protocol/io/connection.ts'
import { startCli, superuserArgs, type Running } from './cli.ts'
import { connectSuperuser } from './connect.ts'
import { uniqueChannel } from './listener.ts'

const running: Running[] = []
const connections: Connection[] = []
afterEach(async () => {
  for (const cli of running.splice(0)) if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL')
  await Promise.all(connections.splice(0).map((c) => c.close()))
})

export interface Unread {
  cli: Running
  /** The one channel it listens on. */
  channel: string
  /** The listening backend's process ID, from the "listening on" line. */
  pid: number
  /** A superuser connection, to send notifications and look at pg_stat_activity. */
  sql: Connection
}

/** `pglisten listen [options] channel` as the superuser, on a channel of its own, listening, its stdout paused. */
export async function listenUnread(options: string[] = []): Promise<Unread> {
  const channel = uniqueChannel('cli')
  const { args, env } = superuserArgs()
  const cli = startCli(['listen', ...args, ...options, channel], { env })
  running.push(cli)
  await cli.stderrLine(/^pglisten: listening on /)
  const pid = Number(/backend pid (\d+)/.exec(cli.stderr[0]!)![1])
  cli.child.stdout!.pause()
  const sql = await connectSuperuser()
  connections.push(sql)
  return { cli, channel, pid, sql }
}

/**
 * Sends 4 kB notifications numbered 1, 2, ... (`first` of them, then 1,000 at a time) until the
 * listener's backend waits to write: the listener has stopped reading (its high-water mark is
 * 1024) and both sockets' buffers, which the kernel sizes (the receiving one up to
 * net.ipv4.tcp_rmem's maximum), are full; a fixed burst could fit in them. Resolves with how
 * many were sent.
 */
export async function blockBackend({ sql, pid, channel }: Unread, first = 1000): Promise<number> {
  let sent = 0
  const send = async (more: number) => {
    await sql.query(`SELECT pg_notify('${channel}', g || ' ' || repeat('x', 4000)) FROM generate_series(${sent + 1}, ${sent + more}) g`)
    sent += more
  }
  await send(first)
  for (;;) {
    const [result] = await sql.query(`SELECT wait_event FROM pg_stat_activity WHERE pid = ${pid}`)
    const event = result!.rows[0]?.[0]
    if (event === 'ClientWrite') return sent
    if (event === 'ClientRead') await send(1000) // idle, all it had sent
    else await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/**
 * Sends `payload` on the channel and waits until stdout has printed it, or the command has
 * exited, or a minute has passed (a busy machine prints thousands of lines first); the
 * deadline only turns a marker that never comes into a message saying so.
 */
export async function untilPrinted({ cli, sql, channel }: Unread, payload: string): Promise<void> {
  await sql.query(`SELECT pg_notify('${channel}', '${payload}')`)
  const deadline = Date.now() + 60_000
  while (!cli.stdout.some((line) => line.includes(`"payload":"${payload}"`))) {
    if (cli.child.exitCode !== null || Date.now() > deadline) throw new Error(`the marker did not come: ${cli.stdout.length} lines; stderr:\n${cli.stderr.join('\n')}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
