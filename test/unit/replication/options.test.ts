/**
 * replicate()'s options, checked once at the call (settle): what each refusal says, the
 * defaults, and the bounds a timer sets (a delay past 2^31 - 1 ms fires after 1 ms).
 */
import { describe, expect, test, vi } from 'vitest'
import { settle, type ReplicationOptions } from '../../../src/replication/options.ts'
import { SlotWatch } from '../../../src/replication/watch.ts'
import { foreignAbortController } from '../../support/foreign-signal.ts'

const connect = (() => Promise.reject(new Error('not connected in these tests'))) as never
const base: ReplicationOptions = { slot: 'orders_slot', publications: ['orders'] }
const tooLong = (what: string, ms: number) => new RangeError(`${what} must be at most 2147483647 ms (about 24.8 days, the longest a timer waits), not ${ms}`)

describe('settle', () => {
  test('the defaults: start 0, a 10 s status interval, 1000 changes read ahead, 10 s per attempt, nothing created', () => {
    const s = settle(base, connect)
    expect(s).toMatchObject({ start: 0n, statusInterval: 10_000, highWater: 1000, attemptTimeout: 10_000, create: false, temporary: false, messages: false, receiveTimeout: undefined })
    expect(s.publications).toEqual(['orders'])
    expect(s.publications).not.toBe(base.publications) // a copy: changing the caller's array later changes nothing
  })

  test("each attempt's bound is the listener's: attemptTimeout if given, else connect_timeout for every host (from the connection's PG* variables or its string) when longer than 10 s", () => {
    expect(settle({ ...base, connection: { env: { PGHOST: 'a,b', PGCONNECT_TIMEOUT: '7' }, user: 'u' } }, connect).attemptTimeout).toBe(14_000)
    expect(settle({ ...base, connection: 'postgres://u@h1,h2,h3/db?connect_timeout=5' }, connect).attemptTimeout).toBe(15_000)
    expect(settle({ ...base, connection: { env: { PGHOST: 'a,b', PGCONNECT_TIMEOUT: '7' }, user: 'u' }, reconnect: { attemptTimeout: 50 } }, connect).attemptTimeout).toBe(50)
  })

  test('what is not an options object, or a publication that is not a non-empty string, is refused with its words', () => {
    for (const o of [null, undefined, 5, 'orders_slot']) {
      expect(() => settle(o as never, connect)).toThrow(new TypeError('replicate() takes an options object with slot and publications'))
    }
    for (const name of ['', 5, null]) {
      expect(() => settle({ ...base, publications: ['orders', name as never] }, connect)).toThrow(new TypeError('publications: each name must be a non-empty string'))
    }
  })

  test('a signal that is no AbortSignal is refused with its words (it was "signal.addEventListener is not a function", and null was no signal); one of another realm is taken', () => {
    for (const signal of [{}, 'stop', 5, null]) expect(() => settle({ ...base, signal: signal as never }, connect)).toThrow(new TypeError('signal must be an AbortSignal'))
    expect(() => settle({ ...base, signal: foreignAbortController().signal }, connect)).not.toThrow()
    expect(() => settle({ ...base, signal: new AbortController().signal }, connect)).not.toThrow()
  })

  test('the edges that are allowed: highWater 1, protocolVersion 1 to 4; receiveTimeout 0 is not', () => {
    expect(settle({ ...base, highWater: 1 }, connect).highWater).toBe(1)
    for (const protocolVersion of [1, 2, 3, 4] as const) expect(settle({ ...base, protocolVersion }, connect).protocolVersion).toBe(protocolVersion)
    expect(() => settle({ ...base, receiveTimeout: 0 }, connect)).toThrow(new RangeError('receiveTimeout must be a positive number of milliseconds, not 0'))
    expect(settle({ ...base, receiveTimeout: 1 }, connect).receiveTimeout).toBe(1)
  })

  test('twoPhase and streaming: off unless asked for, kept as given, with the first protocol versions that carry them', () => {
    expect(settle(base, connect)).toMatchObject({ twoPhase: false, streaming: false })
    expect(settle({ ...base, twoPhase: true, streaming: true }, connect)).toMatchObject({ twoPhase: true, streaming: true })
    expect(settle({ ...base, streaming: true, protocolVersion: 2 }, connect)).toMatchObject({ streaming: true, protocolVersion: 2 })
    expect(settle({ ...base, twoPhase: true, protocolVersion: 3 }, connect)).toMatchObject({ twoPhase: true, protocolVersion: 3 })
    expect(settle({ ...base, start: 2n ** 64n - 1n }, connect).start).toBe(2n ** 64n - 1n)
    const json = (text: string) => `json ${text}`
    expect(settle({ ...base, parse: { 114: json } }, connect).parse('{}', 114)).toBe('json {}')
  })

  test('a malformed connection string is refused at the call', () => {
    expect(() => settle({ ...base, connection: 'host=h bogus=1' }, connect)).toThrow(/unknown option "bogus"/)
  })

  test('a connection string becomes connectionString; start is read as an LSN', () => {
    const s = settle({ ...base, connection: 'postgres://localhost/db', start: '16/B374D848' }, connect)
    expect(s.connection).toEqual({ connectionString: 'postgres://localhost/db' })
    expect(s.start).toBe(0x16_b374_d848n)
  })

  test.each<[string, Partial<ReplicationOptions>, Error]>([
    ['statusInterval', { statusInterval: 0 }, new RangeError('statusInterval must be a positive number of milliseconds, not 0')],
    ['statusInterval', { statusInterval: Infinity }, new RangeError('statusInterval must be a positive number of milliseconds, not Infinity')],
    ['statusInterval', { statusInterval: 2 ** 31 }, tooLong('statusInterval', 2 ** 31)],
    ['receiveTimeout', { receiveTimeout: -1 }, new RangeError('receiveTimeout must be a positive number of milliseconds, not -1')],
    ['highWater', { highWater: 0 }, new RangeError('highWater must be a positive integer, not 0')],
    ['highWater', { highWater: 1.5 }, new RangeError('highWater must be a positive integer, not 1.5')],
    ['protocolVersion', { protocolVersion: 5 as never }, new RangeError('protocolVersion must be 1, 2, 3 or 4, not 5')],
    ['start', { start: -1n }, new RangeError('start must be an LSN, from 0 to 2^64 - 1, not -1')],
    // Found by review, with the five below: accepted, then refused by the server, ignored, or failing mid-stream.
    ['start', { start: 2n ** 64n }, new RangeError('start must be an LSN, from 0 to 2^64 - 1, not 18446744073709551616')],
    ['streaming', { streaming: true, protocolVersion: 1 }, new RangeError('streaming needs protocolVersion 2 or later')],
    ['twoPhase', { twoPhase: true, protocolVersion: 2 }, new RangeError('twoPhase needs protocolVersion 3 or later')],
    ['parse', { parse: 'json' as never }, new TypeError('parse must be a function (text, typeOid) or an object of functions keyed by type OID')],
    ['parse', { parse: { json: (text: string) => text } as never }, new TypeError('parse: the keys are type OIDs (114 for json), not "json"')],
    ['parse', { parse: { '114 json': (text: string) => text } as never }, new TypeError('parse: the keys are type OIDs (114 for json), not "114 json"')],
    ['parse', { parse: { 'json 114': (text: string) => text } as never }, new TypeError('parse: the keys are type OIDs (114 for json), not "json 114"')],
    ['parse', { parse: { 114: 42 } as never }, new TypeError('parse: the override for type 114 must be a function')],
    ['publications', { publications: [] }, new TypeError('publications: give at least one publication name')],
    ['publications', { publications: [''] }, new TypeError('publications: each name must be a non-empty string')],
    ['slot', { slot: 'Orders' }, new RangeError('slot name "Orders" is not valid: PostgreSQL takes 1 to 63 lower-case letters, digits and underscores')],
  ])('refuses %s, saying which option and what it was', (_name, bad, error) => {
    expect(() => settle({ ...base, ...bad }, connect)).toThrow(error)
  })

  test('the longest status interval a timer keeps is taken; a receiveTimeout past it too (it is compared, not a timer)', () => {
    expect(settle({ ...base, statusInterval: 2 ** 31 - 1 }, connect).statusInterval).toBe(2 ** 31 - 1)
    expect(settle({ ...base, receiveTimeout: 2 ** 40 }, connect).receiveTimeout).toBe(2 ** 40)
  })
})

describe('SlotWatch', () => {
  test('an interval past a timer\'s range is refused at the call, not run every millisecond', () => {
    vi.useFakeTimers()
    try {
      const look = vi.fn(() => new Promise<never>(() => {}))
      expect(() => new SlotWatch('s', { interval: 2 ** 31 }, look)).toThrow(tooLong('watch.interval', 2 ** 31))
      const watch = new SlotWatch('s', { interval: 2 ** 31 - 1 }, look)
      vi.advanceTimersByTime(1000)
      expect(look).not.toHaveBeenCalled()
      void watch.close()
      expect(vi.getTimerCount()).toBe(0)
    } finally {
      vi.useRealTimers()
    }
  })
})
