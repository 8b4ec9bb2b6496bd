// The PostgreSQL server the tests talk to, as the vitest globalSetup hands it to them:
// `inject('pg')` in a test returns a TestServer. Types only; imports nothing at run time.

// Names the module augmented below, so that it resolves even when nothing else imports vitest.
import type {} from 'vitest'

export interface TestUser {
  user: string
  password?: string
}

export interface TestServer {
  kind: 'embedded' | 'url' | 'container'
  /** '127.0.0.1' for embedded and container; whatever the URL says for url */
  host: string
  port: number
  /** Unix socket folder, the socket being `${socketDir}/.s.PGSQL.${port}` (embedded only) */
  socketDir?: string
  /** true when the server also listens on ::1 (embedded only; the machine may lack IPv6 loopback) */
  ipv6?: boolean
  database: string
  /** a superuser the tests may use (trust or password) */
  superuser: TestUser
  /** server_version_num, e.g. 180004, when known */
  serverVersion?: number
  /** one role per auth method; only where the harness controls pg_hba (embedded) */
  users?: {
    scram: TestUser
    md5: TestUser
    password: TestUser
    trust: TestUser
    /** scram-sha-256 over TLS only: rejected on plain TCP, absent on the Unix socket */
    tlsOnly: TestUser
    /** `cert` auth over TLS only: present tls.clientCertFile/clientKeyFile, no password */
    cert: TestUser
  }
  tls?: {
    /** the throwaway CA that signed the server and client certificates */
    caFile: string
    ca: string
    clientCertFile: string
    clientKeyFile: string
    /** the name the server certificate is issued for; its SAN also has IP 127.0.0.1 and ::1 */
    serverName: string
  }
  /** the server's log, with connections logged (embedded only) */
  logFile?: string
}

declare module 'vitest' {
  interface ProvidedContext {
    pg: TestServer
  }
}
