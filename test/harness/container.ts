// PGLISTEN_TEST_SERVER=container: the tests run against testcontainers' PostgreSqlContainer
// (image postgres:18) instead of the embedded cluster. Needs a Docker or Podman that answers.
// Imports testcontainers, loaded only in this mode, and ./server.ts types.

import { PostgreSqlContainer } from '@testcontainers/postgresql'
import { getContainerRuntimeClient } from 'testcontainers'
import type { TestServer } from './server.ts'

const IMAGE = 'postgres:18'
/** Finding no runtime takes milliseconds; this bounds a DOCKER_HOST that never answers. */
const RUNTIME_TIMEOUT_MS = 10_000

export async function startContainer(): Promise<{ server: TestServer; stop(): Promise<void> }> {
  try {
    await Promise.race([
      getContainerRuntimeClient(),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer in ${RUNTIME_TIMEOUT_MS} ms`)), RUNTIME_TIMEOUT_MS).unref()),
    ])
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause)
    throw new Error(`PGLISTEN_TEST_SERVER=container needs a container runtime (Docker or Podman); none answered: ${why}`, { cause })
  }
  // testcontainers' reaper (Ryuk) removes the container if this process dies without stop().
  // The settings the embedded cluster has for logical replication (cluster.ts).
  const c = await new PostgreSqlContainer(IMAGE)
    .withCommand(['postgres', '-c', 'wal_level=logical', '-c', 'max_wal_senders=20', '-c', 'max_replication_slots=20', '-c', 'max_prepared_transactions=10'])
    .start()
  const host = c.getHost() === 'localhost' ? '127.0.0.1' : c.getHost()
  if (host !== '127.0.0.1' && host !== '::1') {
    await c.stop()
    throw new Error(`the container's port is published on ${host}; the tests connect to loopback only`)
  }
  return {
    server: {
      kind: 'container',
      host,
      port: c.getPort(),
      database: c.getDatabase(),
      superuser: { user: c.getUsername(), password: c.getPassword() },
    },
    stop: async () => void (await c.stop()),
  }
}
