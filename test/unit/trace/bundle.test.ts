/**
 * The tracer carries the reading of streaming replication only for a caller that passes it
 * (TracerOptions.copyBoth): an app that bundles pglisten/protocol, createTracer included, does
 * not carry replicationCopyBoth or the pgoutput decoders behind it; pglisten's --trace does.
 * Bundled from src with esbuild, as .size-limit.mjs bundles dist.
 */
import * as esbuild from 'esbuild'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'

const root = fileURLToPath(new URL('../../../', import.meta.url))

/** The source files an esbuild bundle of `contents` (a module at the repository's root) holds. */
async function bundled(contents: string): Promise<string[]> {
  const result = await esbuild.build({
    stdin: { contents, resolveDir: root, loader: 'ts' },
    bundle: true, write: false, metafile: true, format: 'esm', platform: 'node', logLevel: 'silent',
  })
  return Object.keys(result.metafile.inputs)
}

const replicationReading = ['src/protocol/trace/replication-line.ts', 'src/protocol/replication/pgoutput/decode.ts']

describe('what reads replication in a trace, and who bundles it', () => {
  test('pglisten/protocol, every export: createTracer without the replication reading', async () => {
    const inputs = await bundled("export * from './src/protocol/index.ts'")
    expect(inputs).toContain('src/protocol/trace/index.ts')
    for (const module of replicationReading) expect(inputs).not.toContain(module)
  })

  test("pglisten's --trace (stderrTracer): with it", async () => {
    const inputs = await bundled("export { stderrTracer } from './src/cli/connection.ts'")
    for (const module of replicationReading) expect(inputs).toContain(module)
  })
})
