/**
 * A decoder of the messages the client sends, for tracing: the mirror of ../frontend.ts's
 * encoders. Pure; imports only the trace reader. It never throws: bytes that break the grammar
 * become a Malformed entry saying how, and framing stops where the lengths stop making sense.
 *
 * Two things cannot be read from the bytes alone, and the caller supplies them:
 *  - PasswordMessage, SASLInitialResponse and SASLResponse share the type byte 'p'; libpq tells
 *    them apart by the authentication request being answered (fe-trace.c, current_auth_response).
 *  - The first message of a connection has no type byte. No typed frontend message has type 0,
 *    and a length under 2^24 starts with a zero byte, so a message starting with 0x00 is one of
 *    the untyped ones (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest).
 */
import { Malformed, plural, TraceReader } from './reader.ts'

/** Which 'p' message is expected, from the last authentication request the server sent. */
export type AuthenticationResponseType = 'PasswordMessage' | 'SASLInitialResponse' | 'SASLResponse'

export type FrontendMessageBody =
  | { readonly type: 'StartupMessage'; readonly protocolVersion: number; readonly parameters: readonly (readonly [string, string])[] }
  | { readonly type: 'SSLRequest' | 'GSSENCRequest' }
  | { readonly type: 'CancelRequest'; readonly processId: number; readonly secretKey: Uint8Array }
  | { readonly type: 'PasswordMessage'; readonly password: string }
  | { readonly type: 'SASLInitialResponse'; readonly mechanism: string; readonly response: Uint8Array | null }
  | { readonly type: 'SASLResponse'; readonly data: Uint8Array }
  /** A 'p' message sent when no authentication request was pending: its body is not read. */
  | { readonly type: 'UnknownAuthenticationResponse' }
  | { readonly type: 'Query'; readonly query: string }
  /** The bytes as sent; what they carry (a standby's reply to a walsender) is read by TracerOptions.copyBoth, if given. */
  | { readonly type: 'CopyData'; readonly data: Uint8Array }
  | { readonly type: 'CopyDone' }
  | { readonly type: 'CopyFail'; readonly reason: string }
  | { readonly type: 'Terminate' }
  | { readonly type: 'Sync' }
  /** A type byte the client never sends: its body is not read. */
  | { readonly type: 'Unknown'; readonly typeByte: number }
  /** `name` is the message's, when the type byte or code was read; `reason` says what is wrong. */
  | { readonly type: 'Malformed'; readonly name: string | undefined; readonly reason: string }

/** A decoded message with its Int32 length field (undefined only when it could not be read). */
export type FrontendMessage = FrontendMessageBody & { readonly length: number | undefined }

/** The codes that take the place of a protocol version in special startup packets. */
const cancelRequestCode = 80877102 // 1234 << 16 | 5678
const sslRequestCode = 80877103 // 1234 << 16 | 5679
const gssEncRequestCode = 80877104 // 1234 << 16 | 5680

/** Names of the typed messages this decoder reads, by type byte ('p' depends on the exchange). */
const typedNames: Readonly<Record<number, string>> = {
  0x51: 'Query', 0x64: 'CopyData', 0x63: 'CopyDone', 0x66: 'CopyFail', 0x58: 'Terminate', 0x53: 'Sync',
}

/**
 * Every message in `bytes`, in order. `pending` names the 'p' message the server is waiting for;
 * it applies to the first 'p' only, as each authentication request gets one answer.
 */
export function decodeFrontendMessages(bytes: Uint8Array, pending?: AuthenticationResponseType): FrontendMessage[] {
  const messages: FrontendMessage[] = []
  for (let at = 0; at < bytes.length; ) {
    const type = bytes[at]!
    const untyped = type === 0
    // The Int32 length comes first in an untyped message, after the type byte in a typed one.
    const lengthAt = untyped ? at : at + 1
    const header = new TraceReader(bytes, lengthAt, Math.min(bytes.length, lengthAt + 8))
    let name = untyped ? undefined : type === 0x70 ? (pending ?? 'UnknownAuthenticationResponse') : typedNames[type]
    if (header.remaining < 4) {
      messages.push({ type: 'Malformed', name, length: undefined, reason: `${plural(bytes.length - at, 'byte')} cannot hold a message header` })
      break
    }
    const length = header.int32('the length')
    if (untyped && header.remaining >= 4) name = untypedName(header.int32('the code'))
    // An untyped message holds at least its length and a code; a typed one at least its length.
    const minimum = untyped ? 8 : 4
    if (length < minimum) {
      messages.push({ type: 'Malformed', name, length, reason: `a length under the minimum of ${minimum}` })
      break
    }
    const end = lengthAt + length
    if (end > bytes.length) {
      messages.push({ type: 'Malformed', name, length, reason: `the length runs past the ${plural(bytes.length - lengthAt, 'byte')} sent` })
      break
    }
    const body = new TraceReader(bytes, lengthAt + 4, end)
    try {
      messages.push({ ...(untyped ? decodeUntyped(body) : decodeTyped(type, body, pending)), length })
    } catch (error) {
      if (!(error instanceof Malformed)) throw error
      messages.push({ type: 'Malformed', name, length, reason: error.message })
    }
    if (type === 0x70) pending = undefined
    at = end
  }
  return messages
}

function untypedName(code: number): string {
  switch (code) {
    case sslRequestCode:
      return 'SSLRequest'
    case gssEncRequestCode:
      return 'GSSENCRequest'
    case cancelRequestCode:
      return 'CancelRequest'
    default:
      return 'StartupMessage'
  }
}

/**
 * StartupMessage (F)   Int32 length Int32 protocolVersion { String name String value } ... Byte1(0)
 * CancelRequest (F)    Int32 length Int32(80877102) Int32 processId Byte[n] secretKey
 * SSLRequest (F)       Int32(8) length Int32(80877103)
 * GSSENCRequest (F)    Int32(8) length Int32(80877104)
 */
function decodeUntyped(r: TraceReader): FrontendMessageBody {
  const code = r.int32('the protocol version')
  switch (code) {
    case sslRequestCode:
    case gssEncRequestCode:
      r.end('the request code')
      return { type: code === sslRequestCode ? 'SSLRequest' : 'GSSENCRequest' }
    case cancelRequestCode: {
      const processId = r.int32('the process ID')
      // A 4-byte key under protocol 3.0, up to 256 bytes under 3.2.
      if (r.remaining < 4 || r.remaining > 256) throw new Malformed(`a secret key of ${plural(r.remaining, 'byte')}, outside 4..256`)
      return { type: 'CancelRequest', processId, secretKey: r.rest() }
    }
    default: {
      const parameters: [string, string][] = []
      while (r.peek() !== 0) {
        if (r.peek() === undefined) throw new Malformed('the parameter list has no terminating zero byte')
        parameters.push([r.cstring('a parameter name'), r.cstring('a parameter value')])
      }
      r.byte('the terminating zero byte')
      r.end('the parameter list')
      return { type: 'StartupMessage', protocolVersion: code, parameters }
    }
  }
}

/**
 * PasswordMessage (F)      Byte1('p') Int32 length String password
 * SASLInitialResponse (F)  Byte1('p') Int32 length String mechanism Int32 n (-1: none) Byte[n] response
 * SASLResponse (F)         Byte1('p') Int32 length Byte[n] data
 * Query (F)                Byte1('Q') Int32 length String query
 * CopyData (F)             Byte1('d') Int32 length Byte[n] data
 * CopyDone (F)             Byte1('c') Int32(4) length
 * CopyFail (F)             Byte1('f') Int32 length String reason
 * Terminate (F)            Byte1('X') Int32(4) length
 * Sync (F)                 Byte1('S') Int32(4) length
 */
function decodeTyped(type: number, r: TraceReader, pending: AuthenticationResponseType | undefined): FrontendMessageBody {
  switch (type) {
    case 0x70: // 'p'
      return decodeAuthenticationResponse(r, pending)
    case 0x51: // 'Q'
      return { type: 'Query', query: finalString(r, 'the query') }
    case 0x64: // 'd'
      return { type: 'CopyData', data: r.rest() }
    case 0x63: // 'c'
      r.end('CopyDone')
      return { type: 'CopyDone' }
    case 0x66: // 'f'
      return { type: 'CopyFail', reason: finalString(r, 'the reason') }
    case 0x58: // 'X'
      r.end('Terminate')
      return { type: 'Terminate' }
    case 0x53: // 'S'
      r.end('Sync')
      return { type: 'Sync' }
    default:
      return { type: 'Unknown', typeByte: type }
  }
}

function decodeAuthenticationResponse(r: TraceReader, pending: AuthenticationResponseType | undefined): FrontendMessageBody {
  switch (pending) {
    case 'PasswordMessage':
      return { type: 'PasswordMessage', password: finalString(r, 'the password') }
    case 'SASLInitialResponse': {
      const mechanism = r.cstring('the mechanism name')
      const count = r.int32('the response length')
      const response = count === -1 ? null : r.bytes(count, 'the response')
      r.end('the response')
      return { type: 'SASLInitialResponse', mechanism, response }
    }
    case 'SASLResponse':
      return { type: 'SASLResponse', data: r.rest() }
    case undefined:
      return { type: 'UnknownAuthenticationResponse' }
  }
}

/** The last String of a message: its NUL must be the body's last byte. */
function finalString(r: TraceReader, what: string): string {
  const text = r.cstring(what)
  r.end(what)
  return text
}
