/**
 * A decoded frontend message as a trace line, with its fields in wire order as libpq's
 * fe-trace.c prints them, and its secrets redacted. Pure: imports the line vocabulary and
 * the redaction rules.
 *
 * Redacted here: the PasswordMessage's password or md5 hash (the hash is "md5" +
 * md5(md5(password + user) + salt): with the salt, which the trace shows, it lets anyone test
 * password guesses offline, and replay it should the server pick that salt again); a
 * CancelRequest's secret key (it lets anyone cancel this session's queries); SCRAM's proof
 * (./redact.ts); the data of any other SASL mechanism; and the body of any 'p' message whose
 * kind is not known.
 */
import type { FrontendMessage } from './frontend.ts'
import { bytes, int, note, redacted, string, type Field, type TraceLine } from './line.ts'
import { isScram, redactClientFinal } from './redact.ts'

/** `mechanism` is the SASL mechanism the client chose, if a SASL exchange is under way. */
export function frontendLine(message: FrontendMessage, mechanism: string | undefined): TraceLine {
  const line = (name: string, fields: Field[] = []): TraceLine => ({ direction: 'F', length: message.length, name, fields })
  switch (message.type) {
    case 'StartupMessage': {
      // The version as libpq shows it: major and minor, two Int16s.
      const fields = [int(message.protocolVersion >>> 16), int(message.protocolVersion & 0xffff)]
      for (const [name, value] of message.parameters) fields.push(string(name), string(value))
      return line('StartupMessage', fields)
    }
    case 'SSLRequest':
      return line('SSLRequest', [int(1234), int(5679)])
    case 'GSSENCRequest':
      return line('GSSENCRequest', [int(1234), int(5680)])
    case 'CancelRequest':
      return line('CancelRequest', [int(1234), int(5678), int(message.processId), redacted])
    case 'PasswordMessage':
      return line('PasswordMessage', [redacted])
    case 'SASLInitialResponse': {
      const fields = [string(message.mechanism)]
      if (message.response === null) fields.push(int(-1))
      else {
        // The client-first-message holds nothing secret: gs2 header, n= (empty), r= nonce.
        fields.push(int(message.response.length), isScram(message.mechanism) ? bytes(message.response) : redacted)
      }
      return line('SASLInitialResponse', fields)
    }
    case 'SASLResponse':
      return line('SASLResponse', [isScram(mechanism) ? bytes(redactClientFinal(message.data)) : redacted])
    case 'UnknownAuthenticationResponse':
      return line('UnknownAuthenticationResponse', [redacted])
    case 'Query':
      return line('Query', [string(message.query)])
    case 'CopyData':
      // As libpq shows it; in a COPY BOTH the tracer may read it (TracerOptions.copyBoth).
      return line('CopyData', [bytes(message.data)])
    case 'CopyDone':
      return line('CopyDone')
    case 'CopyFail':
      return line('CopyFail', [string(message.reason)])
    case 'Terminate':
      return line('Terminate')
    case 'Sync':
      return line('Sync')
    case 'Unknown':
      // libpq's words (with 0x: its %02x is hex). The body is not shown: it might be secret.
      return line(`Unknown message: 0x${message.typeByte.toString(16).padStart(2, '0')}`)
    case 'Malformed':
      return line(message.name ?? 'Malformed', [note(`[malformed: ${message.reason}]`)])
  }
}
