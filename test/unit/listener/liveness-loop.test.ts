/**
 * Liveness in a process that does nothing but listen: no other I/O wakes its event loop. The
 * verdict on a silence runs right after the poll phase that follows the silence's timer
 * (liveness.ts), and it must run then, not when the next heartbeat's timer wakes the loop: an
 * unref'd setImmediate does not keep the poll phase from blocking, and the silence was then
 * found a whole heartbeat interval late. Fake timers cannot show this, so a child process runs
 * it for real, with one ref'd idle socket server standing in for the listening connection.
 */
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { expect, test } from 'vitest'

const liveness = fileURLToPath(new URL('../../../src/listener/liveness.ts', import.meta.url))

// Heartbeats every 10 s (the first one sent at once), death after 100 ms of silence. The child
// prints how long the verdict took from the heartbeat: about 100 ms, or, if the verdict waited
// for the loop to wake, the 10 s to the next heartbeat's timer. Half of that is the line: a
// margin no loaded machine comes near, and the bound is the heartbeat's own, not a speed target.
const script = `
import net from 'node:net'
import { Liveness } from ${JSON.stringify(liveness)}
const server = net.createServer().listen(0, '127.0.0.1') // ref'd, and silent: nothing else wakes the loop
const connection = { bytesReceived: 0, sync: () => new Promise(() => {}) } // a heartbeat never answered
const liveness = new Liveness({ interval: 10_000, timeout: 100 }, {
  connection: () => connection,
  reading: () => true,
  answered: () => {},
  dead: () => {
    console.log(Date.now() - sent)
    liveness.stop()
    server.close()
  },
})
liveness.start()
const sent = Date.now()
void liveness.beat()
`

test('in an otherwise idle process, a silent connection is declared dead well before the next heartbeat', () => {
  const took = Number(execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 }))
  expect(took).toBeGreaterThanOrEqual(100)
  expect(took).toBeLessThan(5_000)
})
