/**
 * The part of Cloudflare's cloudflare:sockets module pglisten uses, declared here rather than
 * taken from @cloudflare/workers-types (no new dependency). As documented at
 * https://developers.cloudflare.com/workers/runtime-apis/tcp-sockets/. Types only; the one
 * module importing cloudflare:sockets is src/protocol/workers.ts.
 */
declare module 'cloudflare:sockets' {
  export interface SocketAddress {
    hostname: string
    port: number
  }

  export interface SocketOptions {
    /** 'starttls': plain now, TLS later with startTls() (what an SSLRequest needs). */
    secureTransport?: 'off' | 'on' | 'starttls'
    /** false (the default): the writable side closes when the readable side ends. */
    allowHalfOpen?: boolean
  }

  export interface SocketInfo {
    remoteAddress?: string
    localAddress?: string
  }

  export interface Socket {
    readonly readable: ReadableStream<Uint8Array>
    readonly writable: WritableStream<Uint8Array>
    /** Resolves once connected; rejects if the connection cannot be made. */
    readonly opened: Promise<SocketInfo>
    /** Resolves when the socket is closed; rejects on a socket error. */
    readonly closed: Promise<void>
    close(): Promise<void>
    /** Upgrades a 'starttls' socket to TLS, verified against the runtime's trust store. */
    startTls(options?: { expectedServerHostname?: string }): Socket
  }

  export function connect(address: SocketAddress | string, options?: SocketOptions): Socket
}
