/**
 * A reconnect's look at the slot once START_REPLICATION holds it (resume-check.ts), against the
 * model walsender: until the look answers, the stream reads nothing and tells the server
 * nothing, not even the reply a keepalive asks for, since any status update would set the slot's
 * confirmed_flush_lsn and could hide the move the look is there to see.
 */
import { expect, test } from 'vitest'
import type { ReplicationChange } from '../../../src/replication/changes.ts'
import { ReplicationStream } from '../../../src/replication/stream.ts'
import { FakeWalsender } from '../../support/fake-walsender.ts'

const options = { slot: 'resume', publications: ['p'], reconnect: { minDelay: 1, maxDelay: 2 } }

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 2000
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not in time`)
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
}

test('a keepalive asking for a reply while the look is under way is answered only after it: no status update, no change, before the look answers', async () => {
  const server = new FakeWalsender()
  const stream = new ReplicationStream(options, server.connect)
  try {
    const iterator = stream[Symbol.asyncIterator]()
    await stream.ready
    const t = server.commit(1)
    let change: ReplicationChange
    do change = (await iterator.next()).value as ReplicationChange
    while (change.kind !== 'commit') // in hand, not acknowledged
    let release!: () => void
    server.holdLooks = new Promise((resolve) => (release = resolve))
    server.drop()
    await until(() => server.looks.length === 1 && server.current?.copying === true, 'the reconnect started and looking')
    const second = server.current!
    const next = iterator.next() // acknowledges nothing: the Commit in hand is from the lost connection
    second.ping()
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(server.statusUpdates.filter((u) => u.connection === second.number)).toEqual([])
    expect(second.changesRead).toBe(0)
    expect(second.paused).toBe(true)
    release()
    await until(() => server.statusUpdates.some((u) => u.connection === second.number), 'the keepalive answered')
    expect(second.replyOwed).toBe(false)
    expect(((await next).value as ReplicationChange).kind).toBe('begin') // the transaction comes again
    expect(server.starts.at(-1)).toMatchObject({ connection: second.number, firstTransaction: t.index })
    expect(server.violations).toEqual([])
  } finally {
    await stream.close()
  }
})

// Found by review: the look followed the attempt's signal, which the connection's clean-up
// disposes of, so a look that hung outlived a replication connection that failed meanwhile,
// and close() could not reach it (its socket kept the process alive for attemptTimeout / 2).
test('the replication connection lost while the look hangs: the look is ended with it', async () => {
  const server = new FakeWalsender()
  const stream = new ReplicationStream(options, server.connect)
  try {
    await stream.ready
    server.holdLooks = new Promise(() => undefined) // never answered
    server.drop()
    await until(() => server.looks.length === 1 && server.current?.copying === true, 'the reconnect started and looking')
    const look = server.looks[0]!
    server.drop() // the replication connection goes while the look hangs
    await until(() => look.closed, 'the hanging look ended') // before the fix: only after attemptTimeout / 2
  } finally {
    await stream.close()
  }
})
