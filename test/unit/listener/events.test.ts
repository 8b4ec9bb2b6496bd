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

  test('a handler that is not a function is refused, naming the event', () => {
    const hub = new EventHub<Events>(() => {})
    expect(() => hub.on('tick', 'nope' as never)).toThrow(new TypeError('a handler for "tick" must be a function'))
  })

  test('has() is false before any handler and after the last one goes, true in between', () => {
    const hub = new EventHub<Events>(() => {})
    expect(hub.has('tick')).toBe(false)
    hub.handlers('tick') // the live list now exists, still empty
    expect(hub.has('tick')).toBe(false)
    const off = hub.on('tick', () => {})
    expect(hub.has('tick')).toBe(true)
    off()
    expect(hub.has('tick')).toBe(false)
  })

  test('emitting an event nobody handles does nothing', () => {
    const errors: unknown[] = []
    const hub = new EventHub<Events>((e) => errors.push(e))
    expect(() => hub.emit('tick', 1)).not.toThrow()
    expect(errors).toEqual([])
  })

  test('calling an unsubscribe twice removes nobody else', () => {
    const hub = new EventHub<Events>(() => {})
    const seen: string[] = []
    const off = hub.on('tick', () => void seen.push('a'))
    hub.on('tick', () => void seen.push('b'))
    off()
    off()
    hub.emit('tick', 1)
    expect(seen).toEqual(['b'])
  })

  test('a handler that unsubscribes itself while the event is delivered does not make the next one miss it', () => {
    const hub = new EventHub<Events>(() => {})
    const seen: string[] = []
    const off = hub.on('tick', () => {
      seen.push('a')
      off()
    })
    hub.on('tick', () => void seen.push('b'))
    hub.on('tick', () => void seen.push('c'))
    hub.emit('tick', 1)
    hub.emit('tick', 2)
    expect(seen).toEqual(['a', 'b', 'c', 'b', 'c'])
  })

  test('handlers that return values which are not promises are no error and count for nothing', () => {
    const errors: unknown[] = []
    const hub = new EventHub<Events>((e) => errors.push(e))
    hub.on('tick', () => 42)
    hub.on('tick', () => ({ then: 'not a function' }))
    hub.emit('tick', 1)
    expect([errors, hub.pending]).toEqual([[], 0])
  })

  test('a rejected promise is reported with its event, and no longer counts as pending', async () => {
    const errors: [unknown, string][] = []
    let settled = 0
    const hub = new EventHub<Events>((e, event) => errors.push([e, event]), () => settled++)
    const failure = new Error('async bug')
    hub.on('tick', () => Promise.reject(failure))
    hub.emit('tick', 1)
    expect(hub.pending).toBe(1)
    await new Promise((r) => setTimeout(r, 0))
    expect([hub.pending, settled, errors]).toEqual([0, 1, [[failure, 'tick']]])
  })

  test('forgetPending(): what was pending counts no more, even when it settles later; its errors are still reported', async () => {
    const errors: unknown[] = []
    let settled = 0
    const hub = new EventHub<Events>((e) => errors.push(e), () => settled++)
    const releases: (() => void)[] = []
    let fail!: (e: Error) => void
    hub.on('tick', () => new Promise<void>((r) => releases.push(r)))
    hub.emit('tick', 1)
    hub.emit('tick', 2)
    const failing = hub.on('tick', () => new Promise<void>((_, j) => (fail = j)))
    hub.emit('tick', 3)
    failing()
    expect(hub.pending).toBe(4)
    hub.forgetPending()
    expect(hub.pending).toBe(0)
    hub.emit('tick', 4) // tracked after forgetting: this one counts
    expect(hub.pending).toBe(1)
    releases[0]!()
    fail(new Error('late'))
    await new Promise((r) => setTimeout(r, 0))
    expect([hub.pending, settled]).toEqual([1, 0])
    expect(errors.map((e) => (e as Error).message)).toEqual(['late'])
    releases.at(-1)!()
    await new Promise((r) => setTimeout(r, 0))
    expect([hub.pending, settled]).toEqual([0, 1])
  })

  test('forgetPending(): pending promises stop counting, and their settling later does not count down twice', async () => {
    let settled = 0
    const hub = new EventHub<Events>(() => {}, () => settled++)
    let release!: () => void
    hub.on('tick', () => new Promise<void>((r) => (release = r)))
    hub.emit('tick', 1)
    expect(hub.pending).toBe(1)
    hub.forgetPending()
    expect(hub.pending).toBe(0)
    hub.emit('tick', 2) // a new one, counted
    const second = release
    expect(hub.pending).toBe(1)
    hub.forgetPending()
    hub.emit('tick', 3)
    second()
    await new Promise((r) => setTimeout(r, 0))
    expect(hub.pending).toBe(1) // the forgotten one settling did not take the new one's count
    expect(settled).toBe(0)
  })

  test('emitting with no handlers, or after the last one is removed, calls nothing and fails nothing', () => {
    const hub = new EventHub<Events>(() => {
      throw new Error('no error expected')
    })
    hub.emit('tick', 1)
    const seen: number[] = []
    const off = hub.on('tick', (n) => void seen.push(n))
    hub.emit('tick', 2)
    off()
    hub.emit('tick', 3)
    expect(seen).toEqual([2])
    expect(hub.has('tick')).toBe(false)
  })

  test('a handler that adds another while the event is emitted does not get it called for that event', () => {
    const hub = new EventHub<Events>(() => {})
    const seen: string[] = []
    hub.on('tick', () => {
      seen.push('first')
      hub.on('tick', () => void seen.push('added'))
    })
    hub.on('tick', () => void seen.push('second'))
    hub.emit('tick', 1)
    expect(seen).toEqual(['first', 'second'])
  })

  // Found by review: with one handler, the list was walked live, and a handler it added was called for the event under way.
  test('the only handler adds another while the event is emitted: the added one hears the next event, not this one', () => {
    const hub = new EventHub<Events>(() => {})
    const seen: string[] = []
    hub.on('tick', (n) => {
      seen.push(`first ${n}`)
      if (n === 1) hub.on('tick', (m) => void seen.push(`added ${m}`))
    })
    hub.emit('tick', 1)
    hub.emit('tick', 2)
    expect(seen).toEqual(['first 1', 'first 2', 'added 2'])
  })

  test('a handler removed by an earlier one while the event is emitted is not called for it', () => {
    const hub = new EventHub<Events>(() => {})
    const seen: string[] = []
    let offSecond = () => {}
    hub.on('tick', () => {
      seen.push('first')
      offSecond()
    })
    offSecond = hub.on('tick', () => void seen.push('second'))
    hub.emit('tick', 1)
    expect(seen).toEqual(['first'])
  })

  // Found by review: the check was "is this function in the live list", so one removed and
  // added again by an earlier handler was called at its old place in the event under way.
  test('a handler removed and added again by an earlier one is not called for the event under way: the new registration hears the next event, in its new place', () => {
    const hub = new EventHub<Events>(() => {})
    const seen: string[] = []
    const b = (n: number) => void seen.push(`b${n}`)
    let offB = () => {}
    hub.on('tick', (n) => {
      seen.push(`a${n}`)
      if (n !== 1) return
      offB()
      offB = hub.on('tick', b)
    })
    offB = hub.on('tick', b)
    hub.on('tick', (n) => void seen.push(`c${n}`))
    hub.emit('tick', 1)
    hub.emit('tick', 2)
    expect(seen).toEqual(['a1', 'c1', 'a2', 'c2', 'b2']) // before: a1 b1 c1 a2 c2 b2
  })

  // Found by review: an unsubscribe removed the first registration of its function, whichever it was.
  test('the same function on() twice is called twice; each unsubscribe removes its own registration, once', () => {
    const hub = new EventHub<Events>(() => {})
    let calls = 0
    const f = () => void calls++
    const offFirst = hub.on('tick', f)
    hub.on('tick', f)
    hub.emit('tick', 1)
    expect(calls).toBe(2)
    offFirst()
    offFirst() // before: removed the other registration too
    hub.emit('tick', 2)
    expect(calls).toBe(3)
    expect(hub.has('tick')).toBe(true)
  })

  test('the same function on() twice, one registration removed by an earlier handler while the event is emitted: it is called once', () => {
    const hub = new EventHub<Events>(() => {})
    let calls = 0
    const f = () => void calls++
    let offSecond = () => {}
    hub.on('tick', () => offSecond())
    hub.on('tick', f)
    offSecond = hub.on('tick', f)
    hub.emit('tick', 1)
    expect(calls).toBe(1) // before: 2, as the function was still in the live list
  })

  test('an unsubscribe called after clear() removes nobody added since', () => {
    const hub = new EventHub<{ tick: number; error: Error }>(() => {})
    const seen: string[] = []
    const off = hub.on('tick', () => void seen.push('forgotten'))
    hub.clear('error')
    hub.on('tick', () => void seen.push('a'))
    hub.on('tick', () => void seen.push('b'))
    off()
    hub.emit('tick', 1)
    expect(seen).toEqual(['a', 'b'])
  })

  test("clear(kept): every event's handlers but kept's are forgotten, those of an event under way included", () => {
    const hub = new EventHub<{ tick: number; error: Error }>(() => {})
    const seen: string[] = []
    hub.on('tick', () => {
      seen.push('first')
      hub.clear('error')
    })
    hub.on('tick', () => void seen.push('second'))
    hub.on('error', () => void seen.push('error'))
    hub.emit('tick', 1)
    hub.emit('tick', 2)
    hub.emit('error', new Error('still heard'))
    expect(seen).toEqual(['first', 'error'])
    expect(hub.has('tick')).toBe(false)
  })

  test('a handler that returns null (or any non-promise) is not an error', () => {
    const errors: unknown[] = []
    const hub = new EventHub<Events>((e) => errors.push(e))
    hub.on('tick', () => null)
    hub.on('tick', () => 42)
    hub.emit('tick', 1)
    expect(errors).toEqual([])
    expect(hub.pending).toBe(0)
  })
})
