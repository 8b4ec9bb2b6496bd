/**
 * The Cloudflare Workers entry points hold no node: import anywhere in their module graph, as
 * a bundler sees it under the "workerd" condition (workerd has no node: modules without its
 * nodejs_compat flag), while the Node entry points do import node:net: the check can fail.
 * Bundled with esbuild (tsx's own), from src and through the package's "exports" map (dist).
 */
import * as esbuild from 'esbuild'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'

const root = fileURLToPath(new URL('../../', import.meta.url))

/** Every module the bundle imports from outside itself (node:*, cloudflare:sockets). */
async function externalImports(contents: string, conditions: string[]): Promise<string[]> {
  const result = await esbuild.build({
    stdin: { contents, resolveDir: root, loader: 'ts' },
    bundle: true,
    write: false,
    metafile: true,
    platform: 'neutral',
    format: 'esm',
    mainFields: ['module', 'main'],
    conditions,
    external: ['node:*', 'cloudflare:sockets'],
    logLevel: 'silent',
  })
  const imports = Object.values(result.metafile.inputs).flatMap((input) => input.imports.filter((i) => i.external).map((i) => i.path))
  return [...new Set(imports)].sort()
}

const workerd = ['workerd', 'worker', 'browser']

describe('the Workers entry points', () => {
  test('src/workers.ts and src/protocol/workers.ts import cloudflare:sockets and nothing from node:', async () => {
    const imports = await externalImports("export * from './src/workers.ts'; export * as protocol from './src/protocol/workers.ts'", workerd)
    expect(imports).toEqual(['cloudflare:sockets'])
  })

  test('pglisten and pglisten/protocol under the workerd condition (dist, through "exports") import nothing from node:', async () => {
    const imports = await externalImports("export * from 'pglisten'; export * as protocol from 'pglisten/protocol'", workerd)
    expect(imports).toEqual(['cloudflare:sockets'])
  })

  test('pglisten/lite under the workerd condition (src/lite-workers.ts, and dist through "exports") imports nothing from node:', async () => {
    expect(await externalImports("export * from './src/lite-workers.ts'", workerd)).toEqual(['cloudflare:sockets'])
    expect(await externalImports("export * from 'pglisten/lite'", workerd)).toEqual(['cloudflare:sockets'])
  })
})

describe('the Node entry points (the check above can fail)', () => {
  test('src/index.ts imports node:net and never cloudflare:sockets', async () => {
    const imports = await externalImports("export * from './src/index.ts'", ['node'])
    expect(imports).toContain('node:net')
    expect(imports).not.toContain('cloudflare:sockets')
  })

  test('pglisten/lite without the workerd condition resolves to its Node build', async () => {
    const imports = await externalImports("export * from 'pglisten/lite'", ['node'])
    expect(imports).toContain('node:net')
    expect(imports).not.toContain('cloudflare:sockets')
  })

  test('pglisten without the workerd condition resolves to the Node build', async () => {
    const imports = await externalImports("export * from 'pglisten'", ['node'])
    expect(imports).toContain('node:net')
  })
})
