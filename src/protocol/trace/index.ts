/**
 * pglisten --trace: a Tracer (../session.ts) that writes one line per protocol message, and per
 * one-byte answer to SSLRequest, in the layout of libpq's PQtrace, with secrets redacted. Pure:
 * the caller says where lines go. Imports the trace pieces beside it and the Tracer and message
 * types.
 *
 * The tracer keeps the little state libpq keeps to read the client's messages: which 'p'
 * message answers the pending authentication request, and which SASL mechanism is in use. A
 * StartupMessage resets it, so one tracer can follow connect()'s attempts host after host.
 */
import type { BackendMessage } from '../backend/messages.ts'
import type { Tracer } from '../session.ts'
import { backendLine, charResponseLine, notUnderstood } from './backend-line.ts'
import { decodeFrontendMessages, type AuthenticationResponseType } from './frontend.ts'
import { frontendLine } from './frontend-line.ts'
import { formatLine, formatTimestamp, type TraceLine } from './line.ts'

export interface TracerOptions {
  /** Start each line with the local time to the microsecond, as PQtrace does by default. */
  timestamps?: boolean
  /** The time in milliseconds since the epoch, fractions allowed; for tests. */
  now?: () => number
}

export function createTracer(write: (line: string) => void, options: TracerOptions = {}): Tracer {
  const now = options.now ?? (() => performance.timeOrigin + performance.now())
  let pending: AuthenticationResponseType | undefined
  let mechanism: string | undefined

  const emit = (line: TraceLine) => write(formatLine(line, options.timestamps ? formatTimestamp(now()) : undefined))

  return {
    sent(bytes) {
      for (const message of decodeFrontendMessages(bytes, pending)) {
        // A new connection starts from nothing; an answered request wants no second answer
        // (libpq resets current_auth_response after tracing the answer).
        if (message.type === 'StartupMessage') mechanism = pending = undefined
        if (answers.has(message.type === 'Malformed' ? message.name : message.type)) pending = undefined
        if (message.type === 'SASLInitialResponse') mechanism = message.mechanism
        emit(frontendLine(message, mechanism))
      }
    },
    received(message) {
      pending = expectedResponse(message) ?? pending
      if (message.type === 'AuthenticationOk') pending = undefined
      let line: TraceLine
      try {
        line = backendLine(message, mechanism)
      } catch {
        // Only a value outside the BackendMessage union gets here; say so rather than throw.
        line = notUnderstood(message)
      }
      emit(line)
    },
    receivedByte(response, byte) {
      emit(charResponseLine(response, byte))
    },
  }
}

/** The 'p' messages, read as the pending request says. */
const answers = new Set<string | undefined>(['PasswordMessage', 'SASLInitialResponse', 'SASLResponse', 'UnknownAuthenticationResponse'])

/** The 'p' message that answers `request`, if it is an authentication request that wants one. */
function expectedResponse(request: BackendMessage): AuthenticationResponseType | undefined {
  switch (request.type) {
    case 'AuthenticationCleartextPassword':
    case 'AuthenticationMD5Password':
      return 'PasswordMessage'
    case 'AuthenticationSASL':
      return 'SASLInitialResponse'
    case 'AuthenticationSASLContinue':
      return 'SASLResponse'
    default:
      return undefined
  }
}

export { decodeFrontendMessages, type AuthenticationResponseType, type FrontendMessage } from './frontend.ts'
export { formatLine, formatTimestamp, type Field, type TraceLine } from './line.ts'
export { frontendLine } from './frontend-line.ts'
export { backendLine, charResponseLine } from './backend-line.ts'
