/**
 * Every call that takes a signal refuses, at the call and in the same words, a value that is
 * none: null, and the falsy false, 0 and '' too, as Node's validateAbortSignal refuses null.
 * No server: each refusal comes before anything would connect.
 */
import { describe, expect, test } from 'vitest'
import { Listener } from '../../../src/index.ts'
import { changes, ddlChanges } from '../../../src/changes.ts'
import { outbox } from '../../../src/outbox.ts'
import { replicate } from '../../../src/replication.ts'
import { connect } from '../../../src/protocol/index.ts'
import type { ListenerOptions } from '../../../src/listener/listener-types.ts'

/** Options that never reach a server. */
const options = { env: {}, host: '127.0.0.1', port: 1, poolerCheck: false, heartbeat: false } satisfies ListenerOptions
/** The same, for connect() and replicate(), which take no listener's options. */
const unreachable = { env: {}, host: '127.0.0.1', port: 1 }
const refused = new TypeError('signal must be an AbortSignal')
const notSignals: unknown[] = [null, false, 0, '', {}]

describe('a signal option that is no signal', () => {
  test.each(notSignals.map((value) => [JSON.stringify(value), value]))('%s is refused by every call that takes one, at the call', async (_, value) => {
    const signal = value as never
    const l = new Listener(options)
    try {
      expect(() => l.notifications({ signal })).toThrow(refused)
      // changes() and ddlChanges() took null as no signal, and failed on false, 0 and '' with
      // "options.signal?.addEventListener is not a function", their consumer left subscribed.
      expect(() => changes(l, 'public.orders', { signal })).toThrow(refused)
      expect(() => ddlChanges(l, { signal })).toThrow(refused)
      expect(() => outbox(l, { channel: 'orders', read: async () => [], cursor: () => 0, signal })).toThrow(refused)
      await expect(l.query('SELECT 1', { signal })).rejects.toThrow(refused)
      await expect(connect({ ...unreachable, signal })).rejects.toThrow(refused)
      expect(() => replicate({ connection: unreachable, slot: 'orders_slot', publications: ['orders'], signal })).toThrow(refused)
    } finally {
      await l.close()
    }
  })
})
