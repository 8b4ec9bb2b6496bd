/**
 * An independent builder of wire bytes for tests. It shares no code with src/, so a bug in an
 * encoder cannot hide the same bug in a decoder (node-postgres's pg-protocol tests do likewise).
 */

export function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values)
}

/** Character codes of an ASCII string, one byte each. */
export function ascii(text: string): number[] {
  return [...text].map((c) => {
    const code = c.charCodeAt(0)
    if (code > 0x7f) throw new Error(`ascii() got ${JSON.stringify(c)}`)
    return code
  })
}

/** UTF-8 bytes, via the platform's own encoder. */
export function utf8(text: string): number[] {
  return [...new TextEncoder().encode(text)]
}

export function int32(value: number): number[] {
  return [(value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff]
}

export function int16(value: number): number[] {
  return [(value >>> 8) & 0xff, value & 0xff]
}

/** String: UTF-8 then NUL. */
export function cstr(text: string): number[] {
  return [...utf8(text), 0]
}

/** A whole backend message: Byte1 type, Int32 length (counting itself), body. */
export function message(type: string, ...body: number[][]): Uint8Array {
  const flat = body.flat()
  return bytes(type.charCodeAt(0), ...int32(flat.length + 4), ...flat)
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.length
  }
  return out
}

/** Common backend messages, built by hand. */
export const backend = {
  authenticationOk: () => message('R', int32(0)),
  authenticationCleartextPassword: () => message('R', int32(3)),
  authenticationMD5Password: (salt: number[]) => message('R', int32(5), salt),
  authenticationSASL: (...mechanisms: string[]) => message('R', int32(10), ...mechanisms.map(cstr), [0]),
  authenticationSASLContinue: (data: string) => message('R', int32(11), utf8(data)),
  authenticationSASLFinal: (data: string) => message('R', int32(12), utf8(data)),
  parameterStatus: (name: string, value: string) => message('S', cstr(name), cstr(value)),
  backendKeyData: (processId: number, key: number[]) => message('K', int32(processId), key),
  readyForQuery: (status: 'I' | 'T' | 'E' = 'I') => message('Z', ascii(status)),
  commandComplete: (tag: string) => message('C', cstr(tag)),
  emptyQueryResponse: () => message('I'),
  rowDescription: (...names: string[]) =>
    message('T', int16(names.length), ...names.map((name) => [...cstr(name), ...int32(0), ...int16(0), ...int32(25), ...int16(-1), ...int32(-1), ...int16(0)])),
  dataRow: (...values: (string | null)[]) =>
    message('D', int16(values.length), ...values.map((v) => (v === null ? int32(-1) : [...int32(utf8(v).length), ...utf8(v)]))),
  errorResponse: (fields: Record<string, string>) =>
    message('E', ...Object.entries(fields).map(([code, value]) => [...ascii(code), ...cstr(value)]), [0]),
  noticeResponse: (fields: Record<string, string>) =>
    message('N', ...Object.entries(fields).map(([code, value]) => [...ascii(code), ...cstr(value)]), [0]),
  notificationResponse: (processId: number, channel: string, payload: string) =>
    message('A', int32(processId), cstr(channel), cstr(payload)),
}

/**
 * What a server sends to accept a login that needs no password: AuthenticationOk, the one
 * ParameterStatus pglisten requires (client_encoding UTF8), BackendKeyData and ReadyForQuery.
 */
export function loginAccepted(): Uint8Array {
  return concat(backend.authenticationOk(), backend.parameterStatus('client_encoding', 'UTF8'), backend.backendKeyData(7, [1, 2, 3, 4]), backend.readyForQuery())
}
