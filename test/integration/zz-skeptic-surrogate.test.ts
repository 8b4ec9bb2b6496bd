/** Skeptic review of 99a61b2: a query refused for a lone surrogate leaves its connection usable. */
import { describe, expect, test } from 'vitest'
import { connect } from '../../src/protocol/index.ts'
import { listener, listenerOptions, uniqueChannel } from '../support/listener.ts'

describe('skeptic: lone surrogates', () => {
  test('listener.query() with a lone surrogate rejects with RangeError; the notifier connection still works after', async () => {
    const l = await listener()
    const pid = await l.query('SELECT 1').then(() => l.notifierProcessId)
    await expect(l.query("SELECT '\ud800'")).rejects.toBeInstanceOf(RangeError)
    const r = await Promise.race([l.query('SELECT 2'), new Promise((r) => setTimeout(() => r('hung'), 5000))])
    expect((r as { rows: unknown[][] }[])[0]!.rows).toEqual([['2']])
    expect(await l.notifierProcessId).toBe(pid)
    await l.close()
  })

  test('connection.query() with a lone surrogate, twice in a row, then a good one', async () => {
    const c = await connect(listenerOptions())
    const bad = [c.query("SELECT '\udc00'"), c.query("SELECT 'x\ud800'")]
    const good = c.query('SELECT 3')
    for (const b of bad) await expect(b).rejects.toBeInstanceOf(RangeError)
    expect((await good)[0]!.rows).toEqual([['3']])
    await c.close()
  })

  test('a well-formed astral channel and payload round-trip (the regex does not refuse pairs)', async () => {
    const l = await listener()
    const channel = uniqueChannel() + '😀𝄞'
    await l.listen(channel)
    const got = new Promise<string>((resolve) => l.on('notification', (n) => resolve(n.payload)))
    await l.notify(channel, 'a😀b\u{10FFFF}')
    expect(await got).toBe('a😀b\u{10FFFF}')
    await l.close()
  })
})
