/**
 * What a Connection needs from a byte stream, whatever the runtime provides it (node:net and
 * node:tls, or cloudflare:sockets), and the settings for opening one. Types, and one constant.
 */
import type { Tracer } from '../session.ts'

export interface Link {
  /** True once TLS protects the stream. */
  readonly encrypted: boolean
  /** The server's certificate in DER, when TLS is up: channel binding hashes it (RFC 5929). */
  readonly peerCertificate: Uint8Array | undefined
  write(bytes: Uint8Array): void
  /** Stop reading from the socket: the kernel's buffer, then the server's queue, take the backlog. */
  pause(): void
  resume(): void
  /**
   * Close once the pending writes are flushed, without waiting for the peer; after endGrace ms
   * at most, flushed or not. Writes after it are dropped.
   */
  end(): void
  /** Close now. */
  destroy(): void
  /** Set by the connection before the first read. */
  onData: (chunk: Uint8Array) => void
  /** Called once, when the stream is gone; `error` says why if it did not end cleanly. */
  onClose: (error: Error | undefined) => void
}

/**
 * How long end() waits for the pending writes (Terminate, at least) to be flushed before it
 * closes anyway: a peer that reads nothing more (a stalled server, a partition) must not keep
 * close() waiting until TCP gives up, minutes later.
 */
export const endGrace = 1000

/** libpq's sslmode values ("SSL Mode Descriptions" in the libpq docs). */
export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full'

export interface TlsSettings {
  mode: SslMode
  /** 'postgres': SSLRequest first (default); 'direct': TLS at once, ALPN "postgresql" (PostgreSQL 17+). */
  negotiation?: 'postgres' | 'direct'
  /** PEM root certificate(s) to verify the server against, or 'system' for the runtime's trust store. */
  ca?: string | Uint8Array | 'system'
  /** PEM client certificate and key, for `cert` authentication. */
  cert?: string | Uint8Array
  key?: string | Uint8Array
  /** The name (or IP) the certificate must match under verify-full; default the host. */
  serverName?: string
  /** Send the host name in SNI (libpq's sslsni); default true. Never for IP addresses. */
  sni?: boolean
}

export interface Endpoint {
  /** A host name or IP address, or a folder holding the Unix socket (it starts with '/'). */
  host: string
  /** libpq's hostaddr: the IP to connect to, while `host` stays the name to verify. */
  hostaddr?: string
  port: number
}

/** How a platform opens a Link (Platform.openLink): what may stop it, and what may watch it. */
export interface LinkOptions {
  /**
   * Aborts the attempt (connect_timeout, the caller's AbortSignal): a ConnectionLostError given
   * as its reason is the error to fail with; any other reason is wrapped in one. An aborted
   * signal opens no socket at all.
   */
  signal?: AbortSignal
  /** TCP keepalive: probe an idle connection after this many milliseconds (where the runtime can). */
  keepAlive?: number
  /**
   * Sees the SSLRequest and the server's one-byte answer, which pass here, before any Session
   * exists (libpq traces both). The TLS handshake itself is no protocol message: not traced.
   */
  trace?: Tracer
}
