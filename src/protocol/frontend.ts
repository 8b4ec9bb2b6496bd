/**
 * Encoders for every message the client sends, each appending to a caller's ByteWriter.
 * Pure; imports the writer, and quote.ts's NUL check. Messages that never change (SSLRequest,
 * Terminate) are built once, by calls marked pure: a bundle that never sends one drops it.
 */
import { ByteWriter } from './bytes/writer.ts'
// Strings on the wire end at a NUL, so one inside would cut them short: encoders refuse it.
import { checkText } from './quote.ts'

/** Protocol versions: major << 16 | minor ("Protocol Versions" in the docs). */
export const protocol30 = (3 << 16) | 0
export const protocol32 = (3 << 16) | 2
export type ProtocolVersion = typeof protocol30 | typeof protocol32

/** The magic numbers that take the place of a protocol version in special startup packets. */
const sslRequestCode = 80877103 // 1234 << 16 | 5679
const cancelRequestCode = 80877102 // 1234 << 16 | 5678

/**
 * StartupMessage (F)
 *   Int32 length Int32 protocolVersion { String name String value } ... Byte1(0)
 * Parameters are e.g. user, database, application_name, options, client_encoding.
 */
export function writeStartupMessage(w: ByteWriter, version: ProtocolVersion, parameters: Readonly<Record<string, string>>): ByteWriter {
  const at = w.beginMessage()
  w.int32(version)
  for (const [name, value] of Object.entries(parameters)) {
    checkText(name, 'a startup parameter name')
    checkText(value, `the startup parameter ${name}`)
    if (name === '') throw new RangeError('a startup parameter name must not be empty')
    w.cstring(name).cstring(value)
  }
  return w.byte(0).endMessage(at)
}

/**
 * SSLRequest (F)
 *   Int32(8) length Int32(80877103) code
 */
export const sslRequest: Uint8Array = /* @__PURE__ */ new ByteWriter(8).int32(8).int32(sslRequestCode).toBytes()

/**
 * PasswordMessage (F)
 *   Byte1('p') Int32 length String password
 * Carries a cleartext password or an md5 hash ("md5" + 32 hex digits).
 */
export function writePasswordMessage(w: ByteWriter, password: string): ByteWriter {
  checkText(password, 'a password')
  const at = w.beginMessage(0x70)
  return w.cstring(password).endMessage(at)
}

/**
 * SASLInitialResponse (F)
 *   Byte1('p') Int32 length String mechanism Int32 responseLength (-1: none) Byte[n] response
 */
export function writeSASLInitialResponse(w: ByteWriter, mechanism: string, response: Uint8Array | null): ByteWriter {
  checkText(mechanism, 'a SASL mechanism name')
  const at = w.beginMessage(0x70)
  w.cstring(mechanism)
  if (response === null) w.int32(-1)
  else w.int32(response.length).bytes(response)
  return w.endMessage(at)
}

/**
 * SASLResponse (F)
 *   Byte1('p') Int32 length Byte[n] data
 */
export function writeSASLResponse(w: ByteWriter, data: Uint8Array): ByteWriter {
  const at = w.beginMessage(0x70)
  return w.bytes(data).endMessage(at)
}

/**
 * Query (F)
 *   Byte1('Q') Int32 length String query
 */
export function writeQuery(w: ByteWriter, sql: string): ByteWriter {
  checkText(sql, 'a query')
  const at = w.beginMessage(0x51)
  return w.cstring(sql).endMessage(at)
}

/**
 * Sync (F)
 *   Byte1('S') Int32(4) length
 * Ends an extended query; sent alone, it asks for nothing but a ReadyForQuery, and the server
 * runs no statement (so pg_stat_activity.query keeps the last one): the heartbeat's round trip.
 */
export function writeSync(w: ByteWriter): ByteWriter {
  return w.endMessage(w.beginMessage(0x53))
}

/**
 * CopyFail (F)
 *   Byte1('f') Int32 length String reason
 * Our way out of a COPY FROM STDIN we never asked for.
 */
export function writeCopyFail(w: ByteWriter, reason: string): ByteWriter {
  checkText(reason, 'a CopyFail reason')
  const at = w.beginMessage(0x66)
  return w.cstring(reason).endMessage(at)
}

/**
 * CopyData (F)
 *   Byte1('d') Int32 length Byte[n] data
 * In COPY BOTH (streaming replication), what the client sends back: status updates.
 */
export function writeCopyData(w: ByteWriter, data: Uint8Array): ByteWriter {
  const at = w.beginMessage(0x64)
  return w.bytes(data).endMessage(at)
}

/**
 * CopyDone (F)
 *   Byte1('c') Int32(4) length
 * Ends the client's half of a COPY BOTH: the walsender answers with its own CopyDone.
 */
export const copyDone: Uint8Array = /* @__PURE__ */ new ByteWriter(5).byte(0x63).int32(4).toBytes()

/**
 * Terminate (F)
 *   Byte1('X') Int32(4) length
 */
export const terminate: Uint8Array = /* @__PURE__ */ new ByteWriter(5).byte(0x58).int32(4).toBytes()

/**
 * CancelRequest (F), sent on a new connection of its own
 *   Int32 length Int32(80877102) code Int32 processId Byte[n] secretKey
 * The key is 4 bytes under protocol 3.0 and up to 256 under 3.2, so the length varies.
 */
export function writeCancelRequest(w: ByteWriter, processId: number, secretKey: Uint8Array): ByteWriter {
  if (secretKey.length < 4 || secretKey.length > 256) {
    throw new RangeError(`a cancel key is 4 to 256 bytes, not ${secretKey.length}`)
  }
  const at = w.beginMessage()
  return w.int32(cancelRequestCode).int32(processId).bytes(secretKey).endMessage(at)
}
