/** The lifecycle table: what is allowed, what is not, and laws any sequence of events obeys. */
import { fc, test as prop } from '@fast-check/vitest'
import { describe, expect, test } from 'vitest'
import { Lifecycle, nextState, transitions, type LifecycleEvent, type ListenerState } from '../../../src/listener/lifecycle.ts'

const states = Object.keys(transitions) as ListenerState[]
const events: LifecycleEvent[] = ['start', 'connected', 'failed', 'paused', 'resumed', 'lost', 'attempt', 'gaveUp', 'close']

describe('the table', () => {
  test('the paths a listener takes', () => {
    const walk = (...path: LifecycleEvent[]) => {
      const l = new Lifecycle()
      return path.map((event) => l.to(event))
    }
    expect(walk('start', 'connected', 'paused', 'resumed', 'lost', 'attempt', 'failed', 'attempt', 'connected', 'close'))
      .toEqual(['connecting', 'listening', 'backlogged', 'listening', 'lost', 'reconnecting', 'lost', 'reconnecting', 'listening', 'closed'])
    expect(walk('start', 'failed', 'start', 'connected')).toEqual(['connecting', 'idle', 'connecting', 'listening'])
    expect(walk('start', 'connected', 'paused', 'lost', 'gaveUp')).toEqual(['connecting', 'listening', 'backlogged', 'lost', 'closed'])
  })

  test('close is allowed from every state but closed, and leads to closed', () => {
    for (const state of states) expect(nextState(state, 'close')).toBe(state === 'closed' ? undefined : 'closed')
  })

  test('closed is final: no event leaves it', () => {
    for (const event of events) expect(nextState('closed', event)).toBeUndefined()
  })

  test('only a live connection can be lost, paused or resumed; only a lost one retried or given up', () => {
    const from = (event: LifecycleEvent) => states.filter((s) => nextState(s, event) !== undefined).sort()
    expect(from('lost')).toEqual(['backlogged', 'listening'])
    expect(from('paused')).toEqual(['listening'])
    expect(from('resumed')).toEqual(['backlogged'])
    expect(from('attempt')).toEqual(['lost'])
    expect(from('gaveUp')).toEqual(['lost'])
    expect(from('connected')).toEqual(['connecting', 'reconnecting'])
  })

  test('an event the table does not allow throws and changes nothing', () => {
    const l = new Lifecycle()
    expect(() => l.to('lost')).toThrow(/"lost" is not allowed in state "idle"/)
    expect(l.state).toBe('idle')
  })

  test('connected is true exactly while listening or backlogged; can() answers from the table', () => {
    const l = new Lifecycle()
    const seen: [string, boolean, boolean, boolean][] = []
    for (const event of ['start', 'connected', 'paused', 'resumed', 'lost', 'attempt', 'failed', 'gaveUp'] as LifecycleEvent[]) {
      l.to(event)
      seen.push([l.state, l.connected, l.can('lost'), l.can('close')])
    }
    expect(seen).toEqual([
      ['connecting', false, false, true],
      ['listening', true, true, true],
      ['backlogged', true, true, true],
      ['listening', true, true, true],
      ['lost', false, false, true],
      ['reconnecting', false, false, true],
      ['lost', false, false, true],
      ['closed', false, false, false],
    ])
  })

  test('onChange hears every move', () => {
    const moves: string[] = []
    const l = new Lifecycle((from, to, event) => moves.push(`${from} -${event}-> ${to}`))
    l.to('start')
    l.to('close')
    expect(moves).toEqual(['idle -start-> connecting', 'connecting -close-> closed'])
  })
})

describe('laws', () => {
  prop.prop([fc.array(fc.constantFrom(...events), { maxLength: 40 })])('to() throws exactly when the table has no entry, and connected means listening or backlogged', (sequence) => {
    const l = new Lifecycle()
    for (const event of sequence) {
      const before = l.state
      const expected = nextState(before, event)
      if (expected === undefined) {
        expect(() => l.to(event)).toThrow()
        expect(l.state).toBe(before)
      } else {
        expect(l.to(event)).toBe(expected)
      }
      expect(l.can(event)).toBe(nextState(l.state, event) !== undefined)
      expect(l.connected).toBe(l.state === 'listening' || l.state === 'backlogged')
    }
  })

  prop.prop([fc.array(fc.constantFrom(...events), { maxLength: 40 })])('from any reachable state, close() reaches closed', (sequence) => {
    const l = new Lifecycle()
    for (const event of sequence) if (l.can(event)) l.to(event)
    if (l.state !== 'closed') l.to('close')
    expect(l.state).toBe('closed')
  })
})
