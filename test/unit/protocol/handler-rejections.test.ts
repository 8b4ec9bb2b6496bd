/**
 * connect()'s handlers outside the stream, onClose and onWarning, fail the way the stream's do
 * (onNotification, onNotice, onParameterStatus: session.ts): what one throws, or an async one
 * rejects with, goes to onHandlerError (README, "pglisten-specific options"). Unheard, a
 * rejection is an unhandled rejection, which ends a Node process. A returned value is taken for
 * a promise only if its `then` is a function. Scripted in memory: no server is needed to end a
 * connection or to have a warning said.
 */
import { describe, expect, test } from 'vitest'
import { ConnectionLostError } from '../../../src/protocol/errors.ts'
import { connectWith, type ConnectOptions } from '../../../src/protocol/io/connect.ts'
import type { Link } from '../../../src/protocol/io/link.ts'
import { nodePlatform } from '../../../src/protocol/io/node-platform.ts'
import type { Platform } from '../../../src/protocol/io/platform.ts'
import { loginAccepted } from '../../support/wire.ts'

/** A link whose server accepts the login at the first write, and stays until told to go. */
function acceptingLink(): Link {
  const link: Link = {
    encrypted: false,
    peerCertificate: undefined,
    write: () => void setTimeout(() => link.onData(loginAccepted())),
    pause() {},
    resume() {},
    end() {},
    destroy() {},
    onData: () => {},
    onClose: () => {},
  }
  return link
}

const base = { env: {}, host: 'h', user: 'u', password: 'p', sslmode: 'disable', passfile: '/nonexistent' } satisfies ConnectOptions

/** A turn of the event loop: long enough for a rejection to be handled, or reported unhandled. */
const aTurn = () => new Promise((resolve) => setTimeout(resolve))

describe('onClose', () => {
  // Found by review: what an async onHandlerError rejected with was an unhandled rejection.
  test('an async onClose that rejects, and an async onHandlerError that rejects too: nothing is left unhandled', async () => {
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => void unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    try {
      const link = acceptingLink()
      const told: unknown[] = []
      await connectWith(nodePlatform, {
        ...base,
        platform: { ...nodePlatform, openLink: async () => link },
        onClose: async () => {
          throw new Error('onClose failed')
        },
        onHandlerError: async (error) => {
          told.push(error)
          throw new Error('onHandlerError failed')
        },
      })
      link.onClose(undefined)
      await aTurn()
      await aTurn()
      expect(told).toEqual([new Error('onClose failed')])
      expect(unhandled).toEqual([])
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  })

  test('an async onClose that rejects: the rejection goes to onHandlerError', async () => {
    const link = acceptingLink()
    const handlerErrors: unknown[] = []
    const failure = new Error('onClose failed')
    await connectWith(nodePlatform, {
      ...base,
      platform: { ...nodePlatform, openLink: async () => link },
      onClose: async () => {
        throw failure
      },
      onHandlerError: (error) => void handlerErrors.push(error),
    })
    link.onClose(undefined) // the server goes
    await aTurn()
    expect(handlerErrors).toEqual([failure])
  })

  test('an onClose that throws, and an onHandlerError that throws too: nothing escapes the socket\'s close', async () => {
    const link = acceptingLink()
    const told: unknown[] = []
    await connectWith(nodePlatform, {
      ...base,
      platform: { ...nodePlatform, openLink: async () => link },
      onClose: () => {
        throw new Error('onClose failed')
      },
      onHandlerError: (error) => {
        told.push(error)
        throw new Error('onHandlerError failed')
      },
    })
    expect(() => link.onClose(undefined)).not.toThrow()
    expect(told).toEqual([new Error('onClose failed')])
  })

  test('a returned value whose then is no function is no promise: nothing is told', async () => {
    const link = acceptingLink()
    const handlerErrors: unknown[] = []
    const closes: unknown[] = []
    await connectWith(nodePlatform, {
      ...base,
      platform: { ...nodePlatform, openLink: async () => link },
      onClose: ((error: Error | undefined) => (closes.push(error), { then: 'not a function' })) as never,
      onHandlerError: (error) => void handlerErrors.push(error),
    })
    link.onClose(undefined)
    await aTurn()
    expect(closes).toEqual([new ConnectionLostError('the server closed the connection')])
    expect(handlerErrors).toEqual([])
  })
})

describe('onWarning', () => {
  /** Node's platform with no home folder (a warning), and no socket: the attempt fails where the link would open. */
  const noHome: Platform = {
    ...nodePlatform,
    homeDir: () => {
      throw new Error('no home here')
    },
    openLink: async () => {
      throw new ConnectionLostError('no socket in this test')
    },
  }
  const warned = { env: {}, host: 'h', user: 'u', sslmode: 'prefer' } satisfies ConnectOptions

  test('an async onWarning that rejects: the rejection goes to onHandlerError, and the attempt goes on', async () => {
    const handlerErrors: unknown[] = []
    const failure = new Error('onWarning failed')
    const error = await connectWith(noHome, {
      ...warned,
      onWarning: async () => {
        throw failure
      },
      onHandlerError: (e) => void handlerErrors.push(e),
    }).catch((e: unknown) => e)
    await aTurn()
    expect(error).toEqual(new ConnectionLostError('no socket in this test')) // it got as far as the socket
    expect(handlerErrors).toEqual([failure])
  })

  test('an onWarning that throws: onHandlerError is told, and the attempt goes on, as a warning is no failure', async () => {
    const handlerErrors: unknown[] = []
    const failure = new Error('onWarning failed')
    const error = await connectWith(noHome, {
      ...warned,
      onWarning: () => {
        throw failure
      },
      onHandlerError: (e) => void handlerErrors.push(e),
    }).catch((e: unknown) => e)
    expect(error).toEqual(new ConnectionLostError('no socket in this test'))
    expect(handlerErrors).toEqual([failure])
  })

  test('onWarning is called as a method of the options, as the stream\'s handlers are', async () => {
    const seen: unknown[] = []
    const options = {
      ...warned,
      onWarning(this: unknown, message: string) {
        seen.push(this === options, message)
      },
    }
    await connectWith(noHome, options).catch(() => undefined)
    expect(seen).toEqual([true, expect.stringMatching(/^the home folder is not available \(no home here\)/)])
  })
})
