/**
 * The package as a consumer sees it: plain Node (no TypeScript loader) imports the built
 * entry points through the exports map, and there are no runtime dependencies.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { expect, test } from 'vitest'

const root = new URL('../../', import.meta.url)

test('plain node imports pglisten and pglisten/protocol through the exports map', () => {
  // Self-reference by package name resolves through "exports", as a dependent's import would.
  const script = "const a = await import('pglisten'); const b = await import('pglisten/protocol'); console.log(typeof a.Connection, typeof b.Framer)"
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' })
  expect(out.trim()).toBe('function function')
})

test('no runtime dependencies', () => {
  const manifest = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'))
  expect(manifest.dependencies ?? {}).toEqual({})
  expect(manifest.peerDependencies ?? {}).toEqual({})
})
