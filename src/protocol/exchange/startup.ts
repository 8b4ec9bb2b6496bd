/**
 * The startup exchange ("Start-up" in the protocol docs, section 55.2.1): StartupMessage,
 * authentication, BackendKeyData, then ReadyForQuery. Pure: an async generator over messages
 * (async because SCRAM hashes with WebCrypto). TLS negotiation happens before it, at the edge.
 *
 * The server drives authentication, so every request is checked against what has happened so
 * far: each method may run once, SCRAM must finish before AuthenticationOk, and nothing is
 * answered twice. A server that loops or skips a step is refused, never followed.
 *
 * MD5, the certificate reader (DER, SHA-224) and the words refusing GSSAPI, SSPI and Kerberos
 * (unsupported-auth.ts) are loaded by dynamic import when a server asks for them, require_auth's
 * rules when the setting is given: most connections use none of them, and a bundle should not
 * carry them up front.
 */
import type { BackendMessage } from '../backend/messages.ts'
import { ByteWriter } from '../bytes/writer.ts'
import { AuthenticationRefusedError, DatabaseError, PasswordRequiredError, ProtocolViolationError } from '../errors.ts'
import {
  protocol30,
  protocol32,
  writePasswordMessage,
  writeSASLInitialResponse,
  writeSASLResponse,
  writeStartupMessage,
  type ProtocolVersion,
} from '../frontend.ts'
import { checkChannelBound, checkWithoutSasl, chooseScram, type ChannelBinding } from '../auth/channel-binding.ts'
import type { AuthRequest } from '../auth/require-auth.ts'
import { ScramSha256Client, type SaltedPasswordCache, type ScramOptions } from '../auth/scram.ts'
import { nextMessage, send, type Step } from './steps.ts'

export interface StartupOptions {
  user: string
  /** Defaults to the user name on the server's side. */
  database?: string
  /** The password, or a function asked for it only when the server wants one (undefined: none). */
  password?: string | (() => string | undefined | Promise<string | undefined>)
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
  /** libpq's require_auth (PostgreSQL 16 semantics): which requests the client may answer. */
  requireAuth?: string
  /** libpq's channel_binding; default 'prefer'. */
  channelBinding?: ChannelBinding
  /** What protects the link, set by the connection: channel binding needs the certificate. */
  transport?: { encrypted: boolean; serverCertificate?: Uint8Array }
}

export type AuthenticationMethod = 'trust' | 'password' | 'md5' | 'SCRAM-SHA-256' | 'SCRAM-SHA-256-PLUS'

export interface StartupResult {
  /** The protocol version in use: what we asked for, or what NegotiateProtocolVersion offered. */
  protocolVersion: ProtocolVersion
  /** From BackendKeyData; a few poolers send none. */
  backendKey?: { processId: number; secretKey: Uint8Array }
  /** How the server authenticated us. */
  authentication: AuthenticationMethod
}

/** require_auth's verdicts on what the server asks (fe-auth.c, check_expected_areq); each throws to refuse. */
interface RequireAuthJudge {
  request(request: AuthRequest): void
  mechanism(mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-256-PLUS'): void
  ok(clientFinishedAuth: boolean): void
}

/**
 * require_auth parsed (RangeError for a bad list, TypeError for a non-string), with require-auth.ts
 * loaded only then; undefined when unset or '', which allows everything, as libpq does.
 */
async function requireAuthJudge(text: string | undefined): Promise<RequireAuthJudge | undefined> {
  if (text === undefined || text === '') return undefined
  const rules = await import('../auth/require-auth.ts')
  const rule = rules.parseRequireAuth(text)
  return {
    request: (request) => rules.checkRequest(rule, request),
    mechanism: (mechanism) => rules.checkSaslMechanism(rule, mechanism),
    ok: (finished) => rules.checkAuthenticationOk(rule, finished),
  }
}

export async function* startup(options: StartupOptions): AsyncGenerator<Step, StartupResult, BackendMessage | undefined> {
  // Parsed before anything is sent: a bad require_auth is the caller's mistake (RangeError).
  // Each request is then judged as libpq judges it (fe-auth.c, check_expected_areq), before
  // any password material is produced.
  const requireAuth = await requireAuthJudge(options.requireAuth)
  const channelBinding = options.channelBinding ?? 'prefer'
  const encrypted = options.transport?.encrypted ?? false
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
      // pglisten asks for no protocol option (_pq_.*), so none can be unrecognized: libpq 18
      // refuses "an unsupported parameter that was not requested" too.
      if (message.unrecognizedOptions.length > 0) {
        throw new ProtocolViolationError(`NegotiateProtocolVersion names protocol options that were not requested: ${message.unrecognizedOptions.join(', ')}`)
      }
      protocolVersion = negotiate(protocolVersion, message.newestVersion, first)
      continue
    }
    if (!authenticated) {
      switch (message.type) {
        case 'AuthenticationOk':
          if (scram && scramStep !== 'finished') {
            throw new AuthenticationRefusedError('the server reported success before the SCRAM exchange was complete')
          }
          // Did the client finish an exchange it was allowed, and bind it where that is required?
          requireAuth?.ok(authentication !== undefined)
          checkChannelBound(channelBinding, authentication === 'SCRAM-SHA-256-PLUS')
          authenticated = true
          continue
        case 'AuthenticationCleartextPassword':
        case 'AuthenticationMD5Password': {
          if (authentication !== undefined) refuseSecondRequest(message.type)
          const md5 = message.type === 'AuthenticationMD5Password'
          requireAuth?.request(md5 ? 'md5' : 'password')
          checkWithoutSasl(channelBinding, md5 ? 'md5' : 'password')
          const password = await passwordFor(options, message.type)
          authentication = md5 ? 'md5' : 'password'
          const response = md5 ? (await import('../auth/password.ts')).md5PasswordResponse(options.user, password, message.salt) : password
          yield send(writePasswordMessage(new ByteWriter(), response).toBytes())
          continue
        }
        case 'AuthenticationSASL': {
          if (authentication !== undefined) refuseSecondRequest(message.type)
          requireAuth?.request('sasl')
          // The mechanism (PLUS or not) as libpq picks it, then judged by require_auth too.
          const choice = chooseScram(bindingPolicy(channelBinding, encrypted, options.transport?.serverCertificate), encrypted, message.mechanisms, requireAuth?.mechanism)
          authentication = choice.mechanism
          scram = new ScramSha256Client({
            ...options.scram,
            password: await passwordFor(options, message.type),
            ...(await bindingFor(choice.binding, options.transport?.serverCertificate)),
          })
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
        case 'AuthenticationGSS':
        case 'AuthenticationGSSContinue':
        case 'AuthenticationSSPI':
        case 'AuthenticationKerberosV5':
          throw (await import('./unsupported-auth.ts')).refuseUnsupported(message.type, requireAuth?.request)
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
          authentication: authentication ?? 'trust', // AuthenticationOk came with no request before it
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
    throw new PasswordRequiredError(`the server asks for a password (${request}) and none was given`)
  }
  if (typeof password !== 'string') throw new TypeError('the password must be a string')
  return password
}

/**
 * channel_binding as it can apply to this link. TLS that shows no server certificate (Cloudflare
 * Workers' sockets) cannot bind, as libpq built without tls-server-end-point support cannot:
 * `prefer` then goes without, as `disable` does (gs2 flag 'n', which a server offering PLUS
 * accepts, where 'y' would read as a downgrade), and `require` is refused before any password
 * material is sent.
 */
function bindingPolicy(policy: ChannelBinding, encrypted: boolean, certificate: Uint8Array | undefined): ChannelBinding {
  if (!encrypted || certificate !== undefined) return policy
  if (policy === 'require') {
    throw new AuthenticationRefusedError('channel binding required, but the TLS layer exposes no server certificate to bind to (tls-server-end-point); this runtime cannot bind')
  }
  return 'disable'
}

/**
 * The SCRAM client's channelBinding option for gs2 flag `binding`: 'p' binds to the server's
 * certificate (tls-server-end-point, RFC 5929), 'y' says we could have, 'n' that we cannot.
 */
async function bindingFor(binding: 'p' | 'y' | 'n', certificate: Uint8Array | undefined): Promise<Pick<ScramOptions, 'channelBinding'>> {
  if (binding === 'n') return {}
  if (binding === 'y') return { channelBinding: 'unused' }
  if (!certificate) throw new AuthenticationRefusedError('channel binding needs the server certificate, and the TLS layer gave none')
  const { tlsServerEndPoint } = await import('../auth/certificate.ts')
  return { channelBinding: { type: 'tls-server-end-point', data: await tlsServerEndPoint(certificate) } }
}

function refuseSecondRequest(request: string): never {
  throw new AuthenticationRefusedError(`the server sent ${request} after authentication had already begun`)
}

function refuseOutOfOrder(request: string): never {
  throw new AuthenticationRefusedError(`the server sent ${request} out of order in the SCRAM exchange`)
}
