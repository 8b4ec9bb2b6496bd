/**
 * Decoder of the Authentication (B) family: one message type 'R', told apart by an Int32 code.
 * Pure: reads from a BodyReader, imports only types and errors.
 */
import { ProtocolViolationError } from '../errors.ts'
import type { BodyReader } from '../bytes/reader.ts'
import type { BackendMessage } from './messages.ts'

/**
 * Authentication* (B)
 *   Byte1('R') Int32 length Int32 code, then by code:
 *    0 AuthenticationOk
 *    2 AuthenticationKerberosV5
 *    3 AuthenticationCleartextPassword
 *    5 AuthenticationMD5Password    Byte4 salt
 *    7 AuthenticationGSS
 *    8 AuthenticationGSSContinue    Byte[n] data
 *    9 AuthenticationSSPI
 *   10 AuthenticationSASL           String mechanism ... Byte1(0)
 *   11 AuthenticationSASLContinue   Byte[n] data
 *   12 AuthenticationSASLFinal      Byte[n] data
 */
export function decodeAuthentication(r: BodyReader): BackendMessage {
  const code = r.int32('Authentication code')
  switch (code) {
    case 0:
      return bodyless(r, 'AuthenticationOk')
    case 2:
      return bodyless(r, 'AuthenticationKerberosV5')
    case 3:
      return bodyless(r, 'AuthenticationCleartextPassword')
    case 5: {
      const salt = r.bytes(4, 'AuthenticationMD5Password salt')
      r.end('AuthenticationMD5Password')
      return { type: 'AuthenticationMD5Password', salt }
    }
    case 7:
      return bodyless(r, 'AuthenticationGSS')
    case 8:
      r.rest() // GSS data we will never use
      return { type: 'AuthenticationGSSContinue' }
    case 9:
      return bodyless(r, 'AuthenticationSSPI')
    case 10:
      return { type: 'AuthenticationSASL', mechanisms: decodeMechanisms(r) }
    case 11:
      return { type: 'AuthenticationSASLContinue', data: r.rest() }
    case 12:
      return { type: 'AuthenticationSASLFinal', data: r.rest() }
    default:
      throw new ProtocolViolationError(`unknown Authentication code ${code}`)
  }
}

/** A message that is its code alone: nothing may follow the code. */
function bodyless<T extends BackendMessage['type']>(r: BodyReader, type: T): { type: T } {
  r.end(type)
  return { type }
}

/** A list of Strings ended by an empty one (a lone zero byte). */
function decodeMechanisms(r: BodyReader): string[] {
  const mechanisms: string[] = []
  for (;;) {
    const name = r.cstring('AuthenticationSASL mechanism')
    if (name === '') break
    mechanisms.push(name)
  }
  r.end('AuthenticationSASL')
  return mechanisms
}
