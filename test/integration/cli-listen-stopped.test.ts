/**
 * `pglisten listen` stopped by a signal while stdout's reader has stopped reading and
 * notifications wait behind it: it leaves at once (README: "Ctrl-C or SIGTERM exits 0, at once
 * even when stdout's reader has stopped reading"), saying nothing but its own lines on stderr;
 * and when the listener had already given up, it leaves with the status of that failure, 1.
 * Every wait is for a line or a server's state, never a fixed time: the listener has read every
 * notification once it says the connection was lost, since they came before the loss.
 */
import { afterEach, beforeAll, describe, expect, test } from 'vitest'
import { quoteIdentifier } from '../../src/protocol/quote.ts'
import { connectSuperuser, server } from '../support/connect.ts'
import { ensureBuilt, startCli, superuserArgs, type Running } from '../support/cli.ts'
import { uniqueChannel } from '../support/listener.ts'

beforeAll(ensureBuilt, 120_000)

const running: Running[] = []
const databases: string[] = []
afterEach(async () => {
  for (const cli of running.splice(0)) if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL')
  const admin = await connectSuperuser()
  for (const name of databases.splice(0)) await admin.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`)
  await admin.close()
})

/**
 * `pglisten listen` in a database of its own, with 100 notifications of 4 kB sent to it while
 * nobody reads its stdout: 400 kB, more than the pipe and the stream's buffer hold, so the
 * command waits for stdout with most of them in the listener's queue (fewer than its high-water
 * mark of 1024, so the listener goes on reading the socket).
 */
async function blockedWithBacklog(args: string[]): Promise<{ cli: Running; database: string; pid: number }> {
  const database = `pglisten_cli_stopped_${process.pid}_${databases.length + 1}`
  databases.push(database)
  const admin = await connectSuperuser()
  await admin.query(`CREATE DATABASE ${quoteIdentifier(database)}`)
  const { args: connection, env } = superuserArgs(database)
  const channel = uniqueChannel('cli')
  const cli = startCli(['listen', ...connection, ...args, channel], { env })
  running.push(cli)
  await cli.stderrLine(/^pglisten: listening on /)
  cli.child.stdout!.pause()
  const pid = Number(/backend pid (\d+)/.exec(cli.stderr[0]!)![1])
  const notifier = await connectSuperuser({ database })
  await notifier.query(`SELECT pg_notify('${channel}', g || ' ' || repeat('x', 4000)) FROM generate_series(1, 100) g`)
  await notifier.close()
  await admin.close()
  return { cli, database, pid }
}

/** Lines on stderr that are not the command's own: Node's "(node:PID) ...Warning: ..." among them. */
const notOurs = (stderr: readonly string[]) => stderr.filter((line) => !line.startsWith('pglisten: '))

describe.runIf((server().serverVersion ?? 180000) >= 130000)('pglisten listen stopped while stdout waits', () => {
  // The ordinary case beside the one below: close() ends the iterator, so the lines still in
  // the listener's queue are not written one by one after the signal, each leaving a wait for
  // 'drain' behind it (Node's MaxListenersExceededWarning on stderr, which the test below met).
  test('SIGTERM with notifications queued behind a stdout nobody reads: status 0, and nothing on stderr but its own lines', async () => {
    const { cli, pid } = await blockedWithBacklog([])
    const admin = await connectSuperuser()
    await admin.query(`SELECT pg_terminate_backend(${pid})`)
    await admin.close()
    await cli.stderrLine(/^pglisten: connection lost at /) // so every notification has been read
    cli.child.kill('SIGTERM')
    expect(await cli.exited).toEqual({ status: 0, signal: null })
    expect(notOurs(cli.stderr)).toEqual([])
  })

  // Found by a hunt: the listener having given up, the signal let the loop write what it still
  // held (each line leaving a wait for 'drain' on stdout, and Node printed
  // "MaxListenersExceededWarning: Possible EventEmitter memory leak" to stderr), then finish
  // with status 1, and leaving waited for stdout as long as it took: for ever, with nobody
  // reading. A second signal left, with status 0, as though nothing had failed.
  test('SIGTERM after the listener gave up, with stdout not read: it leaves at once, with status 1', async () => {
    const { cli, database } = await blockedWithBacklog(['--max-attempts', '1', '--reconnect-delay', '0.01,0.01'])
    const admin = await connectSuperuser()
    await admin.query(`DROP DATABASE ${quoteIdentifier(database)} WITH (FORCE)`) // ends its backend; no attempt can succeed
    await admin.close()
    await cli.stderrLine(/^pglisten: gave up after 1 attempt to reconnect/)
    cli.child.kill('SIGTERM')
    expect(await cli.exited).toEqual({ status: 1, signal: null })
    expect(notOurs(cli.stderr)).toEqual([])
  })
})
