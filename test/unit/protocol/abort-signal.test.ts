/**
 * checkSignal, connect()'s and the listener's one check of a caller's signal: by what pglisten
 * uses of it (aborted, addEventListener, removeEventListener), as Node's validateAbortSignal
 * checks by shape, so that a signal of another realm or a polyfill's is taken.
 */
import { describe, expect, test } from 'vitest'
import { checkSignal } from '../../../src/protocol/abort-signal.ts'
import { checkSignal as listenersCheck } from '../../../src/listener/connect-options.ts'
import { foreignAbortController } from '../../support/foreign-signal.ts'

const refused = new TypeError('signal must be an AbortSignal')

describe('checkSignal', () => {
  test('takes undefined, a native signal, and one from another realm, which is no instanceof AbortSignal', () => {
    const foreign = foreignAbortController().signal
    expect(foreign).not.toBeInstanceOf(AbortSignal) // the premise
    for (const signal of [undefined, new AbortController().signal, AbortSignal.abort(), foreign]) {
      expect(() => checkSignal(signal)).not.toThrow()
    }
  })

  test("takes a polyfill's signal of this realm: an object with aborted and both listener methods, reason or not", () => {
    const polyfill = { aborted: false, addEventListener() {}, removeEventListener() {} }
    expect(() => checkSignal(polyfill)).not.toThrow()
    // The methods may come from its class, as they do on a real one.
    class PolyfillSignal {
      aborted = false
      addEventListener(): void {}
      removeEventListener(): void {}
    }
    expect(() => checkSignal(new PolyfillSignal())).not.toThrow()
  })

  test('refuses, with the same TypeError as ever, anything lacking what is used of a signal', () => {
    const listen = { addEventListener() {}, removeEventListener() {} }
    const notSignals: unknown[] = [
      null,
      false,
      5,
      'signal',
      {},
      new AbortController(), // the controller, not its signal
      () => {},
      listen, // no aborted to read
      { aborted: false }, // nothing to listen with
      { aborted: false, addEventListener() {} }, // nothing to stop listening with
      { ...listen, aborted: false, removeEventListener: 'no' },
    ]
    for (const value of notSignals) expect(() => checkSignal(value)).toThrow(refused)
  })

  test("is the listener's check too: one place decides what a signal is", () => {
    expect(listenersCheck).toBe(checkSignal)
  })
})
