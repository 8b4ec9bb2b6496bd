/**
 * The server's answer to SSLRequest, judged the same way whatever socket carried it: one byte,
 * 'S' or 'N' (protocol docs, "SSL Session Encryption"). Pure: imports only the error classes.
 */
import { ConnectionLostError, ProtocolViolationError } from '../errors.ts'

/**
 * The answer in `chunk`, the first bytes read after SSLRequest. The answer is exactly one byte.
 * Anything sent along with it arrived before the handshake, unencrypted and unauthenticated,
 * and must not be read as if it came through TLS (CVE-2021-23222): more than one byte aborts.
 */
export function judgeSslAnswer(chunk: Uint8Array): 'S' | 'N' {
  if (chunk[0] === 0x45 /* E */) {
    // An old or overloaded server sends an ErrorResponse. Its text is unauthenticated and
    // could say anything: show only our own words, and never read it (CVE-2024-10977).
    throw new ConnectionLostError('the server answered SSLRequest with an error')
  }
  if (chunk.length !== 1) {
    throw new ProtocolViolationError('the server sent more than one byte in answer to SSLRequest (a possible injection, CVE-2021-23222)')
  }
  if (chunk[0] === 0x53 /* S */) return 'S'
  if (chunk[0] === 0x4e /* N */) return 'N'
  throw new ProtocolViolationError(`the server answered SSLRequest with byte 0x${chunk[0]!.toString(16)}`)
}
