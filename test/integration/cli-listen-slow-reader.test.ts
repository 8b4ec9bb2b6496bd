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
import { beforeAll, describe, expect, test } from 'vitest'
import { ensureBuilt } from '../support/cli.ts'
import { blockBackend, listenUnread, untilPrinted } from '../support/cli-blocked-stdout.ts'

beforeAll(ensureBuilt, 120_000)

/** The library's default stallTimeout (src/listener/delivery.ts), and a margin for a busy machine. */
const unreadMs = 30_000 + 8_000

describe('pglisten listen, its stdout unread for longer than the listener would wait for a consumer', () => {
  // Found by a hunt: after 30 s the loop was cut off ("pglisten: iterator #1 read nothing for
  // 30000 ms while 1024 notifications waited for it; it is cut off and will get a Gap when it
  // reads again"), and once the reader read again 1,089 lines came, then none, not even one sent
  // after it was reading again.
  test('every notification is printed, in order, once the reader reads again; none is dropped, no Gap', async () => {
    const unread = await listenUnread()
    const { cli } = unread
    // 5,000 of 4 kB: beyond the pipe, stdout's buffer and the listener's high-water mark (1024),
    // so the listener stops reading and the server's backend waits to write. Both sockets' buffers
    // are the kernel's to size (the receiving one grows up to net.ipv4.tcp_rmem's maximum, 32 MB
    // here), so when the backend has written them all and waits to read, 1,000 more, until it waits.
    const count = await blockBackend(unread, 5000)
    await new Promise((resolve) => setTimeout(resolve, unreadMs)) // the reader away: the subject of the test
    cli.child.stdout!.resume()
    // Up to the marker. Before the fix it never came: 1,089 lines, then nothing, the rest dropped
    // and the loop cut off; the deadline only turns that into a message saying so.
    await untilPrinted(unread, 'last')
    const lines = cli.stdout
    expect(lines.map((line) => (JSON.parse(line) as { payload: string }).payload.split(' ')[0])).toEqual([...Array.from({ length: count }, (_, i) => String(i + 1)), 'last'])
    expect(cli.stderr.slice(2)).toEqual([]) // after "connected" and "listening": no cut-off, no Gap
    cli.child.kill('SIGTERM')
    expect(await cli.exited).toEqual({ status: 0, signal: null })
  }, 120_000)
})
