/**
 * The package as a consumer sees it: plain Node (no TypeScript loader) imports the built
 * entry points through the exports map, and there are no runtime dependencies: none declared,
 * and nothing in the built dist/ imports anything but its own files, node:* and cloudflare:sockets.
 * Needs the build (npm test builds before it runs vitest).
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { expect, test } from 'vitest'

const root = new URL('../../', import.meta.url)

test('plain node imports pglisten, pglisten/protocol, pglisten/protocol/auth, pglisten/protocol/options, pglisten/changes, pglisten/outbox, pglisten/replication and pglisten/lite through the exports map', () => {
  // Self-reference by package name resolves through "exports", as a dependent's import would.
  const script = [
    "const a = await import('pglisten'); const b = await import('pglisten/protocol'); const c = await import('pglisten/protocol/auth'); const d = await import('pglisten/changes'); const e = await import('pglisten/replication'); const f = await import('pglisten/outbox'); const g = await import('pglisten/protocol/options'); const h = await import('pglisten/lite')",
    "console.log(typeof a.Connection, typeof b.Framer, c.saslprep('I\u00ADX'), typeof b.saslprep)",
    "console.log(c.parseRequireAuth('md5').allows('md5'), typeof b.parseRequireAuth, c.parsePgpass('h:5432:d:u:pw').length, typeof b.parsePgpass)",
    "console.log(d.rowChangeChannel('public.t').startsWith('pglisten_rows_t_'), typeof d.decodeRowChange, typeof d.installRowTrigger, typeof a.installRowTrigger, typeof a.PayloadError)",
    "console.log(typeof e.replicate, e.formatLsn(e.parseLsn('16/B374D848')), typeof e.unchangedToast, typeof a.replicate, typeof b.replicate)",
    "console.log(typeof d.changes, typeof d.ddlChanges, typeof f.outbox, typeof new a.Listener().changes, typeof new a.Listener().outbox)",
    "console.log(g.parseConnectionString('host=h port=5433').port, g.resolveSettings('postgres://u@h/d', { env: {} }).database, typeof b.parseConnectionString, typeof b.resolveSettings, b.isConnectionString('a=b'))",
    "console.log(typeof h.createListener, typeof h.connect, new h.ListenerError('x') instanceof h.PgListenError, typeof h.Listener, typeof h.resolveSettings)",
  ].join('; ')
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' })
  // SASLprep maps the soft hyphen to nothing (RFC 4013 section 3): the auth entry's own code, not pglisten/protocol's.
  // What loads only when asked is in its own entry, not in pglisten or pglisten/protocol.
  expect(out.trim().split('\n')).toEqual([
    'function function IX undefined',
    'true undefined 1 undefined',
    'true function function undefined undefined',
    'function 16/B374D848 symbol undefined undefined',
    // The feeds and the outbox are functions of their entries, not the listener's methods.
    'function function function undefined undefined',
    // libpq's resolver and connection-string parser are pglisten/protocol/options: a connection loads the parser only for a connection string.
    '5433 d undefined undefined true',
    // pglisten/lite: its own listener and connection, the error classes, and nothing of libpq's options.
    'function function true undefined undefined',
  ])
})

test('no runtime dependencies', () => {
  const manifest = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'))
  expect(manifest.dependencies ?? {}).toEqual({})
  expect(manifest.peerDependencies ?? {}).toEqual({})
  expect(manifest.optionalDependencies ?? {}).toEqual({})
})

/** Every module specifier in a built file: static imports and re-exports, bare imports, import(). */
function specifiers(code: string): string[] {
  const found: string[] = []
  // Statements start a line in tsc's output; a string that merely mentions "from ':'" is not one.
  const patterns = [/^(?:import|export)\s[^'";]*?\bfrom\s*(['"])([^'"]+)\1/gm, /^import\s*(['"])([^'"]+)\1/gm, /\bimport\(\s*(['"])([^'"]+)\1\s*\)/g]
  for (const pattern of patterns) for (const match of code.matchAll(pattern)) found.push(match[2]!)
  return found
}

/** What a file may import: its own package's files (relative), Node's built-ins, and Workers' sockets. */
const allowed = (specifier: string) => specifier.startsWith('./') || specifier.startsWith('../') || specifier.startsWith('node:') || specifier === 'cloudflare:sockets'

test('the scan sees every kind of import, so a bare specifier cannot slip through', () => {
  const code = `import { a } from './a.js';\nexport * from "../b.js";\nimport {\n  c,\n} from 'pg-protocol';\nimport 'pg';\nconst x = await import('postgres');\nimport net from 'node:net';\nconst text = 'read from ":"';`
  expect(specifiers(code)).toEqual(['./a.js', '../b.js', 'pg-protocol', 'node:net', 'pg', 'postgres'])
  expect(specifiers(code).filter((s) => !allowed(s))).toEqual(['pg-protocol', 'pg', 'postgres'])
})

test('the built dist/ imports nothing but its own files, node:* and cloudflare:sockets', () => {
  const dist = new URL('dist/', root)
  expect(existsSync(dist), 'dist/ is missing: build first (npm run build)').toBe(true)
  const files = readdirSync(dist, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.js'))
  expect(files.length).toBeGreaterThan(10)
  const bare = files.flatMap((file) => specifiers(readFileSync(new URL(file, dist), 'utf8')).filter((s) => !allowed(s)).map((s) => `${file}: ${s}`))
  expect(bare).toEqual([])
})
