/**
 * What a Connection needs from a byte stream, whatever the runtime provides it (node:net,
 * node:tls, later cloudflare:sockets). Types only.
 */

export interface Link {
  /** True once TLS protects the stream. */
  readonly encrypted: boolean
  write(bytes: Uint8Array): void
  /** Stop reading from the socket: the kernel's buffer, then the server's queue, take the backlog. */
  pause(): void
  resume(): void
  /** Close once the pending writes are flushed, without waiting for the peer. */
  end(): void
  /** Close now. */
  destroy(): void
  /** Set by the connection before the first read. */
  onData: (chunk: Uint8Array) => void
  /** Called once, when the stream is gone; `error` says why if it did not end cleanly. */
  onClose: (error: Error | undefined) => void
}

/** libpq's sslmode values ("SSL Mode Descriptions" in the libpq docs). */
export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full'

export interface TlsSettings {
  mode: SslMode
  /** PEM root certificate(s) to verify the server against. */
  ca?: string | Uint8Array
  /** PEM client certificate and key, for `cert` authentication. */
  cert?: string | Uint8Array
  key?: string | Uint8Array
  /** The name the certificate must match under verify-full; default the host. */
  serverName?: string
}

export interface Endpoint {
  /** A host name or IP address, or a folder holding the Unix socket (it starts with '/'). */
  host: string
  port: number
}
