/**
 * connect()'s own options, those no libpq keyword carries, are checked with the rest, by the one
 * options check (options/explicit.ts): a wrong one is a TypeError or a RangeError that names it,
 * before any socket opens. Unchecked, protocolVersion: 7 went to the server in the
 * StartupMessage (which refused it), keepAlive: 'x' was quietly the system's default, and a
 * handler that is no function failed only when its first message came.
 */
import { describe, expect, test } from 'vitest'
import { ConnectionLostError } from '../../../src/protocol/errors.ts'
import { connectWith, type ConnectOptions } from '../../../src/protocol/io/connect.ts'
import { nodePlatform } from '../../../src/protocol/io/node-platform.ts'
import type { Platform } from '../../../src/protocol/io/platform.ts'
import { resolveSettings } from '../../../src/protocol/options/index.ts'

/** Node's platform with no socket: `opened` counts the attempts that got as far as one. */
function counting(): { platform: Platform; opened: () => number } {
  let opened = 0
  const platform: Platform = {
    ...nodePlatform,
    openLink: async () => {
      opened++
      throw new ConnectionLostError('no socket in this test')
    },
  }
  return { platform, opened: () => opened }
}

const base = { env: {}, host: 'h', user: 'u', password: 'p', sslmode: 'disable' } satisfies ConnectOptions

/** What connect() rejects with for `extra`, and whether a socket was asked for. */
async function refusal(extra: Record<string, unknown>): Promise<{ error: unknown; opened: number }> {
  const { platform, opened } = counting()
  const error = await connectWith(platform, { ...base, ...extra } as ConnectOptions).catch((e: unknown) => e)
  return { error, opened: opened() }
}

const handlers = ['onNotification', 'onNotice', 'onParameterStatus', 'onHandlerError', 'onWarning', 'onClose'] as const

describe("connect()'s own options are refused at the call", () => {
  test.each([7, 3, 196609, (3 << 16) | 1, (2 << 16) | 0, Number.NaN])('protocolVersion %s: a RangeError naming it', async (protocolVersion) => {
    const { error, opened } = await refusal({ protocolVersion })
    expect(error).toBeInstanceOf(RangeError)
    expect((error as Error).message).toBe(`protocolVersion must be the number (3 << 16) | 0 or (3 << 16) | 2, not ${protocolVersion}`)
    expect(opened).toBe(0)
  })

  // Found by review: '196610' was said as 196610, as though the number were wrong.
  test.each([['196610', '"196610"'], [null, 'null']] as const)('protocolVersion %s, no number: a TypeError that shows what it is', async (protocolVersion, shown) => {
    const { error, opened } = await refusal({ protocolVersion })
    expect(error).toEqual(new TypeError(`protocolVersion must be the number (3 << 16) | 0 or (3 << 16) | 2, not ${shown}`))
    expect(opened).toBe(0)
  })

  test.each([['x', '"x"'], [true, 'true'], [false, 'false'], ['10000', '"10000"'], [{}, '[object Object]'], [null, 'null']] as const)('keepAlive %s, no number: a TypeError naming it', async (keepAlive, shown) => {
    const { error, opened } = await refusal({ keepAlive })
    expect(error).toEqual(new TypeError(`keepAlive must be a number of milliseconds, 0 or more, not ${shown}`))
    expect(opened).toBe(0)
  })

  test.each([-1, Number.NaN, Number.POSITIVE_INFINITY])('keepAlive %s: a RangeError naming it', async (keepAlive) => {
    const { error, opened } = await refusal({ keepAlive })
    expect(error).toBeInstanceOf(RangeError)
    expect((error as Error).message).toMatch(/^keepAlive must be a number of milliseconds, 0 or more/)
    expect(opened).toBe(0)
  })

  test.each(handlers.flatMap((name) => [5, 'f', {}, true].map((value) => [name, value] as const)))('%s: %s, no function: a TypeError naming it', async (name, value) => {
    const { error, opened } = await refusal({ [name]: value })
    expect(error).toEqual(new TypeError(`${name} must be a function`))
    expect(opened).toBe(0)
  })

  test('a handler inherited, as connect() reads it, is checked too', async () => {
    const options = Object.assign(Object.create({ onNotification: 5 }) as object, base)
    const { platform, opened } = counting()
    const error = await connectWith(platform, options as ConnectOptions).catch((e: unknown) => e)
    expect(error).toEqual(new TypeError('onNotification must be a function'))
    expect(opened()).toBe(0)
  })

  test('resolveSettings, the same check, refuses them too (a listener resolves its options with it)', () => {
    expect(() => resolveSettings({ ...base, onClose: 'x' } as never)).toThrow(new TypeError('onClose must be a function'))
    expect(() => resolveSettings({ ...base, protocolVersion: 7 } as never)).toThrow(RangeError)
  })
})

describe('what they may be goes on to the socket', () => {
  test.each([
    ['protocolVersion 3.0', { protocolVersion: (3 << 16) | 0 }],
    ['protocolVersion 3.2', { protocolVersion: (3 << 16) | 2 }],
    ['keepAlive 0', { keepAlive: 0 }],
    ['keepAlive 10000', { keepAlive: 10_000 }],
    ['keepAlive 1.5', { keepAlive: 1.5 }],
    ['every handler a function', Object.fromEntries(handlers.map((name) => [name, () => {}]))],
    ['every handler an async function', Object.fromEntries(handlers.map((name) => [name, async () => {}]))],
    ['every one undefined', { protocolVersion: undefined, keepAlive: undefined, ...Object.fromEntries(handlers.map((name) => [name, undefined])) }],
    // Found by review: null was refused, though connect() reads a handler set to null as none.
    ['every handler null', Object.fromEntries(handlers.map((name) => [name, null]))],
  ])('%s', async (_, extra) => {
    const { error, opened } = await refusal(extra)
    expect(error).toEqual(new ConnectionLostError('no socket in this test'))
    expect(opened).toBe(1)
  })
})
