/**
 * pglisten --trace: a Tracer (../session.ts) that writes one line per protocol message, and per
 * one-byte answer to SSLRequest, in the layout of libpq's PQtrace, with secrets redacted. Pure:
 * the caller says where lines go. Imports the trace pieces beside it and the Tracer and message
 * types; never ./replication-line.ts, which a caller passes in (TracerOptions.copyBoth).
 *
 * The tracer keeps the little state libpq keeps to read the client's messages: which 'p'
 * message answers the pending authentication request, and which SASL mechanism is in use; and,
 * when it was given a reading of COPY BOTH, the reader of the copy under way. A StartupMessage
 * resets it all, so one tracer can follow connect()'s attempts host after host.
 */
import type { BackendMessage } from '../backend/messages.ts'
import type { Tracer } from '../session.ts'
import { backendLine, charResponseLine, notUnderstood } from './backend-line.ts'
import { decodeFrontendMessages, type AuthenticationResponseType } from './frontend.ts'
import { frontendLine } from './frontend-line.ts'
import { formatLine, formatTimestamp, note, type Field, type TraceLine } from './line.ts'

export interface TracerOptions {
  /** Start each line with the local time to the microsecond, as PQtrace does by default. */
  timestamps?: boolean
  /** The time in milliseconds since the epoch, fractions allowed; for tests. */
  now?: () => number
  /**
   * How to read the CopyData of a COPY BOTH, which PQtrace shows as bytes: called at each
   * CopyBothResponse for a reader of that copy. pglisten's CLI passes streaming replication's
   * (./replication-line.ts). Without it CopyData is shown as bytes, and a bundle that does not
   * ask for that reading does not carry it.
   */
  copyBoth?: () => CopyBothReader
}

/**
 * The fields of the messages that CopyData carries in one COPY BOTH, both ways, from its
 * CopyBothResponse to ReadyForQuery. One reader per copy, so it may keep state from message to
 * message. It should not throw: bytes it cannot read are shown as bytes, with a note saying why.
 */
export interface CopyBothReader {
  /** A CopyData the client sent (a standby's reply, in streaming replication). */
  sent(data: Uint8Array): Field[]
  /** A CopyData the server sent (XLogData or a keepalive, in streaming replication). */
  received(data: Uint8Array): Field[]
}

export function createTracer(write: (line: string) => void, options: TracerOptions = {}): Required<Tracer> {
  const now = options.now ?? (() => performance.timeOrigin + performance.now())
  let pending: AuthenticationResponseType | undefined
  let mechanism: string | undefined
  // The reader of the COPY BOTH under way. It lasts to ReadyForQuery, not to the server's
  // CopyDone: the client may still send a status update after that, and a walsender may still
  // send a keepalive (seen on PostgreSQL 18; ../exchange/copy-both.ts drops it, as libpq does).
  let copyBoth: CopyBothReader | undefined

  const emit = (line: TraceLine) => write(formatLine(line, options.timestamps ? formatTimestamp(now()) : undefined))

  return {
    sent(bytes) {
      for (const message of decodeFrontendMessages(bytes, pending)) {
        // A new connection starts from nothing; an answered request wants no second answer
        // (libpq resets current_auth_response after tracing the answer).
        if (message.type === 'StartupMessage') mechanism = pending = copyBoth = undefined
        if (answers.has(message.type === 'Malformed' ? message.name : message.type)) pending = undefined
        if (message.type === 'SASLInitialResponse') mechanism = message.mechanism
        const line = frontendLine(message, mechanism)
        emit(copyBoth && message.type === 'CopyData' ? readWith(line, copyBoth.sent, message.data) : line)
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
      if (copyBoth && message.type === 'CopyData') line = readWith(line, copyBoth.received, message.data)
      if (message.type === 'CopyBothResponse' && options.copyBoth) {
        copyBoth = readerFor(options.copyBoth)
        if (copyBoth === undefined) line = { ...line, fields: [...line.fields, note('[no reader for this copy: its data is shown as bytes]')] }
      }
      if (message.type === 'ReadyForQuery') copyBoth = undefined
      emit(line)
    },
    receivedByte(response, byte) {
      emit(charResponseLine(response, byte))
    },
  }
}

/**
 * `line`, a CopyData shown as bytes, with the fields `read` finds in its data instead. A reader
 * that throws has a bug, not bad bytes; the tracer still never throws, and keeps the bytes.
 */
function readWith(line: TraceLine, read: (data: Uint8Array) => Field[], data: Uint8Array): TraceLine {
  try {
    return { ...line, fields: read(data) }
  } catch {
    return { ...line, fields: [...line.fields, note('[not understood by the tracer]')] }
  }
}

/** A reader for the copy starting now; none if making one throws (a bug), and its data is shown as bytes. */
function readerFor(make: () => CopyBothReader): CopyBothReader | undefined {
  try {
    return make()
  } catch {
    return undefined
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
