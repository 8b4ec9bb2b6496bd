/**
 * When the stall clock of the 'notification' handlers starts. A handler added while what no
 * consumer took holds the socket paused takes all of it, and has stallTimeout from then to make
 * progress, whatever else is pending: an async 'gap' handler still re-reading state after a
 * reconnect, or a 'connected' handler warming a cache, is no 'notification' handler that was
 * already waiting.
 */
import { afterEach, beforeEach, expect, test, vi } from 'vitest'
import { Delivery } from '../../../src/listener/delivery.ts'
import { ConsumerStalledError } from '../../../src/listener/errors.ts'
import { EventHub } from '../../../src/listener/events.ts'
import type { ListenerEvents } from '../../../src/listener/listener-types.ts'
import type { Notification } from '../../../src/listener/subscription.ts'

const note = (payload: string): Notification => ({ type: 'NotificationResponse', processId: 1, channel: 'a', payload })

beforeEach(() => vi.useFakeTimers())
afterEach(() => vi.useRealTimers())

test.each([
  ["a 'gap' handler still re-reading state", 'gap'],
  ["a 'connected' handler still warming a cache", 'connected'],
] as const)('the first notification handler, added while what is held pauses the socket and %s, is given stallTimeout from then', (_, event) => {
  const errors: Error[] = []
  let delivery!: Delivery
  const events = new EventHub<ListenerEvents>((e) => errors.push(e as Error), () => delivery.settled())
  events.on('error', (e) => void errors.push(e))
  delivery = new Delivery(events, { highWaterMark: 4, lowWaterMark: 1, stallTimeout: 1000 })
  delivery.listened = new Set(['a'])
  delivery.attach(() => {})
  // The other event's handler runs for longer than the test: one promise pending, under lowWaterMark.
  events.on(event, () => new Promise(() => {}))
  if (event === 'gap') events.emit('gap', { type: 'Gap', from: new Date(), to: new Date(), cause: undefined })
  else events.emit('connected', { processId: 1 })
  expect(events.pending).toBe(1)
  for (let i = 1; i <= 4; i++) delivery.deliver(note(String(i))) // held for a consumer to come: paused at t = 0
  expect(delivery.paused).toBe(true)
  vi.advanceTimersByTime(900)
  const release: (() => void)[] = []
  events.on('notification', () => new Promise<void>((resolve) => release.push(resolve)))
  delivery.handlerAdded() // takes the four held: its promises now hold the socket
  expect(release).toHaveLength(4)
  vi.advanceTimersByTime(200) // 1100 ms after the pause, 200 ms after the handler came
  // Before: "'notification' handlers left 5 promises unsettled for 1000 ms" (its clock was the pause's).
  expect(errors).toEqual([])
  vi.advanceTimersByTime(800) // 1000 ms after the handler came, with nothing settled
  expect(errors.map((e) => (e as ConsumerStalledError).consumer)).toEqual(["'notification' handlers"])
})

test('a handler added after one whose promises never settle was removed restarts no clock: those promises, still holding the socket, are cut on time', () => {
  const errors: Error[] = []
  let delivery!: Delivery
  const events = new EventHub<ListenerEvents>((e) => errors.push(e as Error), () => delivery.settled())
  events.on('error', (e) => void errors.push(e))
  delivery = new Delivery(events, { highWaterMark: 4, lowWaterMark: 1, stallTimeout: 1000 })
  delivery.listened = new Set(['a'])
  delivery.attach(() => {})
  const off = events.on('notification', () => new Promise(() => {}))
  delivery.handlerAdded()
  for (let i = 1; i <= 4; i++) delivery.deliver(note(String(i))) // four promises that never settle: paused at t = 0
  expect(delivery.paused).toBe(true)
  vi.advanceTimersByTime(900)
  off() // its promises still count: they hold the socket
  delivery.deliver(note('5')) // read before the pause took hold: no handler now, so held
  events.on('notification', () => undefined)
  delivery.handlerAdded()
  vi.advanceTimersByTime(150) // 1050 ms after the pause, with nothing settled since
  // Before: nothing until 1900 ms, as the new handler restarted the clock of the promises it found.
  expect(errors.map((e) => (e as ConsumerStalledError).consumer)).toEqual(["'notification' handlers"])
})
