/**
 * The bench's Interruption once the bench is done with it: a SIGHUP after the first signal is
 * the same hang-up told again (src/cli/stop-signals.ts), also while the process leaves, once
 * remove() has taken the handlers off. The signals are emitted on `process`, not sent: the
 * listeners are what is under test, and a real SIGHUP with none would end the test's process.
 */
import { afterEach, expect, test } from 'vitest'
import { Interruption } from '../../../src/cli/bench/interruption.ts'

const before = new Map(['SIGINT', 'SIGTERM', 'SIGHUP'].map((signal) => [signal, process.listeners(signal as NodeJS.Signals)]))
afterEach(() => {
  for (const [signal, listeners] of before) {
    for (const listener of process.listeners(signal as NodeJS.Signals)) if (!listeners.includes(listener)) process.off(signal, listener)
  }
})

test('stopped by a signal, the bench still ignores SIGHUP after remove(): leaving, it is not killed by the hang-up told again', () => {
  const heard: string[] = []
  const interruption = new Interruption((signal) => heard.push(signal))
  process.emit('SIGHUP', 'SIGHUP')
  expect(heard).toEqual(['SIGHUP'])
  expect(interruption.status).toBe(129)
  interruption.remove()
  // A listener, so that a SIGHUP now is not the signal's default action (death); and no
  // SIGINT or SIGTERM one: those still end a process that is leaving, as they would anyway.
  expect(process.listenerCount('SIGHUP')).toBe(before.get('SIGHUP')!.length + 1)
  expect(process.listenerCount('SIGINT')).toBe(before.get('SIGINT')!.length)
  process.emit('SIGHUP', 'SIGHUP')
  expect(heard).toEqual(['SIGHUP'])
})

test('never stopped, remove() leaves no listener: SIGHUP kills a bench that is done, as it kills any process', () => {
  const interruption = new Interruption(() => {})
  interruption.remove()
  for (const [signal, listeners] of before) expect(process.listenerCount(signal), signal).toBe(listeners.length)
})
