/**
 * The vocabulary of exchanges. An exchange is a generator that yields what it needs from
 * the outside world, "send these bytes" or "give me the next message", and returns its result;
 * the waiting lives elsewhere (../session.ts), as in psycopg 3's generators.py. So every
 * exchange can be run against a script of messages, with no socket.
 */
import type { BackendMessage } from '../backend/messages.ts'

export type Step =
  | { readonly kind: 'send'; readonly bytes: Uint8Array }
  | { readonly kind: 'receive' }

/**
 * Sync exchanges (the simple query) and async ones (startup: SCRAM hashes with WebCrypto)
 * are driven the same way. The value sent back in after a 'receive' step is the next
 * message; after a 'send' step, undefined.
 */
export type Exchange<T> =
  | Generator<Step, T, BackendMessage | undefined>
  | AsyncGenerator<Step, T, BackendMessage | undefined>

export function send(bytes: Uint8Array): Step {
  return { kind: 'send', bytes }
}

export const receive: Step = { kind: 'receive' }

/** `const message = yield* nextMessage()` reads as what it does, and is typed. */
export function* nextMessage(): Generator<Step, BackendMessage, BackendMessage | undefined> {
  const message = yield receive
  if (message === undefined) throw new TypeError('an exchange was resumed without the message it asked for')
  return message
}
