/**
 * API misuse of the listener, found without a server: a wrong type or a misspelt name is a
 * TypeError (a number out of range a RangeError) at the call that made it, and a refused call
 * leaves nothing behind. JavaScript callers have no type checker to say so first.
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { Listener } from '../../../src/index.ts'
import { EventHub } from '../../../src/listener/events.ts'
import { Listener as PortableListener } from '../../../src/listener/listener.ts'
import type { ListenerOptions } from '../../../src/listener/listener-types.ts'
import { ConnectionLostError } from '../../../src/protocol/errors.ts'
import { connect } from '../../../src/protocol/index.ts'
import { foreignAbortController } from '../../support/foreign-signal.ts'

/** Options that never reach a server: these tests call nothing that connects. */
const options = { env: {}, host: '127.0.0.1', port: 1, poolerCheck: false, heartbeat: false } satisfies ListenerOptions

/** A value of any type but number (and not undefined, which means "the default"). */
const notANumber = fc.oneof(fc.string(), fc.boolean(), fc.bigInt(), fc.constant(null), fc.object(), fc.array(fc.integer()), fc.func(fc.integer()))

describe('the options object', () => {
  // The portable class, and src/index.ts's, which copies the options into an object of its own
  // (5 spread is {}: it was taken for no options at all, and null failed on reading a field).
  test('null, or not an object, is a TypeError that says so', () => {
    for (const value of [null, 5, 'host=db', Symbol('options')]) {
      for (const Class of [PortableListener, Listener]) {
        expect(() => new Class(value as never)).toThrow(TypeError)
        expect(() => new Class(value as never)).toThrow(/the listener's options must be an object/)
      }
    }
  })

  test('a number option given anything but a number is a TypeError naming it, never taken by coercion', () => {
    const paths = ['highWaterMark', 'lowWaterMark', 'stallTimeout', 'reconnect.minDelay', 'reconnect.maxDelay', 'reconnect.maxAttempts', 'reconnect.attemptTimeout', 'heartbeat.interval', 'heartbeat.timeout', 'poolerCheck.timeout']
    fc.assert(
      fc.property(fc.constantFrom(...paths), notANumber, (path, value) => {
        fc.pre(!(path === 'stallTimeout' && value === false)) // false: no stall timeout
        const [outer, inner] = path.split('.') as [string, string | undefined]
        const given = { ...options, [outer]: inner ? { [inner]: value } : value }
        expect(() => new Listener(given as never)).toThrow(TypeError)
        expect(() => new Listener(given as never)).toThrow(new RegExp(`^${path.replace('.', '\\.')} must be a number`))
      }),
    )
  })

  test('stallTimeout: true is refused (it would pass the range check as 1, a timer of 1 ms)', () => {
    expect(() => new Listener({ ...options, stallTimeout: true as never })).toThrow(new TypeError('stallTimeout must be a number or false, not boolean'))
  })

  test('reconnect, heartbeat and poolerCheck take an object or false: null, true or a number is a TypeError', () => {
    for (const name of ['reconnect', 'heartbeat', 'poolerCheck']) {
      for (const value of [null, true, 5, 'yes']) {
        expect(() => new Listener({ ...options, [name]: value } as never)).toThrow(new RegExp(`^${name} must be an object or false`))
      }
    }
  })

  test('a field those objects do not take is a TypeError listing the ones they do (reconnect: { retries: 3 } would retry for ever)', () => {
    expect(() => new Listener({ ...options, reconnect: { retries: 3 } as never })).toThrow(
      new TypeError('unknown reconnect option "retries": it takes minDelay, maxDelay, maxAttempts, attemptTimeout'),
    )
    expect(() => new Listener({ ...options, heartbeat: { intervall: 5 } as never })).toThrow(new TypeError('unknown heartbeat option "intervall": it takes interval, timeout'))
    expect(() => new Listener({ ...options, poolerCheck: { timeOut: 5 } as never })).toThrow(new TypeError('unknown poolerCheck option "timeOut": it takes timeout'))
  })

  test("connect()'s handlers and signal, which the listener sets itself, are refused, saying what to use instead", () => {
    expect(() => new Listener({ ...options, onNotice: () => {} } as never)).toThrow(new TypeError('the listener takes no onNotice option: it sets its own (see on() and close())'))
    const signal = new AbortController().signal
    expect(() => new Listener({ ...options, signal } as never)).toThrow(/^the listener takes no signal option/)
    expect(() => new Listener({ ...options, onNotification: undefined } as never)).not.toThrow()
  })

  test('other names are left alone (the object may carry more), and so are null-prototype, frozen and class-made objects', () => {
    expect(() => new Listener({ ...options, logger: console } as never)).not.toThrow()
    expect(() => new Listener(Object.freeze({ ...options, highWaterMark: 8 }))).not.toThrow()
    expect(() => new Listener(Object.assign(Object.create(null) as object, options, { reconnect: Object.assign(Object.create(null) as object, { maxAttempts: 3 }) }))).not.toThrow()
  })

  test('reconnect.maxAttempts is a whole number or Infinity: 1.5 is a RangeError', () => {
    expect(() => new Listener({ ...options, reconnect: { maxAttempts: 1.5 } })).toThrow(new RangeError('reconnect.maxAttempts must be a whole number or Infinity, not 1.5'))
    expect(() => new Listener({ ...options, reconnect: { maxAttempts: Infinity } })).not.toThrow()
  })
})

describe('on()', () => {
  test('an event name that is not one of the listener\'s is a TypeError: its handler would never be called', () => {
    const l = new Listener(options)
    expect(() => l.on('notifications' as never, () => {})).toThrow(TypeError)
    expect(() => l.on('notifications' as never, () => {})).toThrow(/^no event is named "notifications": the events are notification, connected/)
    expect(() => l.on(Symbol('x') as never, () => {})).toThrow(/^no event is named Symbol\(x\)/)
    expect(() => l.on('toString' as never, () => {})).toThrow(TypeError) // not an inherited name either
  })
})

describe('listen(), unlisten() and query() options', () => {
  test("unquoted must be a boolean ('no' folded the name as true does), the options an object; nothing is listened on", async () => {
    const l = new Listener(options)
    await expect(l.listen('Orders', { unquoted: 'no' as never })).rejects.toThrow(new TypeError('unquoted must be a boolean, not string'))
    await expect(l.unlisten('Orders', { unquoted: 1 as never })).rejects.toThrow(new TypeError('unquoted must be a boolean, not number'))
    await expect(l.listen('orders', null as never)).rejects.toThrow(new TypeError('the options must be an object, not null'))
    await expect(l.query('SELECT 1', null as never)).rejects.toThrow(new TypeError('the options must be an object, not null'))
    expect([...l.channels]).toEqual([])
    await l.close()
  })
})

describe('notifications()', () => {
  test('a signal that is not an AbortSignal is a TypeError, and the refused call leaves no consumer behind: close() still closes', async () => {
    const l = new Listener(options)
    expect(() => l.notifications({ signal: {} as never })).toThrow(new TypeError('signal must be an AbortSignal'))
    // Left among the consumers, its end would call the bogus signal's removeEventListener.
    await expect(l.close()).resolves.toBeUndefined()
  })

  test('a signal from another realm is taken: aborting it ends a next() that waits, and leaves no listener on it', async () => {
    const l = new Listener(options)
    const controller = foreignAbortController()
    const iterator = l.notifications({ signal: controller.signal })
    const next = iterator.next()
    controller.abort(new Error('done reading'))
    expect(await next).toEqual({ done: true, value: undefined })
    expect(controller.listenerCount()).toBe(0)
    await l.close()
  })

  test('gaps must be a boolean, channels an iterable of names but not one string (its characters), the options an object', async () => {
    const l = new Listener(options)
    expect(() => l.notifications({ gaps: 'no' as never })).toThrow(new TypeError('gaps must be a boolean, not string'))
    expect(() => l.notifications({ channels: 'orders' })).toThrow(new TypeError('channels must be an iterable of channel names, such as an array, not string'))
    expect(() => l.notifications(null as never)).toThrow(new TypeError('the options must be an object, not null'))
    for (const channels of [false, 0, 5, {}]) {
      expect(() => l.notifications({ channels: channels as never })).toThrow(new TypeError(`channels must be an iterable of channel names, such as an array, not ${typeof channels}`))
    }
    expect(() => l.notifications({ channels: [5 as never] })).toThrow(new TypeError('a channel name must be a string, not number'))
    await expect(l.close()).resolves.toBeUndefined()
  })
})

describe('a handler\'s thenable', () => {
  interface Events {
    tick: number
  }

  test('one whose then() throws is counted as settled, its error reported: it holds no backpressure for ever', async () => {
    const errors: unknown[] = []
    const hub = new EventHub<Events>((error) => errors.push(error))
    const broken = new Error('then() throws')
    hub.on('tick', () => ({
      then() {
        throw broken
      },
    }))
    hub.emit('tick', 1)
    await Promise.resolve()
    expect(hub.pending).toBe(0)
    expect(errors).toEqual([broken])
  })

  test('one that calls back more than once, or both ways, counts once and reports at most once', async () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 5 }), (calls) => {
        const errors: unknown[] = []
        const hub = new EventHub<Events>((error) => errors.push(error))
        hub.on('tick', () => ({
          then(resolve: () => void, reject: (e: unknown) => void) {
            for (const fails of calls) fails ? reject(new Error('no')) : resolve()
          },
        }))
        hub.on('tick', () => new Promise(() => {})) // one truly pending: the count must not go below it
        hub.emit('tick', 1)
        expect(hub.pending).toBe(1)
        expect(errors).toHaveLength(calls[0] ? 1 : 0)
      }),
    )
  })
})

describe('connect()', () => {
  const unreachable = { env: {}, host: '127.0.0.1', port: 1 }

  test('a signal that is not an AbortSignal is a TypeError that says so', async () => {
    await expect(connect({ ...unreachable, signal: {} as never })).rejects.toThrow(new TypeError('signal must be an AbortSignal'))
  })

  test("a signal from another realm is an AbortSignal all the same: aborted already, it rejects with its reason, not a TypeError", async () => {
    const controller = foreignAbortController()
    expect(controller.signal).not.toBeInstanceOf(AbortSignal) // the premise
    const reason = new Error('given up')
    controller.abort(reason)
    const error = await connect({ ...unreachable, signal: controller.signal }).then(() => undefined, (e: unknown) => e)
    expect(error).toBeInstanceOf(ConnectionLostError)
    expect((error as Error).message).toBe('the connection attempt was aborted')
    expect((error as Error).cause).toBe(reason)
  })

  test('env, trace and scram of the wrong shape are TypeErrors before connecting, not quietly ignored or failed mid-authentication', async () => {
    await expect(connect({ ...unreachable, env: 5 as never })).rejects.toThrow(new TypeError('env must be an object of environment variables or a getter of one, not 5'))
    await expect(connect({ ...unreachable, env: null as never })).rejects.toThrow(new TypeError('env must be an object of environment variables or a getter of one, not null'))
    await expect(connect({ ...unreachable, trace: {} as never })).rejects.toThrow(/^trace must be a tracer, with one or more of the methods sent\(\), received\(\) and receivedByte\(\)/)
    const scram = /^scram must be \{ maxIterations\?: number, cache\?: SaltedPasswordCache \| null \}$/
    await expect(connect({ ...unreachable, scram: 5 as never })).rejects.toThrow(scram)
    await expect(connect({ ...unreachable, scram: { cache: {} as never } })).rejects.toThrow(scram)
    await expect(connect({ ...unreachable, scram: { maxIterations: '9' as never } })).rejects.toThrow(scram)
  })

  test('a tracer may have only some of its hooks (null for none), as one tracing only what the server sends; none at all, or one that is no function, is a TypeError', async () => {
    const noHooks = /^trace must be a tracer, with one or more of the methods sent\(\), received\(\) and receivedByte\(\) \(createTracer\(\) makes one\)$/
    // Taken: connect() goes on, and fails only at the closed port.
    for (const trace of [{ received() {} }, { sent() {} }, { receivedByte() {} }, { sent: null, received() {} }, new (class { received() {} })()]) {
      await expect(connect({ ...unreachable, trace: trace as never })).rejects.toBeInstanceOf(ConnectionLostError)
    }
    for (const trace of [5, null, 'trace', () => {}, {}, { recieved() {} }, { sent: null, received: undefined }]) {
      await expect(connect({ ...unreachable, trace: trace as never })).rejects.toThrow(noHooks)
    }
    await expect(connect({ ...unreachable, trace: { sent: 5, received() {} } as never })).rejects.toThrow(new TypeError('trace.sent must be a function, not number'))
    await expect(connect({ ...unreachable, trace: { received: 'log' } as never })).rejects.toThrow(new TypeError('trace.received must be a function, not string'))
    await expect(connect({ ...unreachable, trace: { sent() {}, receivedByte: {} } as never })).rejects.toThrow(new TypeError('trace.receivedByte must be a function, not object'))
  })

  test('maxMessageLength must be a number: a string or a bigint is a TypeError showing it as given', async () => {
    await expect(connect({ ...unreachable, maxMessageLength: '100000' as never })).rejects.toThrow(new TypeError('maxMessageLength must be a number of bytes, not "100000"'))
    await expect(connect({ ...unreachable, maxMessageLength: 10n as never })).rejects.toThrow(new TypeError('maxMessageLength must be a number of bytes, not 10n'))
  })
})
