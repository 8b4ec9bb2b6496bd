/** The event hub: a throwing or rejecting handler stops nobody and reaches onError. */
import { describe, expect, test } from 'vitest'
import { EventHub } from '../../../src/listener/events.ts'

interface Events {
  tick: number
}

describe('EventHub', () => {
  test('every handler runs, whatever the others throw; errors go to onError', async () => {
    const errors: unknown[] = []
    const hub = new EventHub<Events>((e) => errors.push(e))
    const seen: number[] = []
    hub.on('tick', () => {
      throw new Error('sync bug')
    })
    hub.on('tick', (n) => void seen.push(n))
    hub.on('tick', async () => {
      throw new Error('async bug')
    })
    hub.emit('tick', 1)
    expect(seen).toEqual([1])
    await new Promise((r) => setTimeout(r, 0))
    expect(errors.map((e) => (e as Error).message)).toEqual(['sync bug', 'async bug'])
  })

  test('pending counts unsettled promises from handlers; onSettled hears each settle', async () => {
    let settled = 0
    const hub = new EventHub<Events>(() => {}, () => settled++)
    let release!: () => void
    hub.on('tick', () => new Promise<void>((r) => (release = r)))
    hub.emit('tick', 1)
    expect(hub.pending).toBe(1)
    release()
    await new Promise((r) => setTimeout(r, 0))
    expect([hub.pending, settled]).toEqual([0, 1])
  })

  test('the function on() returns unsubscribes', () => {
    const hub = new EventHub<Events>(() => {})
    const seen: number[] = []
    const off = hub.on('tick', (n) => void seen.push(n))
    hub.emit('tick', 1)
    off()
    hub.emit('tick', 2)
    expect(seen).toEqual([1])
    expect(hub.has('tick')).toBe(false)
  })

  test('an onError that throws is contained', () => {
    const hub = new EventHub<Events>(() => {
      throw new Error('error handler bug')
    })
    hub.on('tick', () => {
      throw new Error('bug')
    })
    expect(() => hub.emit('tick', 1)).not.toThrow()
  })

  test('a handler that is not a function is refused', () => {
    const hub = new EventHub<Events>(() => {})
    expect(() => hub.on('tick', 'nope' as never)).toThrow(TypeError)
  })
})
