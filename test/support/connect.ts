/**
 * Opens connections to the test server as one of its roles, over TCP, TLS or the Unix socket,
 * through the libpq-style connect(). The environment is empty and the password file absent, so
 * nothing from the machine running the tests leaks in.
 */
import { afterAll, beforeAll, inject } from 'vitest'
import type { TestServer, TestUser } from '../harness/server.ts'
import type { Connection } from '../../src/protocol/io/connection.ts'
import { quoteIdentifier, quoteLiteral } from '../../src/protocol/quote.ts'
import { connect as connectLibpq, type ConnectOptions } from '../../src/protocol/index.ts'

export type Route = 'tcp' | 'tls' | 'unix'

export function server(): TestServer {
  return inject('pg')
}

/** Isolation from the machine: no PG* variables, no ~/.pgpass. */
export const isolated = { env: {}, passfile: '/nonexistent/pglisten-test-pgpass' } satisfies Partial<ConnectOptions>

/** Options to reach the test server as `user` by `route`. */
export function optionsFor(user: TestUser, route: Route, extra: Partial<ConnectOptions> = {}): ConnectOptions {
  const pg = server()
  const base: ConnectOptions = {
    ...isolated,
    user: user.user,
    database: pg.database,
    ...(user.password !== undefined ? { password: user.password } : {}),
    connectTimeout: 10,
  }
  switch (route) {
    case 'tcp':
      return { ...base, host: pg.host, port: pg.port, sslmode: 'disable', ...extra }
    case 'tls':
      if (!pg.tls) throw new Error('this server has no test CA')
      return { ...base, host: pg.host, port: pg.port, sslmode: 'verify-full', sslrootcert: { pem: pg.tls.ca }, ...extra }
    case 'unix':
      if (!pg.socketDir) throw new Error('this server has no Unix socket here')
      return { ...base, host: pg.socketDir, port: pg.port, ...extra }
  }
}

export function connect(user: TestUser, route: Route, extra: Partial<ConnectOptions> = {}): Promise<Connection> {
  return connectLibpq(optionsFor(user, route, extra))
}

/** A superuser connection over the best route this server offers. */
export function connectSuperuser(extra: Partial<ConnectOptions> = {}): Promise<Connection> {
  const pg = server()
  return connectLibpq({
    ...isolated,
    user: pg.superuser.user,
    database: pg.database,
    host: pg.host,
    port: pg.port,
    ...(pg.superuser.password !== undefined ? { password: pg.superuser.password } : {}),
    ...(pg.tls ? { sslmode: 'require', sslrootcert: { pem: pg.tls.ca } } : {}),
    connectTimeout: 10,
    ...extra,
  })
}

/** Resolves when `check` returns (or resolves) true, polling; rejects after `ms`. */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 10))
  }
}

/**
 * A database of the calling test file's own, made before its tests and dropped after them, with
 * any replication slot left in it. Logical decoding hands a stream that asks for messages every
 * pg_logical_emit_message of its database, whatever its publications say, so test files that
 * read messages must not share a database while vitest runs them side by side.
 */
export function databaseOfItsOwn(label: string): string {
  const name = `pglisten_${label}_${process.pid}`
  const database = quoteIdentifier(name)
  beforeAll(async () => {
    const admin = await connectSuperuser()
    try {
      await admin.query(`CREATE DATABASE ${database}`)
    } finally {
      await admin.close()
    }
  })
  afterAll(async () => {
    const admin = await connectSuperuser()
    try {
      // A slot keeps its database: end the walsenders still using one, then drop what is left.
      const slots = `FROM pg_replication_slots WHERE database = ${quoteLiteral(name)}`
      await admin.query(`SELECT pg_terminate_backend(active_pid) ${slots} AND active`)
      await eventually(async () => (await admin.query(`SELECT count(*) ${slots} AND active`))[0]!.rows[0]![0] === '0')
      await admin.query(`SELECT pg_drop_replication_slot(slot_name) ${slots}`)
      // A prepared transaction keeps it too (a two-phase test that failed halfway).
      const prepared = await admin.query(`SELECT gid FROM pg_prepared_xacts WHERE database = ${quoteLiteral(name)}`)
      for (const [gid] of prepared[0]!.rows) await admin.query(`ROLLBACK PREPARED ${quoteLiteral(gid!)}`)
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
    } finally {
      await admin.close()
    }
  })
  return name
}
