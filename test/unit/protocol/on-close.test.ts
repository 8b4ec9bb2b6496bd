/**
 * onClose is told only of a connection its caller has. A link that ends in the same breath as
 * the answer the caller waits for (startup's ReadyForQuery, or the target_session_attrs check's
 * row) must not hand back a dead connection whose end onClose never hears of: the open, or that
 * host, fails instead. Scripted in memory, because the timing is the point: on Workers a link's
 * close comes through promise callbacks, in among the opening's own; under Node it can come
 * while the check's module loads.
 */
import { describe, expect, test } from 'vitest'
import { ConnectionLostError } from '../../../src/protocol/errors.ts'
import { connectWith, type ConnectOptions } from '../../../src/protocol/io/connect.ts'
import { Connection } from '../../../src/protocol/io/connection.ts'
import type { Link } from '../../../src/protocol/io/link.ts'
import { nodePlatform } from '../../../src/protocol/io/node-platform.ts'
import type { Platform } from '../../../src/protocol/io/platform.ts'
import { backend, concat, loginAccepted } from '../../support/wire.ts'

const notReadOnly = concat(backend.rowDescription('transaction_read_only'), backend.dataRow('off'), backend.commandComplete('SHOW'), backend.readyForQuery())

/**
 * A link that answers the client's nth write with `answers[n - 1]` (a turn later, as a socket
 * would) and, after the write numbered `hangUpAfter`, ends `delay` microtasks after delivering
 * that answer: 0 is in the same call, before any promise waiting on the answer has run on.
 */
function scriptedLink(answers: Uint8Array[], hangUpAfter: number, delay = 0): Link {
  let writes = 0
  const link: Link = {
    encrypted: false,
    peerCertificate: undefined,
    write() {
      const n = ++writes
      setTimeout(() => {
        const answer = answers[n - 1]
        if (answer) link.onData(answer)
        if (n !== hangUpAfter) return
        let left = delay
        const end = () => (left-- > 0 ? queueMicrotask(end) : link.onClose(undefined))
        end()
      })
    },
    pause() {},
    resume() {},
    end() {},
    destroy() {},
    onData: () => {},
    onClose: () => {},
  }
  return link
}

const over = (link: Link): Platform => ({ ...nodePlatform, openLink: async () => link })

function options(link: Link, closes: unknown[]): ConnectOptions {
  return { platform: over(link), env: {}, host: 'h', user: 'u', password: 'p', sslmode: 'disable', passfile: '/nonexistent', onClose: (e) => void closes.push(e) }
}

/**
 * What the caller is left with when the link ends `delay` microtasks after the last answer:
 * 'rejected', 'open' (a live connection), or 'closed' (a dead one), with onClose's calls by then.
 */
async function outcome(open: (closes: unknown[]) => Promise<Connection>): Promise<[string, number]> {
  const closes: unknown[] = []
  const connection = await open(closes).catch(() => undefined)
  await new Promise((resolve) => setTimeout(resolve)) // any close still on its way
  return [connection === undefined ? 'rejected' : connection.isClosed ? 'closed' : 'open', closes.length]
}

/** Every delay from 0 to 80 microtasks: the window, wherever it falls, is crossed. */
const delays = Array.from({ length: 81 }, (_, i) => i)

describe('a link that ends just as the answer awaited comes', () => {
  test('Connection.open(): whenever it ends, a rejection tells onClose nothing, and a connection returned dead was told of once', async () => {
    const seen = new Set<string>()
    for (const delay of delays) {
      const link = scriptedLink([loginAccepted()], 1, delay)
      const [result, calls] = await outcome((closes) => Connection.open({ platform: over(link), host: 'h', port: 5432, user: 'u', tls: { mode: 'disable' }, useTls: false, onClose: (e) => void closes.push(e) }))
      expect({ delay, result, calls }).toEqual({ delay, result, calls: result === 'rejected' ? 0 : 1 })
      seen.add(result)
    }
    expect([...seen].sort()).toEqual(['closed', 'rejected']) // both sides of the window were reached
  })

  test('connect() with a target_session_attrs check: the same, whenever the link ends after the check\'s answer', async () => {
    const seen = new Set<string>()
    for (const delay of delays) {
      const link = scriptedLink([loginAccepted(), notReadOnly], 2, delay)
      const [result, calls] = await outcome((closes) => connectWith(nodePlatform, { ...options(link, closes), targetSessionAttrs: 'read-write' }))
      expect({ delay, result, calls }).toEqual({ delay, result, calls: result === 'rejected' ? 0 : 1 })
      seen.add(result)
    }
    expect([...seen].sort()).toEqual(['closed', 'rejected'])
  })

  test('the same links without the end: the connection is returned, and onClose hears of its close once', async () => {
    for (const [link, extra] of [[scriptedLink([loginAccepted()], 0), {}], [scriptedLink([loginAccepted(), notReadOnly], 0), { targetSessionAttrs: 'read-write' }]] as const) {
      const closes: unknown[] = []
      const c = await connectWith(nodePlatform, { ...options(link, closes), ...extra })
      expect(c.isClosed).toBe(false)
      expect(closes).toEqual([])
      link.onClose(undefined) // the server goes
      expect(closes).toEqual([new ConnectionLostError('the server closed the connection')])
    }
  })

  test('handlers on the options\' prototype are the ones called: the options are read as given, never copied', async () => {
    const heard: string[] = []
    const link = scriptedLink([concat(loginAccepted(), backend.notificationResponse(9, 'ch', 'hi'))], 0)
    class Options {
      platform = over(link)
      env = {}
      host = 'h'
      user = 'u'
      password = 'p'
      sslmode = 'disable' as const
      passfile = '/nonexistent'
      onNotification(n: { payload: string }): void {
        heard.push(`notification ${n.payload}`)
      }
      onClose(error: Error | undefined): void {
        heard.push(`close: ${error?.message}`)
      }
    }
    await connectWith(nodePlatform, new Options())
    link.onClose(undefined) // the server goes
    expect(heard).toEqual(['notification hi', 'close: the server closed the connection'])
  })
})

describe('a connection lost with an error', () => {
  test('is "the connection was lost:" and the error\'s message, without the newline OpenSSL ends its lines with', async () => {
    const closes: (Error | undefined)[] = []
    const link = scriptedLink([loginAccepted()], 0)
    const c = await connectWith(nodePlatform, options(link, closes))
    const alert = Object.assign(new Error('80ACB0091B7F0000:error:0A000418:SSL routines:ssl3_read_bytes:tlsv1 alert unknown ca:ssl/record/rec_layer_s3.c:1605:SSL alert number 48\n'), { code: 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA' })
    link.onClose(alert)
    expect(closes).toHaveLength(1)
    expect(closes[0]).toBeInstanceOf(ConnectionLostError)
    expect(closes[0]!.message).toBe('the connection was lost: 80ACB0091B7F0000:error:0A000418:SSL routines:ssl3_read_bytes:tlsv1 alert unknown ca:ssl/record/rec_layer_s3.c:1605:SSL alert number 48')
    expect(closes[0]!.cause).toBe(alert)
    expect(await c.closed).toBe(closes[0])
  })
})
