/**
 * What the fuzz suite (test/integration/fuzz.test.ts) sends: fast-check generators of server
 * byte streams, the mutations applied to a valid stream, and the fake server's script for each
 * stage of a connection. Valid streams are built with ./wire.ts, never with src encoders.
 *
 * A generated case is plain data (a Plan, a Chunking, an Ending), so that fast-check prints a
 * counterexample that can be read; the bytes are made from it only when the script runs, since
 * some valid streams (SCRAM's) depend on what the client sent.
 */
import { createHmac, pbkdf2Sync } from 'node:crypto'
import fc from 'fast-check'
import type { FakeClient } from './fake-server.ts'
import { backend, concat, int32, message } from './wire.ts'

// ---------------------------------------------------------------------------------------------
// Mutations of a valid stream

/**
 * One change to a valid stream, seen as a list of messages. Positions are any natural number,
 * taken modulo the stream's size when applied, so one generated mutation fits any stream.
 */
export type Mutation =
  /** Flips bit `bit` of the byte at `at`. */
  | { op: 'flip'; at: number; bit: number }
  /** Replaces the byte at `at`. */
  | { op: 'replace'; at: number; byte: number }
  /** Cuts the stream at `at`: the server sends no more of it. */
  | { op: 'truncate'; at: number }
  /** Inserts bytes at `at`, anywhere, even inside a header. */
  | { op: 'insert'; at: number; bytes: Uint8Array }
  /** Inserts bytes between two messages (after message `message`). */
  | { op: 'between'; message: number; bytes: Uint8Array }
  /** Overwrites the Int32 length of message `message`: with `value`, or, if `relative`, with its own length plus `value`. */
  | { op: 'length'; message: number; value: number; relative: boolean }
  /** Sends message `message` twice. */
  | { op: 'duplicate'; message: number }

/** Lengths that break framers: below the 4 of the length itself, the signed and unsigned extremes, both sides of the 64 MiB default maximum. */
export const hostileLengths = [0, 1, 2, 3, 4, 5, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffc, 0x04000000, 0x04000001, 0x00ffffff]

/** A backend message type letter, or sometimes any byte. */
const typeByte = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...[...'ADCTZENSRKvIGHWdc'].map((c) => c.charCodeAt(0))) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
)

/** A header that frames correctly, then a random body: reaches the decoders, not only the framer. */
export const plausibleMessage: fc.Arbitrary<Uint8Array> = fc
  .tuple(typeByte, fc.uint8Array({ maxLength: 40 }))
  .map(([type, body]) => concat(Uint8Array.of(type, ...int32(body.length + 4)), body))

/** Bytes to insert: random, or a plausible message. */
const insertion = fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 24 }), plausibleMessage)

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('replace' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: insertion }),
  fc.record({ op: fc.constant('between' as const), message: fc.nat(), bytes: insertion }),
  fc.oneof(
    fc.record({ op: fc.constant('length' as const), message: fc.nat(), value: fc.constantFrom(...hostileLengths), relative: fc.constant(false) }),
    fc.record({ op: fc.constant('length' as const), message: fc.nat(), value: fc.integer({ min: 0, max: 0xffffffff }), relative: fc.constant(false) }),
    fc.record({ op: fc.constant('length' as const), message: fc.nat(), value: fc.integer({ min: -8, max: 8 }), relative: fc.constant(true) }),
  ),
  fc.record({ op: fc.constant('duplicate' as const), message: fc.nat() }),
)

/** Applies `mutations` to the messages of a valid stream: message-level ones first, then byte-level ones. */
export function mutate(valid: readonly Uint8Array[], mutations: readonly Mutation[]): Uint8Array {
  const messages: Uint8Array[] = valid.map((m) => m.slice())
  for (const m of mutations) {
    if (messages.length === 0) break
    const at = 'message' in m ? m.message % messages.length : 0
    if (m.op === 'duplicate') messages.splice(at, 0, messages[at]!.slice())
    else if (m.op === 'between') messages.splice(at + 1, 0, m.bytes)
    else if (m.op === 'length' && messages[at]!.length >= 5) {
      const target = messages[at]!
      const own = new DataView(target.buffer, target.byteOffset).getUint32(1)
      target.set(int32(m.relative ? own + m.value : m.value), 1)
    }
  }
  let bytes = concat(...messages)
  for (const m of mutations) {
    const size = bytes.length
    if (m.op === 'flip' && size > 0) bytes[m.at % size]! ^= 1 << m.bit
    else if (m.op === 'replace' && size > 0) bytes[m.at % size] = m.byte
    else if (m.op === 'truncate') bytes = bytes.slice(0, m.at % (size + 1))
    else if (m.op === 'insert') {
      const at = m.at % (size + 1)
      bytes = concat(bytes.subarray(0, at), m.bytes, bytes.subarray(at))
    }
  }
  return bytes
}

/** How many of `valid`'s messages `sent` starts with, byte for byte: the client must read those exactly as if nothing were wrong. */
export function intactMessages(valid: readonly Uint8Array[], sent: Uint8Array): number {
  let at = 0
  for (let i = 0; i < valid.length; i++) {
    const m = valid[i]!
    if (at + m.length > sent.length || m.some((byte, j) => sent[at + j] !== byte)) return i
    at += m.length
  }
  return valid.length
}

// ---------------------------------------------------------------------------------------------
// Plans: what the server sends in place of the valid stream

export type Plan =
  /** Any bytes at all. */
  | { kind: 'random'; bytes: Uint8Array }
  /** Messages that frame correctly, with random bodies. */
  | { kind: 'plausible'; messages: Uint8Array[] }
  /** The valid stream, changed by these mutations (none: the valid stream itself). */
  | { kind: 'mutated'; mutations: Mutation[] }

export const plan: fc.Arbitrary<Plan> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('random' as const), bytes: fc.uint8Array({ maxLength: 200 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('plausible' as const), messages: fc.array(plausibleMessage, { maxLength: 6 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('mutated' as const), mutations: fc.array(mutation, { minLength: 1, maxLength: 4 }) }) },
  // Now and then the valid stream untouched, so that the success path is checked as well.
  { weight: 1, arbitrary: fc.constant<Plan>({ kind: 'mutated', mutations: [] }) },
)

export function render(p: Plan, valid: readonly Uint8Array[]): Uint8Array {
  switch (p.kind) {
    case 'random':
      return p.bytes
    case 'plausible':
      return concat(...p.messages)
    case 'mutated':
      return mutate(valid, p.mutations)
  }
}

// ---------------------------------------------------------------------------------------------
// How the bytes are written, and what the server does after them

/** Cut points (taken modulo the length) and pauses in ms after each chunk, 0 meaning one turn of the event loop. */
export interface Chunking {
  cuts: number[]
  pauses: number[]
}

export const chunking: fc.Arbitrary<Chunking> = fc.record({
  cuts: fc.array(fc.nat(), { maxLength: 5 }),
  pauses: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 3 }),
})

/**
 * After its bytes the server either hangs up at once, or goes on answering queries (Query and
 * Sync get valid answers) until the client has been silent for a while, then hangs up.
 */
export type Ending = 'hang up' | 'serve'
export const ending: fc.Arbitrary<Ending> = fc.constantFrom('hang up', 'serve')

/** How long a serving server waits for the client's next message before it hangs up, ms. */
export const idleMs = 120

export function chunks(bytes: Uint8Array, { cuts }: Chunking): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const out: Uint8Array[] = []
  let from = 0
  for (const to of [...points, bytes.length]) {
    if (to > from) out.push(bytes.subarray(from, to))
    from = to
  }
  return out
}

export async function writeChunks(client: FakeClient, bytes: Uint8Array, how: Chunking): Promise<void> {
  const parts = chunks(bytes, how)
  for (let i = 0; i < parts.length; i++) {
    client.write(parts[i]!)
    if (i < parts.length - 1) await pause(how.pauses[i % how.pauses.length]!)
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => (ms === 0 ? setImmediate(resolve) : setTimeout(resolve, ms)))
}

/** The value of `promise`, or undefined after `ms` or if it rejects (a read cut short by the client closing). */
export function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)))
  return Promise.race([promise.catch(() => undefined), late]).finally(() => clearTimeout(timer))
}

/** A valid answer to a Query: a row for SELECT 1, EmptyQueryResponse for nothing, else a bare CommandComplete (LISTEN). */
export function answerTo(sql: string): Uint8Array {
  if (sql === 'SELECT 1') return concat(backend.rowDescription('?column?'), backend.dataRow('1'), backend.commandComplete('SELECT 1'), backend.readyForQuery())
  if (sql === '') return concat(backend.emptyQueryResponse(), backend.readyForQuery())
  return concat(backend.commandComplete(sql.split(' ')[0]!), backend.readyForQuery())
}

/** What the server does once its stage's bytes are out (see Ending). */
export async function afterwards(client: FakeClient, end: Ending): Promise<void> {
  if (end === 'serve') {
    for (;;) {
      const m = await within(client.readMessage(), idleMs)
      if (!m || m.type === 'X') break
      if (m.type === 'Q') client.write(answerTo(new TextDecoder().decode(m.body.subarray(0, -1))))
      else if (m.type === 'S') client.write(backend.readyForQuery())
    }
  }
  client.end()
}

/** The text of a Query message's body, or undefined for anything else. */
export async function readQuery(client: FakeClient): Promise<string | undefined> {
  const m = await within(client.readMessage(), 2_000)
  return m?.type === 'Q' ? new TextDecoder().decode(m.body.subarray(0, -1)) : undefined
}

// ---------------------------------------------------------------------------------------------
// Valid streams, stage by stage

/** What a PostgreSQL 18 sends after a StartupMessage under trust: AuthenticationOk to ReadyForQuery. */
export function validStartup(): Uint8Array[] {
  return [
    backend.authenticationOk(),
    backend.parameterStatus('client_encoding', 'UTF8'),
    backend.parameterStatus('server_version', '18.1'),
    backend.parameterStatus('in_hot_standby', 'off'),
    backend.parameterStatus('default_transaction_read_only', 'off'),
    backend.parameterStatus('standard_conforming_strings', 'on'),
    backend.backendKeyData(4242, [1, 2, 3, 4]),
    backend.readyForQuery(),
  ]
}

/**
 * NegotiateProtocolVersion (B)
 *   Byte1('v') Int32 length Int32 newest version supported (as PostgreSQL sends it: major << 16 | minor)
 *   Int32 count of options not recognized, String option (that many)
 */
function negotiateProtocolVersion(newest: number): Uint8Array {
  return message('v', int32(newest), int32(0))
}

/** Recorded startup answers: trust, a cleartext password, a server that negotiates 3.0 down, a notice then a FATAL error. */
export const startupStreams: readonly (readonly Uint8Array[])[] = [
  validStartup(),
  [backend.authenticationCleartextPassword(), ...validStartup()],
  [negotiateProtocolVersion(0x30000), ...validStartup()],
  [backend.noticeResponse({ S: 'WARNING', C: '01000', M: 'hello' }), backend.errorResponse({ S: 'FATAL', V: 'FATAL', C: '28000', M: 'no such role' })],
]

/** Recorded answers to SSLRequest: 'N', 'S', and the ErrorResponse an old server sends. */
export const sslAnswers: readonly (readonly Uint8Array[])[] = [
  [Uint8Array.of(0x4e)],
  [Uint8Array.of(0x53)],
  [backend.errorResponse({ S: 'FATAL', C: '08P01', M: 'unsupported frontend protocol' })],
]

/** Recorded answers to the Query of `sql`, some with asynchronous messages inside (protocol docs 55.2.7). */
export function queryAnswers(sql: 'SELECT 1' | 'LISTEN jobs'): Uint8Array[][] {
  const row = sql === 'SELECT 1'
  const result = row ? [backend.rowDescription('?column?'), backend.dataRow('1'), backend.commandComplete('SELECT 1')] : [backend.commandComplete('LISTEN')]
  return [
    [...result, backend.readyForQuery()],
    [backend.noticeResponse({ S: 'NOTICE', C: '00000', M: 'note' }), ...result, backend.parameterStatus('application_name', 'x'), backend.readyForQuery()],
    [backend.notificationResponse(7, 'jobs', 'early'), ...result, backend.readyForQuery('T')],
    [backend.errorResponse({ S: 'ERROR', V: 'ERROR', C: '42601', M: 'syntax error' }), backend.readyForQuery()],
  ]
}

/** A notification as the suite expects it delivered. */
export interface Sent {
  processId: number
  channel: string
  payload: string
}

/** Text a server could send in a channel or payload: any Unicode without NUL. */
const text = fc.string({ unit: 'grapheme', maxLength: 20 }).filter((s) => !s.includes('\0'))

/** A valid idle stream: notifications, with now and then a notice or a parameter report between them. */
export const idleStream: fc.Arbitrary<{ stream: Uint8Array[]; notifications: (Sent | undefined)[] }> = fc
  .array(
    fc.oneof(
      { weight: 6, arbitrary: fc.record({ processId: fc.integer({ min: 1, max: 2 ** 31 - 1 }), channel: fc.constantFrom('jobs', 'é', 'a b'), payload: text }) },
      { weight: 1, arbitrary: fc.constant(undefined) },
    ),
    { minLength: 1, maxLength: 12 },
  )
  .map((items) => ({
    notifications: items,
    stream: items.map((n, i) => n
      ? backend.notificationResponse(n.processId, n.channel, n.payload)
      : i % 2 === 0 ? backend.noticeResponse({ S: 'NOTICE', C: '00000', M: 'idle' }) : backend.parameterStatus('TimeZone', 'UTC')),
  }))

/** The notifications among the first `count` messages of an idle stream. */
export function notificationsIn(notifications: readonly (Sent | undefined)[], count: number): Sent[] {
  return notifications.slice(0, count).filter((n): n is Sent => n !== undefined)
}

// ---------------------------------------------------------------------------------------------
// Authentication: SCRAM-SHA-256 and md5, answered correctly by the test side

export const password = 'fuzz-pw'
export const scramIterations = 4096
/**
 * How long the server waits for the client's next authentication message, ms. A client still
 * waiting for the rest of a truncated message never sends one, so this is what such a case
 * costs; PBKDF2 with 4096 iterations takes a few ms.
 */
const answerMs = 400
const salt = Buffer.from('QSXCR+Q6sek8bf92', 'base64')

/** Which part of an authentication exchange the case changes. */
export type AuthTarget = 'request' | 'continue' | 'final'

/**
 * SCRAM messages as text (RFC 5802 section 7): attributes joined by ',', where {nonce} is the
 * client's nonce and {signature} the correct ServerSignature. Aims at the parser and the state
 * machine, which byte mutations reach only through the framing.
 */
export type ScramText = { kind: 'scram text'; attributes: string[] }

const scramAttribute: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    'r={nonce}SeRvEr', 'r={nonce}', 'r=x{nonce}', 'r={nonce}\u00e9', 's=QSXCR+Q6sek8bf92', 's=', 's=not*base64', 's=QQ', 's=QQ==',
    'i=4096', 'i=1', 'i=0', 'i=01', 'i=-1', 'i=10001', 'i=99999999999999999999', 'i=1e3', 'v={signature}', 'v=', 'v=AAAA',
    'e=invalid-proof', 'e=', 'm=ext', 'x=1', '', '=',
  ),
  fc.tuple(fc.constantFrom('r', 's', 'i', 'v', 'e', 'm'), fc.string({ maxLength: 16 })).map(([name, value]) => `${name}=${value}`),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
)

export const scramText: fc.Arbitrary<ScramText> = fc.record({
  kind: fc.constant('scram text' as const),
  attributes: fc.array(scramAttribute, { maxLength: 5 }),
})

export interface AuthCase {
  method: 'scram' | 'md5'
  target: AuthTarget
  plan: Plan | ScramText
  chunking: Chunking
  ending: Ending
}

function fill(text: ScramText, nonce: string, signature = ''): string {
  return text.attributes.join(',').replaceAll('{nonce}', nonce).replaceAll('{signature}', signature)
}

/**
 * SCRAM (RFC 5802 section 3) from the server's side: AuthenticationSASL, then
 * AuthenticationSASLContinue with r=, s=, i=, then AuthenticationSASLFinal with v=, then the rest
 * of a startup; md5 asks with a salt and goes on to AuthenticationOk. The part named by
 * `target` is replaced by the plan's bytes; a ScramText plan replaces the SCRAM message's text
 * (the mechanism list, for 'request'), and the server signs whatever server-first it sent.
 */
export function authScript(c: AuthCase): (client: FakeClient) => Promise<void> {
  // md5 has no continuation: whatever follows the PasswordMessage is its "final" part.
  const target = c.method === 'md5' && c.target === 'continue' ? 'final' : c.target
  const text = c.plan.kind === 'scram text' ? c.plan : undefined
  const send = async (client: FakeClient, part: AuthTarget, valid: Uint8Array[], replacement?: Uint8Array[]) => {
    const bytes = target !== part ? concat(...valid)
      : c.plan.kind === 'scram text' ? concat(...(replacement ?? [new TextEncoder().encode(fill(c.plan, ''))]))
      : render(c.plan, valid)
    await writeChunks(client, bytes, c.chunking)
  }
  return async (client) => {
    await client.readPacket() // StartupMessage
    if (c.method === 'md5') {
      await send(client, 'request', [backend.authenticationMD5Password([1, 2, 3, 4])])
      if ((await within(client.readMessage(), answerMs))?.type === 'p') await send(client, 'final', validStartup())
      return afterwards(client, c.ending)
    }
    await send(client, 'request', [backend.authenticationSASL('SCRAM-SHA-256')], text && [backend.authenticationSASL(...text.attributes)])
    const initial = await within(client.readMessage(), answerMs)
    // SASLInitialResponse: String mechanism, Int32 length, client-first-message ("n,," then the bare part).
    const clientFirst = initial?.type === 'p' ? new TextDecoder().decode(initial.body.subarray(initial.body.indexOf(0) + 5)) : ''
    const nonce = /^n,,n=,r=([!-+\--~]+)$/.exec(clientFirst)?.[1]
    if (nonce === undefined) return afterwards(client, c.ending)
    const validFirst = `r=${nonce}SeRvEr,s=${salt.toString('base64')},i=${scramIterations}`
    const serverFirst = text && target === 'continue' ? fill(text, nonce) : validFirst
    await send(client, 'continue', [backend.authenticationSASLContinue(validFirst)], [backend.authenticationSASLContinue(serverFirst)])
    const response = await within(client.readMessage(), answerMs)
    const clientFinal = response?.type === 'p' ? new TextDecoder().decode(response.body) : ''
    const withoutProof = clientFinal.slice(0, clientFinal.lastIndexOf(',p='))
    if (withoutProof === '') return afterwards(client, c.ending)
    // ServerSignature := HMAC(ServerKey, client-first-message-bare "," server-first-message "," client-final-message-without-proof)
    const iterations = Number(/(?:^|,)i=([0-9]+)/.exec(serverFirst)?.[1] ?? scramIterations)
    const saltUsed = serverFirst === validFirst ? salt : Buffer.from(/(?:^|,)s=([^,]*)/.exec(serverFirst)?.[1] ?? '', 'base64')
    const serverKey = createHmac('sha256', pbkdf2Sync(password, saltUsed, iterations, 32, 'sha256')).update('Server Key').digest()
    const signature = createHmac('sha256', serverKey).update(`${clientFirst.slice(3)},${serverFirst},${withoutProof}`).digest('base64')
    const valid = [backend.authenticationSASLFinal(`v=${signature}`), ...validStartup()]
    await send(client, 'final', valid, text && [backend.authenticationSASLFinal(fill(text, nonce, signature)), ...validStartup()])
    return afterwards(client, c.ending)
  }
}

export const authCase: fc.Arbitrary<AuthCase> = fc.record({
  method: fc.constantFrom('scram' as const, 'scram' as const, 'md5' as const),
  target: fc.constantFrom('request' as const, 'continue' as const, 'final' as const),
  plan: fc.oneof({ weight: 3, arbitrary: plan }, { weight: 1, arbitrary: scramText }),
  chunking,
  ending,
})

/** Byte1 type and an Int32 length: the start of a message whose body never comes. */
export function header(type: number, length: number): Uint8Array {
  return Uint8Array.of(type, ...int32(length))
}
