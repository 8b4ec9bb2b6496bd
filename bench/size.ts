/**
 * `npm run bench:size`: what each client adds to a bundle, measured one way for all: esbuild,
 * minified, ESM, node:* (and cloudflare:sockets) external, gzip level 9. For pglisten, with code
 * splitting: "up front" is the entry chunk and what it imports statically; what pglisten loads
 * by dynamic import (SASLprep tables, md5, the certificate reader) is shown apart. The same
 * measure as .size-limit.mjs, whose limits npm test enforces; here for the README's table.
 */
import * as esbuild from 'esbuild'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { gzipSync } from 'node:zlib'

interface Case {
  name: string
  code: string
  platform: 'neutral' | 'node'
}

const root = resolve(import.meta.dirname, '..')
const cases: Case[] = [
  { name: "pglisten: { createListener } from 'pglisten'", code: `export { createListener } from '${root}/dist/index.js'`, platform: 'neutral' },
  { name: "pglisten: { createListener }, the workerd build", code: `export { createListener } from '${root}/dist/workers.js'`, platform: 'neutral' },
  { name: "pglisten/protocol: { connect }", code: `export { connect } from '${root}/dist/protocol/index.js'`, platform: 'neutral' },
  { name: 'pglisten/protocol: everything', code: `export * from '${root}/dist/protocol/index.js'`, platform: 'neutral' },
  { name: 'postgres.js (postgres)', code: `export { default } from 'postgres'`, platform: 'node' },
  { name: 'node-postgres + pg-listen', code: `export { default } from 'pg-listen'`, platform: 'node' },
]

interface Measure {
  min: number
  gzip: number
  lazy: { min: number; gzip: number }
}

async function measure(c: Case): Promise<Measure> {
  const outdir = await mkdtemp(join(tmpdir(), 'pglisten-size-'))
  try {
    const result = await esbuild.build({
      stdin: { contents: c.code, resolveDir: root, sourcefile: 'entry.js' },
      bundle: true, minify: true, format: 'esm', splitting: true, write: false, metafile: true, outdir,
      platform: c.platform, external: ['node:*', 'cloudflare:sockets'], logLevel: 'silent',
    })
    const outputs = result.metafile.outputs
    const entry = Object.keys(outputs).find((file) => outputs[file]!.entryPoint === 'entry.js')! // not the dynamic imports' chunks, which are entry points too
    const upFront = new Set([entry])
    for (const file of upFront) for (const i of outputs[file]!.imports) if (i.kind === 'import-statement' && !i.external) upFront.add(i.path)
    const sum = (files: string[]) => {
      const texts = files.map((f) => result.outputFiles.find((o) => o.path === resolve(root, f))!.contents)
      const joined = Buffer.concat(texts)
      return { min: joined.length, gzip: gzipSync(joined, { level: 9 }).length }
    }
    const front = sum([...upFront])
    return { ...front, lazy: sum(Object.keys(outputs).filter((f) => !upFront.has(f) && f.endsWith('.js'))) }
  } finally {
    await rm(outdir, { recursive: true, force: true })
  }
}

const kb = (bytes: number) => (bytes / 1000).toFixed(1)
console.log('| bundle | minified (kB) | gzip -9 (kB) | loaded later, gzip (kB) |')
console.log('|---|---:|---:|---:|')
for (const c of cases) {
  const m = await measure(c)
  console.log(`| ${c.name} | ${kb(m.min)} | ${kb(m.gzip)} | ${m.lazy.min ? kb(m.lazy.gzip) : '—'} |`)
}
