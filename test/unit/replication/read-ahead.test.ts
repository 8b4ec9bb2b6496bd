/**
 * The stream's read-ahead queue: first in, first out, whatever the interleaving, and its array
 * never grows past a bound set by what it holds, for a consumer that never lets it run empty.
 */
import fc from 'fast-check'
import { expect, test } from 'vitest'
import { ReadAhead } from '../../../src/replication/read-ahead.ts'

test('law: items come out in the order they went in, for any interleaving of push and shift', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.constant('shift' as const), fc.integer())), (steps) => {
      const queue = new ReadAhead<number>()
      const model: number[] = []
      for (const step of steps) {
        if (step === 'shift') expect(queue.shift()).toBe(model.shift())
        else {
          queue.push(step)
          model.push(step)
        }
        expect(queue.size).toBe(model.length)
      }
    }),
  )
})

test('a consumer one behind the producer for 200,000 items: the array stays within twice what it holds, plus a fixed slack', () => {
  const queue = new ReadAhead<number>()
  queue.push(0)
  let most = 0
  for (let i = 1; i < 200_000; i++) {
    queue.push(i)
    const taken = queue.shift()
    if (taken !== i - 1) expect.fail(`took ${taken}, not ${i - 1}`)
    most = Math.max(most, queue.capacity)
  }
  expect(queue.size).toBe(1)
  expect(most).toBeLessThanOrEqual(2 * 1 + 2048)
})

test('clear() drops everything', () => {
  const queue = new ReadAhead<string>()
  queue.push('a')
  queue.push('b')
  queue.clear()
  expect([queue.size, queue.capacity, queue.shift()]).toEqual([0, 0, undefined])
})
