/**
 * What was held goes to a 'notification' handler once on() has returned (listener.ts queues
 * handlerAdded() in a microtask), or earlier, when something comes first (Holding.release(),
 * holding.ts). These tests call into Delivery between on() and that microtask, as a user's
 * next line would.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import type { Watermarks } from '../../../src/listener/delivery.ts'
import { ConsumerStalledError } from '../../../src/listener/errors.ts'
import { Subscription, type Notification } from '../../../src/listener/subscription.ts'
import { deliverySetup } from '../../support/delivery.ts'

const note = (payload: string, channel = 'a'): Notification => ({ type: 'NotificationResponse', processId: 1, channel, payload })

/** Collected errors, the channels a and b, on() releasing a microtask later: see test/support/delivery.ts. */
const setup = (options: Watermarks = {}) => deliverySetup(options)

describe('between on() and the release', () => {
  test('on() then off(): what was held stays, for the next consumer, and still holds the socket', async () => {
    const { delivery, on, iterator, isReading } = setup({ highWaterMark: 2, lowWaterMark: 0, stallTimeout: false })
    delivery.deliver(note('1'))
    delivery.deliver(note('2'))
    expect(isReading()).toBe(false)
    const heard: string[] = []
    on((n) => void heard.push(n.payload))()
    await null
    expect(heard).toEqual([])
    expect(isReading()).toBe(false)
    expect(iterator().length).toBe(2)
  })

  test('two on() in a row: both hear what was held, once each', async () => {
    const { delivery, on } = setup()
    delivery.deliver(note('1'))
    const heard: string[] = []
    on((n) => void heard.push(`A${n.payload}`))
    on((n) => void heard.push(`B${n.payload}`))
    await null
    expect(heard).toEqual(['A1', 'B1'])
  })

  test('on() at the high-water mark: the release resumes the socket', async () => {
    const { delivery, on, isReading } = setup({ highWaterMark: 2, lowWaterMark: 0, stallTimeout: false })
    delivery.deliver(note('1'))
    delivery.deliver(note('2'))
    expect(isReading()).toBe(false)
    on(() => undefined)
    await null
    expect(isReading()).toBe(true)
  })

  test('after the listener gave up, an iterator made on the line after on() does not take what was held from the handler', async () => {
    const { delivery, on } = setup()
    delivery.deliver(note('1'))
    const error = new Error('gave up')
    delivery.fail(error)
    const heard: string[] = []
    on((n) => void heard.push(n.payload))
    const late = new Subscription({ onDrain: (sub) => delivery.drained(sub) })
    delivery.failLate(late, error) // as iterate() does once the listener gave up
    await null
    expect(heard).toEqual(['1']) // before: [], the iterator had taken it
    await expect(late.next()).rejects.toBe(error)
  })

  describe('the stall clock', () => {
    beforeEach(() => void vi.useFakeTimers())
    afterEach(() => void vi.useRealTimers())

    // The socket paused at 0 for what was held; a handler that never settles comes at 900. Its
    // stall clock starts when it is given what was held, whatever gave it: before, an iterator
    // (or an UNLISTEN, a notification, a Gap) made on the line after on() released it first, and
    // handlerAdded(), a microtask later, saw the handler's promises pending and left its clock
    // at the listener's start: it was cut off at 1000, 100 ms after it came.
    test.each(['iterator', 'unlisten', 'notification', 'gap'] as const)('a handler given what was held is not cut off sooner than stallTimeout after, when %s comes before the microtask', async (comes) => {
      const { delivery, errors, on, iterator } = setup({ highWaterMark: 4, lowWaterMark: 1, stallTimeout: 1000 })
      for (let i = 0; i < 4; i++) delivery.deliver(note(String(i)))
      vi.advanceTimersByTime(900)
      on(() => new Promise(() => {}))
      if (comes === 'iterator') iterator(['b'])
      if (comes === 'unlisten') (delivery.listened = new Set(['a']), delivery.unlistened())
      if (comes === 'notification') delivery.deliver(note('4'))
      if (comes === 'gap') delivery.gap({ type: 'Gap', from: new Date(0), to: new Date(1), cause: undefined })
      await null
      vi.advanceTimersByTime(100)
      expect(errors).toEqual([])
      vi.advanceTimersByTime(900)
      expect(errors.map((e) => (e as ConsumerStalledError).consumer)).toEqual(["'notification' handlers"])
    })
  })
})
