/**
 * One trace line, as libpq's PQtrace prints it (fe-trace.c): an optional timestamp, the
 * direction (F to the server, B from it), the message length, the message name, then its fields.
 * Pure: imports nothing. What a field holds has already been redacted by the time it gets here.
 *
 *   2026-01-02 03:04:05.006789	F	13	Query	 "SELECT 1"
 *
 * Where libpq prints raw bytes, this file escapes them, so that one message is always one line
 * and a payload cannot forge the next one (a newline in a query, a quote in a string).
 */

/** A field of a message, by how it is shown. */
export type Field =
  /** Int8, Int16 or Int32: in decimal, as libpq's pqTraceOutputInt16/Int32. */
  | { readonly kind: 'int'; readonly value: number }
  /** Byte1: the character if printable, else \xNN (pqTraceOutputByte1). */
  | { readonly kind: 'byte1'; readonly value: number }
  /** String: in double quotes, escaped as JSON (libpq prints it raw). */
  | { readonly kind: 'string'; readonly value: string }
  /** Byte[n]: in single quotes, printable ASCII as is, every other byte as \xNN (pqTraceOutputNchar). */
  | { readonly kind: 'bytes'; readonly value: Uint8Array }
  /** A value left out on purpose (a secret), or a remark about the message (it is malformed). */
  | { readonly kind: 'note'; readonly value: string }
  /**
   * Words the tracer writes itself, shown as is: the name of a message carried in CopyData, an
   * LSN in its X/Y form, a time, true or false. Never text from the wire (that is a String or
   * Byte[n], escaped), so that nothing the server or client sends can break the line.
   */
  | { readonly kind: 'word'; readonly value: string }
  /**
   * `name=value`: a field of a message carried in CopyData, which libpq leaves undecoded, named
   * as in the protocol docs, since a line of nested messages read by position alone is a puzzle.
   */
  | { readonly kind: 'named'; readonly name: string; readonly value: Field }
  /** `(3 columns: a, b c, d)`: how many, then each item's fields; `(0 columns)` when empty. */
  | { readonly kind: 'list'; readonly count: string; readonly items: readonly (readonly Field[])[] }

export interface TraceLine {
  readonly direction: 'F' | 'B'
  /** The Int32 length field, which counts itself but not the type byte; undefined if unknown. */
  readonly length: number | undefined
  /** The message name, exactly as in the protocol docs' "Message Formats". */
  readonly name: string
  readonly fields: readonly Field[]
}

export const int = (value: number): Field => ({ kind: 'int', value })
export const byte1 = (value: number): Field => ({ kind: 'byte1', value })
export const string = (value: string): Field => ({ kind: 'string', value })
export const bytes = (value: Uint8Array): Field => ({ kind: 'bytes', value })
export const note = (value: string): Field => ({ kind: 'note', value })
export const word = (value: string): Field => ({ kind: 'word', value })
export const named = (name: string, value: Field): Field => ({ kind: 'named', name, value })
export const list = (count: string, items: readonly (readonly Field[])[]): Field => ({ kind: 'list', count, items })

/** What replaces a secret, in a line and inside a Byte[n] (e.g. `p=[redacted]`). */
export const REDACTED = '[redacted]'
export const redacted: Field = note(REDACTED)

/**
 * The line, without its newline. libpq writes "name\t" and then " field" for each field; a
 * message without fields ends at its name (e.g. "F\t4\tTerminate").
 */
export function formatLine(line: TraceLine, timestamp?: string): string {
  let text = timestamp === undefined ? '' : `${timestamp}\t`
  text += `${line.direction}\t${line.length ?? '?'}\t${line.name}`
  if (line.fields.length > 0) {
    text += '\t'
    for (const field of line.fields) text += ` ${formatField(field)}`
  }
  return text
}

export function formatField(field: Field): string {
  switch (field.kind) {
    case 'int':
      return String(field.value)
    case 'byte1':
      return isPrintableAscii(field.value) ? String.fromCharCode(field.value) : hex(field.value)
    case 'string':
      return quoteString(field.value)
    case 'bytes':
      return quoteBytes(field.value)
    case 'note':
    case 'word':
      return field.value
    case 'named':
      return `${field.name}=${formatField(field.value)}`
    case 'list': {
      if (field.items.length === 0) return `(${field.count})`
      return `(${field.count}: ${field.items.map((item) => item.map(formatField).join(' ')).join(', ')})`
    }
  }
}

/**
 * JSON's quoting, which escapes '"', '\' and C0 controls, plus DEL, the C1 controls and U+2028/
 * U+2029, which some terminals and editors also take for line breaks or commands. The result is
 * still a valid JSON string.
 */
export function quoteString(text: string): string {
  return JSON.stringify(text).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/**
 * libpq's pqTraceOutputNchar, made unambiguous: printable ASCII as is, except "'" and '\',
 * which (like every other byte) are written \xNN so that the quotes always delimit the value.
 */
export function quoteBytes(value: Uint8Array): string {
  let text = "'"
  for (const byte of value) text += isPrintableAscii(byte) && byte !== 0x27 && byte !== 0x5c ? String.fromCharCode(byte) : hex(byte)
  return `${text}'`
}

function isPrintableAscii(byte: number): boolean {
  return byte >= 0x20 && byte < 0x7f
}

function hex(byte: number): string {
  return `\\x${byte.toString(16).padStart(2, '0')}`
}

/**
 * libpq's pqTraceFormatTimestamp: local time, "%Y-%m-%d %H:%M:%S" and six digits of
 * microseconds. `epochMs` may carry a fraction of a millisecond (performance.now() does).
 */
export function formatTimestamp(epochMs: number): string {
  const micros = Math.round(epochMs * 1000)
  const seconds = Math.floor(micros / 1_000_000)
  const date = new Date(seconds * 1000)
  const two = (n: number) => String(n).padStart(2, '0')
  const day = `${String(date.getFullYear()).padStart(4, '0')}-${two(date.getMonth() + 1)}-${two(date.getDate())}`
  const time = `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`
  return `${day} ${time}.${String(micros - seconds * 1_000_000).padStart(6, '0')}`
}
