/**
 * The client side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it: a small state
 * machine with no I/O. Imports errors, bytes helpers and the other auth modules.
 *
 * The caller carries the bytes (protocol docs, "SASL Authentication"):
 *   AuthenticationSASL         -> SASLInitialResponse(mechanism, clientFirstMessage())
 *   AuthenticationSASLContinue -> SASLResponse(await clientFinalMessage(data))
 *   AuthenticationSASLFinal    -> verifyServerFinal(data); only then is the server authenticated.
 * The nonce can be injected so a recorded exchange replays exactly, as in rust-postgres's tests.
 * SASLprep's tables (saslprep.ts) are loaded by dynamic import, only for a non-ASCII password.
 */
import { AuthenticationRefusedError, ProtocolViolationError } from '../errors.ts'
import { encodeBase64 } from '../bytes/base64.ts'
import { decodeUtf8, encodeUtf8, isAscii } from '../bytes/utf8.ts'
import { constantTimeEqual, hmacSha256, pbkdf2Sha256, randomBytes, sha256 } from './crypto.ts'
import type { SaltedPasswordCache } from './salted-password-cache.ts'
import { encodeSaslName, isPrintable, parseServerFinalMessage, parseServerFirstMessage } from './scram-messages.ts'

// The cache belongs with the client's options, so it can be imported from here too.
export { SaltedPasswordCache } from './salted-password-cache.ts'

export interface ScramOptions {
  password: string
  /** The c-nonce; default: 18 random bytes in base64, as libpq does. Printable ASCII without ','. */
  nonce?: string
  /** RFC 5802 n=. PostgreSQL ignores it (the startup message named the user) and libpq sends ''. */
  username?: string
  /** An iteration count above this is refused before any hashing. Default 600,000. */
  maxIterations?: number
  /**
   * Channel binding (RFC 5802 section 6). Omitted: the client does not support it (gs2 flag 'n').
   * 'unused': it does, but the server offered no -PLUS mechanism (flag 'y'), which lets a server
   * that did offer one detect a downgrade. tls-server-end-point data (RFC 5929 section 4): binds
   * the exchange to the TLS connection, with mechanism SCRAM-SHA-256-PLUS.
   */
  channelBinding?: 'unused' | { type: 'tls-server-end-point'; data: Uint8Array }
  /** Remembers SaltedPassword values so a reconnect skips PBKDF2. */
  cache?: SaltedPasswordCache
}

export const DEFAULT_MAX_ITERATIONS = 600_000

/** Where the exchange stands; each method is allowed in exactly one state. */
type State = 'start' | 'first sent' | 'computing' | 'final sent' | 'done' | 'failed'

const CLIENT_KEY = encodeUtf8('Client Key')
const SERVER_KEY = encodeUtf8('Server Key')

export class ScramSha256Client {
  readonly mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-256-PLUS'
  // Everything else is #private: util.inspect, JSON.stringify and errors never show it.
  /** The password after scramPassword(), in UTF-8; wiped once SaltedPassword is known. */
  #password: Uint8Array | undefined
  /** A non-ASCII password, until clientFinalMessage() loads SASLprep for it. */
  #unprepared: string | undefined
  readonly #clientNonce: string
  readonly #maxIterations: number
  readonly #cache: SaltedPasswordCache | undefined
  /** c=: base64 of the gs2 header followed by the channel binding data (RFC 5802 section 7). */
  readonly #channelBinding: string
  readonly #gs2Header: string
  readonly #clientFirstBare: string
  #expectedServerSignature: Uint8Array | undefined
  #state: State = 'start'

  constructor(options: ScramOptions) {
    if (typeof options.password !== 'string') throw new TypeError('the SCRAM password must be a string')
    const nonce = options.nonce ?? encodeBase64(randomBytes(18))
    if (!isPrintable(nonce)) throw new TypeError("a SCRAM nonce must be printable ASCII without ',' and not empty")
    const maxIterations = options.maxIterations ?? DEFAULT_MAX_ITERATIONS
    if (!Number.isSafeInteger(maxIterations) || maxIterations < 1) {
      throw new RangeError(`maxIterations must be a positive integer, not ${maxIterations}`)
    }

    // gs2-header = gs2-cbind-flag "," [authzid] "," (RFC 5802 section 7), never an authzid.
    const binding = options.channelBinding
    let bindingData: Uint8Array = new Uint8Array(0)
    if (binding === undefined) this.#gs2Header = 'n,,'
    else if (binding === 'unused') this.#gs2Header = 'y,,'
    else if (binding.type === 'tls-server-end-point' && binding.data instanceof Uint8Array && binding.data.length > 0) {
      this.#gs2Header = 'p=tls-server-end-point,,'
      bindingData = binding.data
    } else throw new TypeError("channelBinding must be 'unused' or tls-server-end-point data")
    this.mechanism = bindingData.length > 0 ? 'SCRAM-SHA-256-PLUS' : 'SCRAM-SHA-256'
    // cbind-input = gs2-header [cbind-data], whence the familiar c=biws for "n,," and c=eSws for "y,,".
    this.#channelBinding = encodeBase64(concat(encodeUtf8(this.#gs2Header), bindingData))

    // SASLprep changes no ASCII password (saslprep.ts), so only another one waits for its tables.
    if (isAscii(options.password)) this.#password = encodeUtf8(options.password)
    else this.#unprepared = options.password
    this.#clientNonce = nonce
    this.#maxIterations = maxIterations
    this.#cache = options.cache
    this.#clientFirstBare = `n=${encodeSaslName(options.username ?? '')},r=${nonce}`
  }

  /** Whether the server has proved it knows the password: verifyServerFinal() succeeded. */
  get done(): boolean {
    return this.#state === 'done'
  }

  /** client-first-message = gs2-header client-first-message-bare, for SASLInitialResponse. */
  clientFirstMessage(): Uint8Array {
    this.#expect('start', 'the client-first-message was already made')
    this.#state = 'first sent'
    return encodeUtf8(this.#gs2Header + this.#clientFirstBare)
  }

  /**
   * Reads the server-first-message (AuthenticationSASLContinue data) and returns the
   * client-final-message, with the proof, for SASLResponse. Also computes the ServerSignature
   * to expect, so that verifyServerFinal() needs no key and no await.
   */
  async clientFinalMessage(serverFirst: Uint8Array): Promise<Uint8Array> {
    this.#expect('first sent', this.#state === 'start'
      ? 'a server-first-message arrived before the client-first-message was sent'
      : 'a second server-first-message arrived')
    // Set before the first await, so that a concurrent second call is refused, not interleaved.
    this.#state = 'computing'
    try {
      const text = this.#decode(serverFirst, 'SCRAM server-first-message')
      const { nonce, salt, iterations } = parseServerFirstMessage(text, this.#clientNonce, this.#maxIterations)

      // RFC 5802 section 3:
      //   SaltedPassword  := Hi(Normalize(password), salt, i)
      //   ClientKey       := HMAC(SaltedPassword, "Client Key")
      //   StoredKey       := H(ClientKey)
      //   AuthMessage     := client-first-message-bare + "," + server-first-message + "," +
      //                      client-final-message-without-proof
      //   ClientSignature := HMAC(StoredKey, AuthMessage)
      //   ClientProof     := ClientKey XOR ClientSignature
      //   ServerKey       := HMAC(SaltedPassword, "Server Key")
      //   ServerSignature := HMAC(ServerKey, AuthMessage)
      const password = this.#password ?? encodeUtf8((await import('./saslprep.ts')).scramPassword(this.#unprepared!))
      this.#unprepared = undefined
      const saltedPassword = this.#cache
        ? await this.#cache.saltedPassword(password, salt, iterations)
        : await pbkdf2Sha256(password, salt, iterations)
      // Best effort: the bytes are no longer needed. (The caller's string cannot be wiped.)
      password.fill(0)
      this.#password = undefined

      const withoutProof = `c=${this.#channelBinding},r=${nonce}`
      // The server's bytes go into AuthMessage exactly as received, not re-encoded.
      const authMessage = concat(
        encodeUtf8(`${this.#clientFirstBare},`),
        serverFirst,
        encodeUtf8(`,${withoutProof}`),
      )
      const [clientKey, serverKey] = await Promise.all([
        hmacSha256(saltedPassword, CLIENT_KEY),
        hmacSha256(saltedPassword, SERVER_KEY),
      ])
      saltedPassword.fill(0)
      const clientSignature = await hmacSha256(await sha256(clientKey), authMessage)
      const proof = clientKey.map((byte, i) => byte ^ clientSignature[i]!)
      const serverSignature = await hmacSha256(serverKey, authMessage)
      clientKey.fill(0)
      serverKey.fill(0)

      // A call out of order while this one awaited has failed the exchange; it stays failed.
      if (this.#failed()) throw new AuthenticationRefusedError('SCRAM: this exchange has already failed')
      this.#expectedServerSignature = serverSignature
      this.#state = 'final sent'
      return encodeUtf8(`${withoutProof},p=${encodeBase64(proof)}`)
    } catch (error) {
      this.#fail()
      throw error
    }
  }

  /**
   * Reads the server-final-message (AuthenticationSASLFinal data) and returns only if it holds
   * the expected ServerSignature: the proof that the server, too, knows the password (or, more
   * exactly, the ServerKey). Without this check a fake server could simply say "ok".
   */
  verifyServerFinal(serverFinal: Uint8Array): void {
    this.#expect('final sent', this.#state === 'done'
      ? 'a second server-final-message arrived'
      : 'a server-final-message arrived before the client-final-message was sent')
    try {
      const signature = parseServerFinalMessage(this.#decode(serverFinal, 'SCRAM server-final-message'))
      // Compared in constant time, so that timing does not reveal how much of a forgery is right.
      if (!constantTimeEqual(signature, this.#expectedServerSignature!)) {
        throw new AuthenticationRefusedError('SCRAM server-final-message: the server signature is wrong')
      }
      this.#state = 'done'
    } catch (error) {
      this.#fail()
      throw error
    }
  }

  #expect(state: State, otherwise: string): void {
    if (this.#state === state) return
    if (this.#state === 'failed') throw new AuthenticationRefusedError('SCRAM: this exchange has already failed')
    const message = `SCRAM: ${otherwise}`
    // Any message out of order ends the exchange: there is no sane way to go on from it.
    this.#fail()
    throw new AuthenticationRefusedError(message)
  }

  #failed(): boolean {
    return this.#state === 'failed'
  }

  #fail(): void {
    this.#state = 'failed'
    this.#password?.fill(0)
    this.#password = undefined
    this.#unprepared = undefined
    this.#expectedServerSignature = undefined
  }

  /** The server's message as text; RFC 5802 section 7 makes it UTF-8, and nothing else is read. */
  #decode(bytes: Uint8Array, what: string): string {
    try {
      return decodeUtf8(bytes, 0, bytes.length)
    } catch (cause) {
      if (!(cause instanceof ProtocolViolationError)) throw cause
      throw new AuthenticationRefusedError(`${what} is not valid UTF-8`, { cause })
    }
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const joined = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0))
  let at = 0
  for (const part of parts) {
    joined.set(part, at)
    at += part.length
  }
  return joined
}
