/**
 * What a bundler loads up front for the listener and for the protocol's connect(), and what it
 * leaves to a dynamic import: the parts a default connection (SCRAM over TLS, a password given)
 * and plain listening never use. Bundled from src with esbuild, code splitting on, as
 * .size-limit.mjs measures; "up front" is the entry chunk and what it imports statically. The
 * lazy parts must still be in the bundle (as chunks of their own), or the feature is gone.
 */
import * as esbuild from 'esbuild'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'

const root = fileURLToPath(new URL('../../', import.meta.url))

/** The source modules in the up-front chunks, and those only in chunks loaded later. */
async function split(contents: string): Promise<{ upFront: Set<string>; later: Set<string>; shared: Set<string> }> {
  const outdir = await mkdtemp(join(tmpdir(), 'pglisten-split-'))
  try {
    const result = await esbuild.build({
      stdin: { contents, resolveDir: root, loader: 'ts' },
      bundle: true, splitting: true, write: false, metafile: true, outdir, format: 'esm', platform: 'neutral',
      mainFields: ['module', 'main'], external: ['node:*', 'cloudflare:sockets'], logLevel: 'silent',
    })
    const outputs = result.metafile.outputs
    const entry = Object.keys(outputs).find((file) => outputs[file]!.entryPoint === '<stdin>')!
    const front = new Set([entry])
    for (const file of front) for (const i of outputs[file]!.imports) if (i.kind === 'import-statement' && !i.external) front.add(i.path)
    const modules = (files: string[]) => new Set(files.flatMap((file) => Object.keys(outputs[file]!.inputs)).map((input) => input.replace(/^src\//, '')))
    const upFront = modules([...front])
    const later = modules(Object.keys(outputs).filter((file) => !front.has(file) && file.endsWith('.js')))
    for (const module of upFront) later.delete(module)
    const shared = modules([...front].filter((file) => file !== entry))
    return { upFront, later, shared }
  } finally {
    await rm(outdir, { recursive: true, force: true })
  }
}

/** Loaded only when a server or a setting asks for them. */
const protocolLater = [
  'protocol/auth/password.ts', // md5
  'protocol/auth/certificate.ts', // the certificate reader, for channel binding
  'protocol/auth/saslprep-tables.ts', // a non-ASCII password
  'protocol/auth/require-auth.ts', // require_auth set
  'protocol/exchange/unsupported-auth.ts', // GSSAPI, SSPI or Kerberos asked for: refused
  'protocol/options/pgpass.ts', // no password given: the password file's rules
  'protocol/io/password-file.ts', // and its reader
  'protocol/options/connection-string.ts', // a connection string given, not an options object
  'protocol/options/uri.ts', // and its URI reader
  'protocol/options/store-setting.ts', // and how both store a setting
  'protocol/options/numeric-address.ts', // a hostaddr set: its check
  'protocol/io/key-permissions.ts', // a client certificate found: its key's permission rule
]

describe('the listener: { createListener } from pglisten', async () => {
  const { upFront, later, shared } = await split("export { createListener } from './src/index.ts'")
  const all = new Set([...upFront, ...later])

  // A module that the entry and a lazy module both import becomes a chunk of its own, gzipped
  // apart: hosts.ts and values.ts, imported by the password file's rules, cost 0.3 kB so. These
  // are the ones that must be shared; a new one is a size regression to be decided on.
  test('up front, only the error classes, the keyword table and libpq\'s defaults are in chunks the lazy modules share', () => {
    expect([...shared].sort()).toEqual(['protocol/errors.ts', 'protocol/options/conninfo.ts', 'protocol/options/defaults.ts', 'protocol/options/keywords.ts'])
  })

  test('carries neither the change feeds nor the outbox at all: they are pglisten/changes and pglisten/outbox, functions that take a listener', () => {
    const feedsAndOutbox = [
      'listener/feeds.ts',
      'listener/feed-parts.ts',
      // What feeds and outboxes borrow of a listener: they bring it, the listener only keeps it.
      'listener/feed-support.ts',
      'listener/outbox.ts',
      'listener/outbox-options.ts',
      'listener/changes/names.ts',
      'listener/changes/table-name.ts',
      'listener/changes/row-trigger.ts',
      'listener/changes/tcn-trigger.ts',
      'listener/changes/ddl-trigger.ts',
      'listener/changes/row-change.ts',
      'listener/changes/tcn-payload.ts',
      'listener/changes/ddl-change.ts',
      'listener/changes/json.ts',
      'listener/changes/checks.ts',
      'listener/changes/errors.ts',
    ]
    for (const module of feedsAndOutbox) expect(all, module).not.toContain(module)
  })

  test('loads later what a server or a setting asks for', () => {
    for (const module of protocolLater) {
      expect(upFront, module).not.toContain(module)
      expect(later, module).toContain(module)
    }
  })

  // The checks above can fail: the listener and what every connection needs are up front.
  test.each(['listener/listener.ts', 'listener/parts.ts', 'protocol/auth/scram.ts', 'protocol/exchange/startup.ts'])('%s is up front', (module) => {
    expect(upFront).toContain(module)
  })
})

describe('pglisten/changes and pglisten/outbox carry the feeds and the outbox', async () => {
  const feeds = await split("export { changes } from './src/changes.ts'")
  const outbox = await split("export { outbox } from './src/outbox.ts'")

  test('changes(): the feeds, their triggers and their decoders', () => {
    for (const module of ['listener/feeds.ts', 'listener/feed-parts.ts', 'listener/feed-support.ts', 'listener/changes/names.ts', 'listener/changes/row-trigger.ts', 'listener/changes/row-change.ts']) {
      expect(feeds.upFront, module).toContain(module)
    }
  })

  test('outbox(): the Outbox, up front', () => {
    expect(outbox.upFront).toContain('listener/outbox.ts')
    expect(outbox.upFront).toContain('listener/outbox-options.ts')
    expect(outbox.upFront).toContain('listener/feed-support.ts')
  })
})

describe('pglisten/lite: the listener and the connection on the protocol\'s core, without libpq\'s layer', async () => {
  const listener = await split("export { createListener } from './src/lite.ts'")
  const connection = await split("export { connect } from './src/lite.ts'")

  test('both carry the Session, the startup and query exchanges and SCRAM up front, and the listener its own', () => {
    for (const module of ['protocol/session.ts', 'protocol/exchange/startup.ts', 'protocol/exchange/query.ts', 'protocol/auth/scram.ts', 'protocol/lite.ts', 'protocol/io/lite-node-link.ts']) {
      expect(listener.upFront, module).toContain(module)
      expect(connection.upFront, module).toContain(module)
    }
    expect(listener.upFront).toContain('listener/lite.ts')
    expect(connection.upFront).not.toContain('listener/lite.ts')
  })

  test.each([
    'protocol/options/resolve.ts', 'protocol/options/explicit.ts', 'protocol/options/keywords.ts', 'protocol/io/connect.ts', 'protocol/io/connection.ts',
    'protocol/io/files.ts', 'protocol/io/target-session.ts', 'protocol/auth/salted-password-cache.ts', 'listener/listener.ts', 'listener/delivery.ts',
  ])('%s is not in it at all', (module) => {
    expect(listener.upFront).not.toContain(module)
    expect(listener.later).not.toContain(module)
  })

  test("what only a server asks for (md5, SASLprep's tables, the certificate reader) is loaded later", () => {
    for (const module of ['protocol/auth/password.ts', 'protocol/auth/saslprep-tables.ts', 'protocol/auth/certificate.ts']) {
      expect(listener.upFront, module).not.toContain(module)
      expect(listener.later, module).toContain(module)
    }
  })
})

describe("the protocol: { connect } from pglisten/protocol", async () => {
  const { upFront, later } = await split("export { connect } from './src/protocol/index.ts'")

  test.each([
    ...protocolLater.map((module): [string, string] => [module, 'when a server asks for it']),
    ['protocol/auth/sha224.ts', 'for a certificate signed with SHA-224'],
    ['protocol/io/tls-failures.ts', 'the words for a TLS set-up that failed'],
    ['protocol/io/certificate-name.ts', "verify-full's host name check"],
    ['protocol/io/target-session.ts', 'the target_session_attrs check, when it is not any'],
  ])('%s (%s) is loaded later', (module) => {
    expect(upFront).not.toContain(module)
    expect(later).toContain(module)
  })

  // The check above can fail: what every connection needs is up front.
  test.each(['protocol/io/files.ts', 'protocol/io/node-link.ts', 'protocol/auth/scram.ts', 'protocol/exchange/startup.ts', 'protocol/options/resolve.ts'])('%s is up front', (module) => {
    expect(upFront).toContain(module)
  })
})

describe('the workerd builds load the connection-string parser only for a connection string too', async () => {
  const parser = ['protocol/options/connection-string.ts', 'protocol/options/uri.ts']
  const builds = {
    "{ createListener } from pglisten's workerd build": await split("export { createListener } from './src/workers.ts'"),
    "{ connect } from pglisten/protocol's workerd build": await split("export { connect } from './src/protocol/workers.ts'"),
  }

  test.each(Object.entries(builds))('%s', (_, { upFront, later }) => {
    for (const module of parser) {
      expect(upFront, module).not.toContain(module)
      expect(later, module).toContain(module)
    }
    expect(upFront).toContain('protocol/options/resolve.ts') // the check can fail: the resolver is up front
  })
})
