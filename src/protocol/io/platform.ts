/**
 * What a runtime provides to pglisten: a way to open a Link, its fastest byte helpers, the files
 * libpq reads, and the few facts about the process libpq consults. Types only. Implemented by
 * io/node-platform.ts (Node, Bun, Deno) and io/workers-platform.ts (Cloudflare Workers); each
 * entry point (src/index.ts, src/workers.ts and their protocol/ twins) binds one, so that a
 * bundle for one runtime never holds the other's imports.
 */
import type { FramerOptions } from '../framer.ts'
import type { PgpassTarget, Settings } from '../options/index.ts'
import type { Endpoint, Link, LinkOptions, TlsSettings } from './link.ts'

/** The certificates and key a connection presents or trusts, read where settings name files. */
export type TlsMaterial = Pick<TlsSettings, 'ca' | 'cert' | 'key'>

export interface Platform {
  /**
   * Connects to `endpoint` and, when `useTls` is true, brings TLS up as `tls` says (SSLRequest,
   * or direct); an 'N' answer gives a plain link only where sslmode allows it.
   */
  openLink(endpoint: Endpoint, tls: TlsSettings, useTls: boolean, options?: LinkOptions): Promise<Link>
  /** Byte helpers for the framer; one left out falls back to the portable one (src/protocol/bytes). */
  readonly bytes: Pick<FramerOptions, 'decodeText' | 'shortStrings' | 'allocate'>
  /**
   * One environment variable. Asked one by one, and only for the PG* variables libpq reads:
   * Deno grants --allow-env per variable. May throw (a permission refused): that variable
   * then counts as unset, with a warning.
   */
  env(name: string): string | undefined
  /** The home folder, for libpq's default files; asked only when one is needed. May throw. */
  homeDir(): string | undefined
  /** The operating system's user name, libpq's default user; asked only when none is given. May throw. */
  osUser(): string | undefined
  /** Refuses, before any socket opens, settings this runtime cannot honour (a typed error). */
  checkSettings(settings: Settings): void
  /**
   * The root and client certificates and key, read from files where settings name files, or
   * from libpq's defaults under `homeDir()`/.postgresql, which is asked only if a default applies.
   */
  loadTlsMaterial(settings: Settings, homeDir: () => string | undefined): Promise<TlsMaterial>
  /** The password for one host from the password file, as libpq looks it up; undefined if none. */
  passwordFromFile(passfile: string, target: PgpassTarget, warn: (message: string) => void): Promise<string | undefined>
  /** Where warnings libpq would print go when the caller gives no onWarning. */
  warn(message: string): void
}
