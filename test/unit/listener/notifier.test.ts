/** The notifier's connection: opened once, opened again when known gone, never reused dead, closed with the listener. */
import { getEventListeners } from 'node:events'
import { describe, expect, test } from 'vitest'
import { ConnectionLostError } from '../../../src/protocol/errors.ts'
import { ListenerError } from '../../../src/listener/errors.ts'
import { Notifier, type NotifierOpen } from '../../../src/listener/notifier.ts'

class FakeConnection {
  isClosed = false
  closes = 0
  constructor(readonly processId: number, readonly how: NotifierOpen) {}
  async close() {
    this.closes++
    this.isClosed = true
  }
  /** As the last ReadyForQuery said: 'E' is a failed transaction block. */
  transactionStatus: 'I' | 'T' | 'E' = 'I'
  /** What the notifier itself sent on it (its operations run no SQL here). */
  readonly queries: string[] = []
  async query(sql: string) {
    this.queries.push(sql)
    if (sql === 'ROLLBACK') this.transactionStatus = 'I'
    return []
  }
  /** Why abort() dropped it. */
  abortedWith: Error | undefined
  abort(reason: Error) {
    this.isClosed = true
    this.abortedWith = reason
  }
  /** The server hung up while it sat idle. */
  drop() {
    this.isClosed = true
  }
}

function setup(fail: (n: number) => Error | undefined = () => undefined) {
  const opened: FakeConnection[] = []
  const notifier = new Notifier<FakeConnection>(async (how) => {
    const error = fail(opened.length + 1)
    if (error) {
      opened.push(undefined as never)
      throw error
    }
    const c = new FakeConnection(opened.length + 1, how)
    opened.push(c)
    return c
  })
  const pid = () => notifier.run(async (c) => c.processId)
  return { notifier, opened, pid }
}

describe('Notifier', () => {
  test('opened when first needed, then reused; calls made together share one opening', async () => {
    const { notifier, opened, pid } = setup()
    expect(opened).toHaveLength(0)
    expect(await Promise.all([pid(), pid(), pid()])).toEqual([1, 1, 1])
    expect(await pid()).toBe(1)
    expect(opened).toHaveLength(1)
    expect(await notifier.processId).toBe(1)
  })

  test('a connection that closed while idle (a server restart) is not used again: the next call opens a new one', async () => {
    const { opened, pid } = setup()
    expect(await pid()).toBe(1)
    opened[0]!.drop()
    expect(await pid()).toBe(2)
  })

  test('a connection lost during a call is replaced on the next call; the call itself fails', async () => {
    const { notifier, pid } = setup()
    await expect(notifier.run(async () => {
      throw new ConnectionLostError('gone')
    })).rejects.toBeInstanceOf(ConnectionLostError)
    expect(await pid()).toBe(2)
  })

  test('another error keeps the connection', async () => {
    const { notifier, pid } = setup()
    await expect(notifier.run(async () => {
      throw new Error('syntax error')
    })).rejects.toThrow('syntax error')
    expect(await pid()).toBe(1)
  })

  test('a failed opening is tried again by the next call', async () => {
    const { pid } = setup((n) => (n === 1 ? new ConnectionLostError('refused') : undefined))
    await expect(pid()).rejects.toThrow('refused')
    expect(await pid()).toBe(2)
  })

  test('close() closes the connection, aborts an opening under way, and later calls reject', async () => {
    const { notifier, opened, pid } = setup()
    await pid()
    await notifier.close()
    expect(opened[0]!.closes).toBe(1)
    expect(opened[0]!.how.signal.aborted).toBe(true)
    await expect(pid()).rejects.toBeInstanceOf(ListenerError)
  })

  test('run() after close() rejects with "the listener is closed" and opens no connection', async () => {
    const { notifier, opened, pid } = setup()
    await notifier.close()
    await expect(pid()).rejects.toThrow(new ListenerError('the listener is closed'))
    expect(opened).toHaveLength(0)
  })

  test('close() on a notifier that never opened a connection resolves', async () => {
    const { notifier, opened } = setup()
    await expect(notifier.close()).resolves.toBeUndefined()
    expect(opened).toHaveLength(0)
  })

  test('close() aborts the opening\'s signal with the reason "the listener is closed"', async () => {
    const { notifier, opened, pid } = setup()
    await pid()
    await notifier.close()
    const reason = opened[0]!.how.signal.reason as Error
    expect(reason).toBeInstanceOf(ListenerError)
    expect(reason.message).toBe('the listener is closed')
  })

  test('close() while opening: the opening is told to stop and the call rejects', async () => {
    let how!: NotifierOpen
    const notifier = new Notifier<FakeConnection>((h) => {
      how = h
      return new Promise((_resolve, reject) => h.signal.addEventListener('abort', () => reject(h.signal.reason)))
    })
    const call = notifier.run(async () => 1)
    await notifier.close()
    expect(how.signal.aborted).toBe(true)
    await expect(call).rejects.toBeInstanceOf(ListenerError)
  })

  test('a connection that comes back already closed is not kept: the next call opens another', async () => {
    let n = 0
    const notifier = new Notifier<FakeConnection>(async (how) => {
      const c = new FakeConnection(++n, how)
      if (n === 1) c.isClosed = true // it closed between its last byte and now
      return c
    })
    expect(await notifier.run(async (c) => c.processId)).toBe(1) // this call may still try it
    expect(await notifier.run(async (c) => c.processId)).toBe(2)
    expect(n).toBe(2)
  })

  test('every connection comes back closed: the call tries the one it got and fails, rather than open connections for ever', async () => {
    let n = 0
    const notifier = new Notifier<FakeConnection>(async (how) => {
      const c = new FakeConnection(++n, how)
      c.isClosed = true
      return c
    })
    const lost = new ConnectionLostError('the connection is closed')
    // As a Connection's query() does on a closed connection.
    await expect(notifier.run(async (c) => (c.isClosed ? Promise.reject(lost) : c.processId))).rejects.toBe(lost)
    expect(n).toBe(1)
  })

  test('close() while a call waits for the opening: the call rejects, the operation never runs', async () => {
    let open!: (c: FakeConnection) => void
    const notifier = new Notifier<FakeConnection>((how) => new Promise((resolve) => (open = (c) => resolve(c ?? new FakeConnection(1, how)))))
    let ran = false
    const call = notifier.run(async () => {
      ran = true
    })
    const closing = notifier.close()
    open(undefined as never)
    await expect(call).rejects.toThrow(new ListenerError('the listener is closed'))
    await closing
    expect(ran).toBe(false)
  })

  test('processId is undefined before the first call, and when the opening failed', async () => {
    const { notifier } = setup((n) => (n === 1 ? new ConnectionLostError('refused') : undefined))
    expect(await notifier.processId).toBeUndefined()
    await notifier.run(async () => 0).catch(() => undefined)
    expect(await notifier.processId).toBeUndefined()
  })

  test('a connection an error closed (its close event still to come) is not used again: the next call opens another', async () => {
    const { notifier, opened, pid } = setup()
    await expect(notifier.run(async (c) => {
      c.isClosed = true // a ProtocolViolationError closes the connection at once; its close event comes later
      throw new Error('the server switched client_encoding')
    })).rejects.toThrow('client_encoding')
    expect(await pid()).toBe(2)
    expect(opened).toHaveLength(2)
  })

  test('a call on an old connection that fails after a newer one opened does not forget the newer one', async () => {
    const { notifier, opened, pid } = setup()
    let fail!: (e: Error) => void
    let started!: () => void
    const running = new Promise<void>((resolve) => (started = resolve))
    const old = notifier.run(() => new Promise((_resolve, reject) => {
      fail = reject
      started()
    }))
    await running
    opened[0]!.isClosed = true // its call is still to hear of it
    expect(await pid()).toBe(2)
    fail(new ConnectionLostError('gone'))
    await expect(old).rejects.toBeInstanceOf(ConnectionLostError)
    expect(await pid()).toBe(2) // not a third: the second would be left open, owned by nobody
    await notifier.close()
    expect(opened[1]!.closes).toBe(1)
  })

  describe("a call's signal", () => {
    /** An opening that never finishes, as with a server that accepts and never answers, unless aborted (then it fails as connect() does). */
    function silent() {
      const hows: NotifierOpen[] = []
      const notifier = new Notifier<FakeConnection>((how) => {
        hows.push(how)
        return new Promise((_resolve, reject) => how.signal.addEventListener('abort', () => reject(new ConnectionLostError('the connection attempt was aborted', { cause: how.signal.reason }))))
      })
      return { notifier, hows }
    }

    test('aborted while the connection opens: the call rejects at once, and the opening is dropped', async () => {
      const { notifier, hows } = silent()
      const controller = new AbortController()
      const call = notifier.run(async () => 1, controller.signal)
      const reason = new Error('timed out')
      controller.abort(reason)
      const error = await call.then(() => undefined, (e: unknown) => e)
      expect(error).toEqual(new ConnectionLostError('the query was aborted while its connection was opening, which is dropped'))
      expect((error as Error).cause).toBe(reason)
      expect(hows[0]!.signal.aborted).toBe(true)
      await notifier.close()
    })

    test('another call that waited for the opening one call dropped waits for a new one: it does not fail for the other\'s signal', async () => {
      let hang = true
      const hows: NotifierOpen[] = []
      const slow = new Notifier<FakeConnection>((how) => {
        hows.push(how)
        if (hang) return new Promise((_resolve, reject) => how.signal.addEventListener('abort', () => reject(how.signal.reason)))
        return Promise.resolve(new FakeConnection(hows.length, how))
      })
      const controller = new AbortController()
      const call = slow.run(async () => 1, controller.signal)
      const other = slow.run(async (c) => c.processId) // a notify() that shares the opening
      hang = false
      controller.abort()
      await expect(call).rejects.toBeInstanceOf(ConnectionLostError)
      expect(await other).toBe(2) // before: it rejected with the dropped attempt's error, nothing sent
      expect(hows[0]!.signal.aborted).toBe(true)
      await slow.close()
    })

    test('close() while a call waits for an opening: it rejects with "the listener is closed", whatever the attempt failed with', async () => {
      const { notifier } = silent()
      const call = notifier.run(async () => 1)
      await notifier.close()
      await expect(call).rejects.toThrow(new ListenerError('the listener is closed'))
    })

    test('already aborted: the call rejects and opens nothing, and an open connection is kept', async () => {
      const { notifier, opened, pid } = setup()
      const reason = new Error('too late')
      const error = await notifier.run(async () => 1, AbortSignal.abort(reason)).then(() => undefined, (e: unknown) => e)
      expect(error).toEqual(new ConnectionLostError('the query was aborted before it was sent'))
      expect((error as Error).cause).toBe(reason)
      expect(opened).toHaveLength(0)
      expect(await pid()).toBe(1)
      await expect(notifier.run(async () => 1, AbortSignal.abort())).rejects.toBeInstanceOf(ConnectionLostError)
      expect(await pid()).toBe(1)
      expect(opened[0]!.closes).toBe(0)
    })

    test('aborted after the connection opened: run() leaves it to the operation, and the connection is kept', async () => {
      const { notifier, opened } = setup()
      const controller = new AbortController()
      const result = await notifier.run(async (c) => {
        controller.abort()
        return c.processId
      }, controller.signal)
      expect(result).toBe(1)
      expect(opened[0]!.how.signal.aborted).toBe(false)
      expect(await notifier.run(async (c) => c.processId)).toBe(1)
    })

    test('aborted after the connection opened, before the call went on: the call alone is given up, and the connection is kept, and closed with the notifier', async () => {
      let open!: (c: FakeConnection) => void
      let how!: NotifierOpen
      const notifier = new Notifier<FakeConnection>((h) => {
        how = h
        return new Promise((resolve) => (open = resolve))
      })
      const controller = new AbortController()
      const call = notifier.run(async () => 1, controller.signal)
      const connection = new FakeConnection(1, how)
      open(connection)
      await Promise.resolve() // the opening has its connection; the call has not resumed yet
      controller.abort()
      await expect(call).rejects.toBeInstanceOf(ConnectionLostError)
      expect(await notifier.run(async (c) => c.processId)).toBe(1) // not forgotten, so not left unowned
      await notifier.close()
      expect(connection.closes).toBe(1)
    })

    test('a signal used for one call after another is left with no listener of the notifier\'s once each call has its connection', async () => {
      const { notifier } = setup()
      const signal = new AbortController().signal
      for (let i = 0; i < 3; i++) await notifier.run(async () => i, signal)
      expect(getEventListeners(signal, 'abort')).toHaveLength(0)
    })

    test('a connection that opens just as its call gave it up is closed, not left open with nobody to close it', async () => {
      let open!: (c: FakeConnection) => void
      let how!: NotifierOpen
      const notifier = new Notifier<FakeConnection>((h) => {
        how = h
        return new Promise((resolve) => (open = resolve)) // deaf to the signal: it finishes anyway
      })
      const controller = new AbortController()
      const call = notifier.run(async () => 1, controller.signal)
      controller.abort()
      const late = new FakeConnection(1, how)
      open(late)
      await expect(call).rejects.toBeInstanceOf(ConnectionLostError)
      await Promise.resolve()
      expect(late.closes).toBe(1)
    })
  })

  describe('calls made together', () => {
    /** An operation that holds the connection until told how it ends; `started` resolves once it runs. */
    function held() {
      let end!: (error?: Error) => void
      let started!: () => void
      const running = new Promise<void>((resolve) => (started = resolve))
      const operation = (c: FakeConnection) => {
        started()
        return new Promise<number>((resolve, reject) => (end = (error) => (error ? reject(error) : resolve(c.processId))))
      }
      return { operation, running, end: (error?: Error) => end(error) }
    }

    test('take turns on the connection: a call runs once the one before it is done', async () => {
      const { notifier, pid } = setup()
      const first = held()
      const holding = notifier.run(first.operation)
      await first.running
      let ran = false
      const second = notifier.run(async (c) => {
        ran = true
        return c.processId
      })
      await new Promise((resolve) => setTimeout(resolve, 0))
      expect(ran).toBe(false)
      first.end()
      expect(await holding).toBe(1)
      expect(await second).toBe(1)
      expect(await pid()).toBe(1)
    })

    test('a signal that aborts while its call waits for its turn gives up that call, which never runs, and drops the connection under the call it waits for (it may have gone silent); the calls after it go on over a new one', async () => {
      const { notifier, opened } = setup()
      const first = held()
      const holding = notifier.run(first.operation)
      await first.running
      const controller = new AbortController()
      let ran = false
      const waiting = notifier.run(async () => (ran = true), controller.signal)
      const after = notifier.run(async (c) => c.processId)
      await new Promise((resolve) => setTimeout(resolve, 0)) // it has its connection, and waits for its turn
      const reason = new Error('given up')
      controller.abort(reason)
      const error = await waiting.then(() => undefined, (e: unknown) => e)
      expect(error).toEqual(new ConnectionLostError('the query was aborted before it was sent, while it waited for the call before it'))
      expect(ran).toBe(false)
      expect(opened[0]!.abortedWith).toEqual(new ConnectionLostError('a call waiting for this one was aborted; the connection is dropped'))
      expect(opened[0]!.abortedWith!.cause).toBe(reason)
      first.end(opened[0]!.abortedWith) // as the connection rejects the call running on it
      await expect(holding).rejects.toBeInstanceOf(ConnectionLostError)
      expect(await after).toBe(2)
    })

    test('a signal that aborts while its call waits only for the connection to be handed on (nobody runs on it) gives up the call alone', async () => {
      const { notifier, opened, pid } = setup()
      expect(await pid()).toBe(1)
      const controller = new AbortController()
      const call = notifier.run(async () => 0, controller.signal)
      await Promise.resolve()
      await Promise.resolve()
      controller.abort()
      await expect(call).rejects.toBeInstanceOf(ConnectionLostError)
      expect(opened[0]!.abortedWith).toBeUndefined()
      expect(await pid()).toBe(1)
    })

    test('a call that waited while the connection was lost under the call before it has sent nothing: it goes on over a new connection', async () => {
      const { notifier, opened } = setup()
      const first = held()
      const holding = notifier.run(first.operation)
      await first.running
      const waiting = notifier.run(async (c) => c.processId)
      opened[0]!.isClosed = true // its signal dropped it, say
      first.end(new ConnectionLostError('the query was aborted; its connection is dropped'))
      await expect(holding).rejects.toBeInstanceOf(ConnectionLostError)
      expect(await waiting).toBe(2)
    })

    test('close() while a call waits for its turn: it rejects with "the listener is closed" and never runs', async () => {
      const { notifier } = setup()
      const first = held()
      const holding = notifier.run(first.operation)
      await first.running
      let ran = false
      const waiting = notifier.run(async () => (ran = true))
      const closing = notifier.close()
      first.end(new ConnectionLostError('closed'))
      await expect(holding).rejects.toBeInstanceOf(ConnectionLostError)
      await expect(waiting).rejects.toThrow(new ListenerError('the listener is closed'))
      await closing
      expect(ran).toBe(false)
    })

    test("a call that leaves a failed transaction block behind has it rolled back before the next call's turn; one that leaves none, or an open one, sends nothing", async () => {
      const { notifier, opened } = setup()
      await expect(notifier.run(async (c) => {
        c.transactionStatus = 'E' // BEGIN; SELECT 1/0
        throw new Error('division by zero')
      })).rejects.toThrow('division by zero')
      expect(await notifier.run(async (c) => c.transactionStatus)).toBe('I')
      expect(opened[0]!.queries).toEqual(['ROLLBACK'])
      await notifier.run(async (c) => void (c.transactionStatus = 'T')) // the caller's BEGIN: theirs to end
      await notifier.run(async () => undefined)
      expect(opened[0]!.queries).toEqual(['ROLLBACK'])
      // A call made inside that transaction fails in it: it stays failed, for its caller to end.
      await expect(notifier.run(async (c) => {
        c.transactionStatus = 'E'
        throw new Error('division by zero')
      })).rejects.toThrow('division by zero')
      expect(await notifier.run(async (c) => c.transactionStatus)).toBe('E')
      expect(opened[0]!.queries).toEqual(['ROLLBACK'])
      expect(opened).toHaveLength(1)
    })
  })
})
