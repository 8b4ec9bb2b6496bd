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

test('room is given back: at once when the queue runs empty, and the taken front once it is at least 1,024 items and half the array, never sooner', () => {
  const emptied = new ReadAhead<number>()
  for (let i = 0; i < 3; i++) emptied.push(i)
  for (let i = 0; i < 3; i++) emptied.shift()
  expect(emptied.capacity).toBe(0)

  // One behind the producer: the front is dropped on the 1,024th take, not before (a copy on
  // every take would cost what is left each time), and the order is kept across the copy.
  const behind = new ReadAhead<number>()
  behind.push(0)
  const capacities: number[] = []
  for (let i = 1; i <= 1024; i++) {
    behind.push(i)
    expect(behind.shift()).toBe(i - 1)
    capacities.push(behind.capacity)
  }
  expect(capacities.slice(0, 1023)).toEqual(Array.from({ length: 1023 }, (_, i) => i + 2)) // nothing dropped yet
  expect(capacities[1023]).toBe(1) // the 1,024th take dropped the front
  expect(behind.shift()).toBe(1024)

  // At least half: 1,024 taken of 2,048 is dropped; 1,024 taken of 10,000 is not yet.
  const half = new ReadAhead<number>()
  for (let i = 0; i < 2048; i++) half.push(i)
  for (let i = 0; i < 1024; i++) half.shift()
  expect([half.capacity, half.size, half.shift()]).toEqual([1024, 1024, 1024])
  const long = new ReadAhead<number>()
  for (let i = 0; i < 10_000; i++) long.push(i)
  for (let i = 0; i < 1024; i++) long.shift()
  expect([long.capacity, long.size]).toEqual([10_000, 8976])
})
