/**
 * A decoded backend message as a trace line, fields in wire order as libpq's fe-trace.c prints
 * them, secrets redacted; and the one-byte answer to an encryption request, which is no message.
 * Pure: imports message types, the line vocabulary, the redaction rules.
 *
 * The Tracer hook hands over messages already decoded, so the length column is computed back
 * from the message: exact for every message, except that an ErrorResponse or NoticeResponse
 * counts only the fields pglisten decodes (the docs let clients skip unknown field codes, and
 * the decoder does) and AuthenticationGSSContinue, whose data is not kept, shows "?".
 *
 * Redacted here: BackendKeyData's secret key (with the process ID it lets anyone cancel this
 * session's queries; libpq prints it) and SCRAM's server signature (./redact.ts).
 */
import type { NoticeFields } from '../errors.ts'
import type { BackendMessage } from '../backend/messages.ts'
import { encodeUtf8, utf8Length } from '../bytes/utf8.ts'
import { byte1, bytes, int, note, redacted, string, type Field, type TraceLine } from './line.ts'
import { isScram, redactServerFinal } from './redact.ts'

/** `mechanism` is the SASL mechanism the client chose, if a SASL exchange is under way. */
export function backendLine(message: BackendMessage, mechanism: string | undefined): TraceLine {
  const line = (length: number | undefined, fields: Field[] = []): TraceLine => ({ direction: 'B', length, name: message.type, fields })
  switch (message.type) {
    case 'AuthenticationOk':
    case 'AuthenticationCleartextPassword':
    case 'AuthenticationKerberosV5':
    case 'AuthenticationGSS':
    case 'AuthenticationSSPI':
      return line(8)
    case 'AuthenticationGSSContinue':
      return line(undefined)
    case 'AuthenticationMD5Password':
      // The salt is public: the server sends it to anyone who asks. libpq leaves it out.
      return line(8 + message.salt.length, [bytes(message.salt)])
    case 'AuthenticationSASL':
      // The list ends with an empty String, which libpq shows as "".
      return line(8 + strings(message.mechanisms) + 1, [...message.mechanisms.map(string), string('')])
    case 'AuthenticationSASLContinue':
      // The server-first-message (r=, s=, i=) is sent in the clear to anyone who asks.
      return line(8 + message.data.length, [isScram(mechanism) ? bytes(message.data) : redacted])
    case 'AuthenticationSASLFinal':
      return line(8 + message.data.length, [isScram(mechanism) ? bytes(redactServerFinal(message.data)) : redacted])
    case 'ParameterStatus':
      return line(4 + strings([message.name, message.value]), [string(message.name), string(message.value)])
    case 'BackendKeyData':
      return line(8 + message.secretKey.length, [int(message.processId), redacted])
    case 'NegotiateProtocolVersion': {
      const options = message.unrecognizedOptions
      return line(12 + strings(options), [int(message.newestVersion), int(options.length), ...options.map(string)])
    }
    case 'ReadyForQuery':
      return line(5, [byte1(message.status.charCodeAt(0))])
    case 'RowDescription': {
      const fields: Field[] = [int(message.fields.length)]
      let length = 6
      for (const f of message.fields) {
        length += strings([f.name]) + 18
        fields.push(string(f.name), int(f.tableOid), int(f.columnNumber), int(f.typeOid), int(f.typeSize), int(f.typeModifier), int(f.format))
      }
      return line(length, fields)
    }
    case 'DataRow': {
      // Values are Byte[n] on the wire, shown as libpq shows them: length, then the bytes.
      const fields: Field[] = [int(message.values.length)]
      let length = 6
      for (const value of message.values) {
        const data = value === null ? undefined : encodeUtf8(value)
        length += 4 + (data?.length ?? 0)
        fields.push(int(data?.length ?? -1))
        if (data) fields.push(bytes(data))
      }
      return line(length, fields)
    }
    case 'CommandComplete':
      return line(4 + strings([message.tag]), [string(message.tag)])
    case 'EmptyQueryResponse':
    case 'CopyDone':
      return line(4)
    case 'ErrorResponse':
    case 'NoticeResponse':
      return noticeLine(message.fields, line)
    case 'NotificationResponse':
      return line(8 + strings([message.channel, message.payload]), [int(message.processId), string(message.channel), string(message.payload)])
    case 'CopyInResponse':
    case 'CopyOutResponse':
    case 'CopyBothResponse': {
      // The overall format is an Int8, shown as a number (libpq prints it as a Byte1, "\x00").
      const formats = message.columnFormats
      return line(7 + 2 * formats.length, [int(message.format), int(formats.length), ...formats.map(int)])
    }
    case 'CopyData':
      // As libpq shows it; in a COPY BOTH the tracer may read it (TracerOptions.copyBoth).
      return line(4 + message.data.length, [bytes(message.data)])
    default:
      // Unreachable for a BackendMessage; a value from outside the union still gets a line.
      return notUnderstood(message)
  }
}

/**
 * The one-byte answer to SSLRequest or GSSENCRequest, as libpq's pqTraceOutputCharResponse
 * prints it: "B", a length of 1 (the byte itself; there is no length field), the name libpq
 * gives it, and the byte as a Byte1.
 */
export function charResponseLine(name: 'SSLResponse' | 'GSSENCResponse', response: number): TraceLine {
  return { direction: 'B', length: 1, name, fields: [byte1(response)] }
}

/** The line for a value that is not a BackendMessage the tracer knows. */
export function notUnderstood(message: unknown): TraceLine {
  const type = (message as { type?: unknown } | undefined)?.type
  return { direction: 'B', length: undefined, name: String(type), fields: [note('[not understood by the tracer]')] }
}

/** NoticeFields' names back to the field codes of "Error and Notice Message Fields". */
const fieldCodes: Readonly<Record<keyof NoticeFields, string>> = {
  severityLocalized: 'S',
  severity: 'V',
  code: 'C',
  message: 'M',
  detail: 'D',
  hint: 'H',
  position: 'P',
  internalPosition: 'p',
  internalQuery: 'q',
  where: 'W',
  schema: 's',
  table: 't',
  column: 'c',
  dataType: 'd',
  constraint: 'n',
  file: 'F',
  line: 'L',
  routine: 'R',
}

/**
 * ErrorResponse (B) / NoticeResponse (B)
 *   Int32 length, then repeated { Byte1 fieldCode String value }, ended by Byte1(0)
 * The decoder keeps the fields in wire order (object keys keep insertion order).
 */
function noticeLine(notice: NoticeFields, line: (length: number, fields: Field[]) => TraceLine): TraceLine {
  const fields: Field[] = []
  let length = 4 + 1
  for (const [key, value] of Object.entries(notice) as [keyof NoticeFields, string | number | undefined][]) {
    const code = fieldCodes[key]
    if (code === undefined || value === undefined) continue
    const text = String(value)
    length += 1 + strings([text])
    fields.push(byte1(code.charCodeAt(0)), string(text))
  }
  fields.push(byte1(0))
  return line(length, fields)
}

/** The bytes the Strings take on the wire: UTF-8 and a NUL each. */
function strings(values: readonly string[]): number {
  let length = 0
  for (const value of values) length += utf8Length(value) + 1
  return length
}
