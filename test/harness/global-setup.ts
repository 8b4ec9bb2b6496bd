// The vitest globalSetup: starts one PostgreSQL for the whole test run, hands its description to
// the tests (`inject('pg')`) and stops it afterwards, even when tests fail or the run is killed.
//   PGLISTEN_TEST_URL=postgres://user:pass@host:port/db   an existing server (kind 'url')
//   PGLISTEN_TEST_SERVER=container                        testcontainers' postgres:18
//   (neither)                                             an embedded throwaway cluster
//   PGLISTEN_KEEP_CLUSTER=1                               keep the embedded cluster's folder

import { constants } from 'node:os'
import type { TestProject } from 'vitest/node'
import { startCluster } from './cluster.ts'
import type { TestServer } from './server.ts'

interface Started {
  server: TestServer
  stop(): Promise<void>
  /** only where stopping can be done synchronously, from exit and signal handlers */
  stopSync?: () => void
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const t0 = performance.now()
  const started = await start()
  console.log(`pglisten: ${summary(started.server)}, ready in ${Math.round(performance.now() - t0)} ms`)
  const release = started.stopSync ? stopOnExit(started.stopSync) : () => {}
  try {
    project.provide('pg', started.server)
  } catch (error) {
    release()
    await started.stop()
    throw error
  }
  return async () => {
    release()
    await started.stop()
  }
}

async function start(): Promise<Started> {
  const url = process.env.PGLISTEN_TEST_URL
  if (url) return { server: fromUrl(url), stop: async () => {} }
  const mode = process.env.PGLISTEN_TEST_SERVER
  if (mode === 'container') return (await import('./container.ts')).startContainer()
  if (mode && mode !== 'embedded') throw new Error(`PGLISTEN_TEST_SERVER=${mode}: expected container or embedded`)
  return startCluster({ keep: process.env.PGLISTEN_KEEP_CLUSTER === '1' })
}

function summary(s: TestServer): string {
  const version = s.serverVersion ? ` ${Math.floor(s.serverVersion / 10000)}.${s.serverVersion % 10000}` : ''
  const socket = s.socketDir ? ` and ${s.socketDir}` : ''
  return `PostgreSQL${version} (${s.kind}) on ${s.host}:${s.port}${socket}`
}

/** postgres://user:pass@host:port/db, the libpq URI form; as in libpq, db defaults to user. */
export function fromUrl(text: string): TestServer {
  const u = new URL(text)
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new Error(`PGLISTEN_TEST_URL must start with postgres:// or postgresql://, not ${u.protocol}`)
  }
  const user = decodeURIComponent(u.username) || 'postgres'
  const password = u.password ? decodeURIComponent(u.password) : undefined
  return {
    kind: 'url',
    host: u.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1', // [::1] → ::1
    port: u.port ? Number(u.port) : 5432,
    database: decodeURIComponent(u.pathname.slice(1)) || user,
    superuser: password === undefined ? { user } : { user, password },
  }
}

/**
 * Vitest runs no teardown on SIGINT/SIGTERM (it exits on the next tick) and the postmaster is
 * in its own session (pg_ctl calls setsid), so Ctrl-C never reaches it. The cluster's watchdog
 * would stop it a second later; this stops it gently, before vitest is gone. Everything here
 * must be synchronous: nothing asynchronous finishes once the process is exiting.
 */
function stopOnExit(stopSync: () => void): () => void {
  const onSignal = (signal: NodeJS.Signals) => {
    stopSync()
    // If vitest's own handler has not run yet it will exit; if none is left, exiting is ours.
    if (process.listenerCount(signal) === 0) process.exit(128 + constants.signals[signal])
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  // First of the 'exit' listeners: temp-folder.ts's removes the run's folder, data folder included,
  // and pg_ctl cannot stop a server whose data folder is gone.
  process.prependOnceListener('exit', stopSync)
  return () => {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    process.off('exit', stopSync)
  }
}
