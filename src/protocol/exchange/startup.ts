/**
 * The startup exchange ("Start-up" in the protocol docs, section 55.2.1): StartupMessage,
 * authentication, BackendKeyData, then ReadyForQuery. Pure: an async generator over messages
 * (async because SCRAM hashes with WebCrypto). TLS negotiation happens before it, at the edge.
 *
 * The server drives authentication, so every request is checked against what has happened so
 * far: each method may run once, SCRAM must finish before AuthenticationOk, and nothing is
 * answered twice. A server that loops or skips a step is refused, never followed.
 */
import type { BackendMessage } from '../backend/messages.ts'
import { ByteWriter } from '../bytes/writer.ts'
import { AuthenticationRefusedError, DatabaseError, ProtocolViolationError } from '../errors.ts'
import {
  protocol30,
  protocol32,
  writePasswordMessage,
  writeSASLInitialResponse,
  writeSASLResponse,
  writeStartupMessage,
  type ProtocolVersion,
} from '../frontend.ts'
import { md5PasswordResponse } from '../auth/password.ts'
import { ScramSha256Client, type SaltedPasswordCache } from '../auth/scram.ts'
import { nextMessage, send, type Step } from './steps.ts'

export interface StartupOptions {
  user: string
  /** Defaults to the user name on the server's side. */
  database?: string
  /** The password, or a function asked for it only when the server wants one. */
  password?: string | (() => string | Promise<string>)
  /** More startup parameters, e.g. application_name, options. client_encoding is always UTF8. */
  parameters?: Readonly<Record<string, string>>
  /** Protocol version to ask for; default 3.2, which servers before PostgreSQL 18 negotiate down. */
  protocolVersion?: ProtocolVersion
  scram?: {
    /** The client nonce; only tests set it. */
    nonce?: string
    /** Refuse iteration counts above this (checked before hashing). */
    maxIterations?: number
    /** Salted passwords kept across connections, so a reconnect skips PBKDF2. */
    cache?: SaltedPasswordCache
  }
}

export type AuthenticationMethod = 'trust' | 'password' | 'md5' | 'SCRAM-SHA-256'

export interface StartupResult {
  /** The protocol version in use: what we asked for, or what NegotiateProtocolVersion offered. */
  protocolVersion: ProtocolVersion
  /** From BackendKeyData; a few poolers send none. */
  backendKey?: { processId: number; secretKey: Uint8Array }
  /** How the server authenticated us. */
  authentication: AuthenticationMethod
}

export async function* startup(options: StartupOptions): AsyncGenerator<Step, StartupResult, BackendMessage | undefined> {
  let protocolVersion = options.protocolVersion ?? protocol32
  const parameters: Record<string, string> = { ...options.parameters, user: options.user, client_encoding: 'UTF8' }
  if (options.database !== undefined) parameters['database'] = options.database
  yield send(writeStartupMessage(new ByteWriter(), protocolVersion, parameters).toBytes())

  let authentication: AuthenticationMethod | undefined
  let scram: ScramSha256Client | undefined
  let scramStep: 'started' | 'continued' | 'finished' | undefined
  let authenticated = false
  let backendKey: StartupResult['backendKey']
  let first = true

  for (;; first = false) {
    const message = yield* nextMessage()
    if (message.type === 'ErrorResponse') throw new DatabaseError(message.fields)
    if (message.type === 'NegotiateProtocolVersion') {
      protocolVersion = negotiate(protocolVersion, message.newestVersion, first)
      continue
    }
    if (!authenticated) {
      switch (message.type) {
        case 'AuthenticationOk':
          if (scram && scramStep !== 'finished') {
            throw new AuthenticationRefusedError('the server reported success before the SCRAM exchange was complete')
          }
          authentication ??= 'trust'
          authenticated = true
          continue
        case 'AuthenticationCleartextPassword':
        case 'AuthenticationMD5Password': {
          if (authentication !== undefined) refuseSecondRequest(message.type)
          const password = await passwordFor(options, message.type)
          authentication = message.type === 'AuthenticationMD5Password' ? 'md5' : 'password'
          const response = message.type === 'AuthenticationMD5Password'
            ? md5PasswordResponse(options.user, password, message.salt)
            : password
          yield send(writePasswordMessage(new ByteWriter(), response).toBytes())
          continue
        }
        case 'AuthenticationSASL': {
          if (authentication !== undefined) refuseSecondRequest(message.type)
          if (!message.mechanisms.includes('SCRAM-SHA-256')) {
            throw new AuthenticationRefusedError(`the server offers no SASL mechanism pglisten supports (${message.mechanisms.join(', ')})`)
          }
          authentication = 'SCRAM-SHA-256'
          scram = new ScramSha256Client({ ...options.scram, password: await passwordFor(options, message.type) })
          scramStep = 'started'
          yield send(writeSASLInitialResponse(new ByteWriter(), scram.mechanism, scram.clientFirstMessage()).toBytes())
          continue
        }
        case 'AuthenticationSASLContinue':
          if (!scram || scramStep !== 'started') refuseOutOfOrder(message.type)
          scramStep = 'continued'
          yield send(writeSASLResponse(new ByteWriter(), await scram.clientFinalMessage(message.data)).toBytes())
          continue
        case 'AuthenticationSASLFinal':
          if (!scram || scramStep !== 'continued') refuseOutOfOrder(message.type)
          await scram.verifyServerFinal(message.data)
          scramStep = 'finished'
          continue
        case 'AuthenticationKerberosV5':
        case 'AuthenticationGSS':
        case 'AuthenticationGSSContinue':
        case 'AuthenticationSSPI':
          throw new AuthenticationRefusedError(`the server asks for ${message.type.slice('Authentication'.length)} authentication, which pglisten does not support`)
        default:
          throw new ProtocolViolationError(`unexpected ${message.type} before authentication completed`)
      }
    }
    switch (message.type) {
      case 'BackendKeyData':
        if (protocolVersion === protocol30 && message.secretKey.length !== 4) {
          throw new ProtocolViolationError(`BackendKeyData: a ${message.secretKey.length}-byte key under protocol 3.0, which has 4-byte keys`)
        }
        backendKey = { processId: message.processId, secretKey: message.secretKey }
        continue
      case 'ReadyForQuery':
        return {
          protocolVersion,
          authentication: authentication ?? 'trust',
          ...(backendKey ? { backendKey } : {}),
        }
      default:
        throw new ProtocolViolationError(`unexpected ${message.type} during startup`)
    }
  }
}

/**
 * NegotiateProtocolVersion comes first or not at all, keeps the major version, and may only
 * lower the minor version we asked for (libpq checks the same); pglisten speaks 3.0 and 3.2.
 */
function negotiate(requested: ProtocolVersion, offered: number, first: boolean): ProtocolVersion {
  if (!first) throw new ProtocolViolationError('NegotiateProtocolVersion after the first message')
  const major = offered >>> 16
  const newestMinor = offered & 0xffff
  const requestedMinor = requested & 0xffff
  if (major !== 3 || newestMinor >= requestedMinor) {
    throw new ProtocolViolationError(`NegotiateProtocolVersion offers ${major}.${newestMinor} in answer to a request for 3.${requestedMinor}`)
  }
  // 3.1 was never used by any PostgreSQL release; it means 3.0 as far as messages go.
  return newestMinor >= 2 ? protocol32 : protocol30
}

async function passwordFor(options: StartupOptions, request: string): Promise<string> {
  const source = options.password
  const password = typeof source === 'function' ? await source() : source
  if (password === undefined) {
    throw new AuthenticationRefusedError(`the server asks for a password (${request}) and none was given`)
  }
  if (typeof password !== 'string') throw new TypeError('the password must be a string')
  return password
}

function refuseSecondRequest(request: string): never {
  throw new AuthenticationRefusedError(`the server sent ${request} after authentication had already begun`)
}

function refuseOutOfOrder(request: string): never {
  throw new AuthenticationRefusedError(`the server sent ${request} out of order in the SCRAM exchange`)
}
