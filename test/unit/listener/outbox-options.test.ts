/**
 * outbox(listener, options) at the call: a bad readTimeout or retry throws there (not from the
 * first next()); and pglisten/changes and pglisten/outbox refuse what is not a Listener.
 */
import { describe, expect, test } from 'vitest'
import { Listener } from '../../../src/index.ts'
import { changes, ddlChanges } from '../../../src/changes.ts'
import { readTimeoutOf, retryBackoff } from '../../../src/listener/outbox-options.ts'
import { outbox } from '../../../src/outbox.ts'

describe('readTimeoutOf', () => {
  test('30 s by default, the value given if positive, RangeError otherwise', () => {
    expect(readTimeoutOf({})).toBe(30_000)
    expect(readTimeoutOf({ readTimeout: 1 })).toBe(1)
    for (const readTimeout of [0, -1, Number.NaN]) expect(() => readTimeoutOf({ readTimeout })).toThrow(new RangeError(`readTimeout must be positive, not ${readTimeout}`))
    expect(() => readTimeoutOf({ readTimeout: 2 ** 31 })).toThrow(new RangeError('readTimeout must be at most 2147483647 ms (about 24.8 days, the longest a timer waits), not 2147483648'))
  })

  test('retry: 250 ms to 30 s by default, the delays given, RangeError for delays the Backoff refuses', () => {
    expect(retryBackoff({})).toMatchObject({ minDelay: 250, maxDelay: 30_000 })
    expect(retryBackoff({ retry: { minDelay: 5, maxDelay: 6 } })).toMatchObject({ minDelay: 5, maxDelay: 6 })
    expect(() => retryBackoff({ retry: { minDelay: 10, maxDelay: 1 } })).toThrow(RangeError)
  })

  test('outbox(listener, options) throws each at the call, before connecting anything', async () => {
    const listener = new Listener({ host: '127.0.0.1', port: 1, user: 'nobody', password: 'x', env: {} }) // never started
    try {
      const options = { channel: 'c', read: async () => [], cursor: () => 0 }
      expect(() => outbox(listener, { ...options, readTimeout: 0 })).toThrow(RangeError)
      expect(() => outbox(listener, { ...options, retry: { minDelay: 10, maxDelay: 1 } })).toThrow(RangeError)
      // A read that is no function failed each read, retried for ever without ending.
      expect(() => outbox(listener, { ...options, read: 5 as never })).toThrow(new TypeError('read must be a function, not number'))
      expect(() => outbox(listener, { ...options, cursor: undefined as never })).toThrow(new TypeError('cursor must be a function, not undefined'))
      expect(() => outbox(listener, { ...options, save: 'no' as never })).toThrow(new TypeError('save must be a function, not string'))
      expect(() => outbox(listener, { ...options, read: null as never })).toThrow(new TypeError('read must be a function, not null'))
      expect(() => outbox(listener, { ...options, compare: null as never, save: null as never, load: null as never })).not.toThrow() // none, as connect()'s handlers
      expect(() => outbox(listener, { ...options, signal: {} as never })).toThrow(new TypeError('signal must be an AbortSignal'))
      expect(() => outbox(listener, null as never)).toThrow(new TypeError('the options must be an object, not null'))
      expect(() => outbox(listener, { ...options, load: undefined, save: undefined, compare: undefined })).not.toThrow()
      // The change feeds' options too: null was "Cannot read properties of null".
      expect(() => changes(listener, 'public.t', null as never)).toThrow(new TypeError('the options must be an object, not null'))
      expect(() => ddlChanges(listener, null as never)).toThrow(new TypeError('the options must be an object, not null'))
    } finally {
      await listener.close()
    }
  })
})

describe('the functions that take a listener', () => {
  test('refuse anything else with a TypeError that says what they take', () => {
    const options = { channel: 'c', read: async () => [], cursor: () => 0 }
    for (const notListener of [undefined, null, {}, { changes: () => {} }]) {
      expect(() => changes(notListener as never, 'public.t')).toThrow(new TypeError('changes() takes a Listener (from createListener() or new Listener()) as its first argument'))
      expect(() => ddlChanges(notListener as never)).toThrow(new TypeError('ddlChanges() takes a Listener (from createListener() or new Listener()) as its first argument'))
      expect(() => outbox(notListener as never, options)).toThrow(new TypeError('outbox() takes a Listener (from createListener() or new Listener()) as its first argument'))
    }
  })
})
