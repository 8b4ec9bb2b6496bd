/**
 * The listener's errors say what they are: the name is what a stack trace, util.inspect and a
 * log line show first, and what a caller without the class at hand can match on.
 */
import { inspect } from 'node:util'
import { describe, expect, test } from 'vitest'
import { ConsumerStalledError, ListenerError } from '../../../src/listener/errors.ts'
import { PgListenError } from '../../../src/protocol/errors.ts'

describe('listener errors', () => {
  test('a ListenerError is named ListenerError, in its name, its stack and its printed form', () => {
    const error = new ListenerError('the listener is closed')
    expect(error).toBeInstanceOf(PgListenError)
    expect(error.name).toBe('ListenerError')
    expect(String(error)).toBe('ListenerError: the listener is closed')
    expect(inspect(error)).toMatch(/^ListenerError: the listener is closed\n/)
  })

  test('a ConsumerStalledError is named ConsumerStalledError, is a ListenerError, and says which consumer and how far behind', () => {
    const error = new ConsumerStalledError('iterator #3 read nothing for 1000 ms', 'iterator #3', 42)
    expect(error).toBeInstanceOf(ListenerError)
    expect(error.name).toBe('ConsumerStalledError')
    expect(String(error)).toBe('ConsumerStalledError: iterator #3 read nothing for 1000 ms')
    expect(error.consumer).toBe('iterator #3')
    expect(error.behind).toBe(42)
  })
})
