/**
 * What `pglisten listen` says when a reconnect succeeded but its connection was lost sooner
 * than the wait before it: the listener counts that attempt as failed, so the next
 * 'reconnecting' after 'connected' goes on counting, and the line says why.
 */
import { expect, test } from 'vitest'
import { ReconnectReport } from '../../../src/cli/reconnect-report.ts'
import { ListenerError } from '../../../src/listener/errors.ts'

function reporting() {
  const lines: string[] = []
  const report = new ReconnectReport((line) => lines.push(line), 30_000)
  const next = (attempt: number, maxAttempts = 3) => report.reconnecting({ attempt, maxAttempts, delay: 250, error: undefined })
  return { lines, report, next }
}

test('the count going on after a reconnect says that the attempt before connected, and was lost too soon', () => {
  const { lines, next, report } = reporting()
  next(1)
  report.connected()
  next(2)
  report.connected()
  next(3)
  report.connected()
  report.gaveUp(new ListenerError('gave up after 3 attempts to reconnect (the last one connected, but was lost after 2 ms, sooner than the up to 1000 ms waited before it)'))
  expect(lines).toEqual([
    'reconnecting: attempt 1 of 3 in 0.25 s',
    'reconnecting: attempt 2 of 3 in 0.25 s (attempt 1 connected, but was lost too soon to count as a success)',
    'reconnecting: attempt 3 of 3 in 0.25 s (attempt 2 connected, but was lost too soon to count as a success)',
    'gave up after 3 attempts to reconnect (the last one connected, but was lost after 2 ms, sooner than the up to 1000 ms waited before it)',
  ])
})

test('a connection that stayed up starts the count over: attempt 1 after it says nothing more', () => {
  const { lines, next, report } = reporting()
  next(1)
  next(2)
  report.connected()
  next(1)
  expect(lines).toEqual(['reconnecting: attempt 1 of 3 in 0.25 s', 'reconnecting: attempt 2 of 3 in 0.25 s', 'reconnecting: attempt 1 of 3 in 0.25 s'])
})
