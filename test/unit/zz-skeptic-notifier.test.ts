/** Skeptic review of 99a61b2: the notifier's use of AbortSignal.any. */
import { afterEach, describe, expect, test } from 'vitest'
import { Notifier } from '../../src/listener/notifier.ts'

describe('skeptic: Notifier on a runtime without AbortSignal.any (Node 20.0 to 20.2, which package.json engines ">=20" admits)', () => {
  const any = AbortSignal.any
  afterEach(() => void (AbortSignal.any = any))

  test('run() without any signal still works', async () => {
    // @ts-expect-error: as on Node 20.0 to 20.2
    AbortSignal.any = undefined
    const notifier = new Notifier(async () => ({ isClosed: false, processId: 7, close: async () => {} }) as never)
    // Expected: 7 (as at 5c382e3). Actual: TypeError: AbortSignal.any is not a function, for every notify(), query(), queueUsage().
    await expect(notifier.run(async (c: { processId: number }) => c.processId)).resolves.toBe(7)
  })
})

describe('skeptic: memory of AbortSignal.any on Node 20.20 (the listener-long #stop signal keeps a WeakRef per opening)', () => {
  test('200k openings (each call after a failed or dropped one opens anew): the #stop signal\'s dependants grow without bound', async () => {
    const any = AbortSignal.any
    let stop: AbortSignal | undefined
    AbortSignal.any = (signals: AbortSignal[]) => ((stop ??= signals[0]), any.call(AbortSignal, signals))
    try {
      const notifier = new Notifier(async () => {
        throw new Error('refused') // a flapping server; or a query() whose signal gives up its connection each time
      })
      for (let i = 0; i < 200_000; i++) await notifier.run(async () => 1).catch(() => undefined)
      const record = stop as unknown as Record<symbol, unknown>
      const dependants = Object.getOwnPropertySymbols(record).map((s) => record[s]).find((v) => (v as { constructor?: { name?: string } } | undefined)?.constructor?.name === 'SafeSet') as Set<unknown>
      console.log({ dependants: dependants.size, heapMB: Math.round(process.memoryUsage().heapUsed / 1e6) })
      expect(dependants.size).toBeLessThan(1000) // actual on Node 20.20.2: 200000, until close()
    } finally {
      AbortSignal.any = any
    }
  }, 60_000)
})

describe('skeptic: a signal that is not an AbortSignal', () => {
  test('the call rejects with TypeError, and the opening it started must not end as an unhandled rejection', async () => {
    const unhandled: unknown[] = []
    const onUnhandled = (e: unknown) => void unhandled.push(e)
    process.on('unhandledRejection', onUnhandled)
    try {
      let opens = 0
      const notifier = new Notifier(async () => {
        opens++
        await new Promise((r) => setTimeout(r, 10))
        throw new Error('the server refused') // a failed attempt
      })
      const error = await notifier.run(async () => 1, { aborted: false } as AbortSignal).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(TypeError)
      await new Promise((r) => setTimeout(r, 50))
      console.log({ opens, unhandled: unhandled.map(String) })
      expect(opens).toBe(0) // nothing should have been opened for a call that failed its argument check
      expect(unhandled).toEqual([])
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  })
})
