/**
 * Size budgets (npm test runs `size-limit` after the build): what a bundler adds to an app for
 * each entry point, measured as issue 13 measures it: esbuild, minified, ESM, node:* left
 * external, gzip level 9. Code splitting is on, so what pglisten loads by dynamic import (SASLprep
 * tables, md5, the certificate reader) becomes chunks of its own; the budget counts the entry
 * chunk and the chunks it imports statically: what loads up front.
 *
 * The limits are a ratchet, not yet the budgets (listener 14 kB, protocol 12 kB): they
 * hold today's size, and come down as the listener's graph is cut (README, "Size").
 */

/** Keeps only the entry chunk and what it imports statically, so size-limit measures those. */
const upFront = {
  name: 'up-front chunks',
  setup(build) {
    build.onEnd((result) => {
      const outputs = result.metafile?.outputs
      if (!outputs) return
      const entry = Object.keys(outputs).find((file) => outputs[file].entryPoint?.endsWith('index.js') && file.endsWith('/index.js'))
      const kept = new Set([entry])
      for (const file of kept) {
        for (const i of outputs[file].imports) if (i.kind === 'import-statement' && !i.external) kept.add(i.path)
      }
      for (const file of Object.keys(outputs)) if (!kept.has(file)) delete outputs[file]
    })
  },
}

const esbuild = (config) => ({
  ...config,
  format: 'esm',
  splitting: true,
  platform: 'neutral',
  mainFields: ['module', 'main'],
  conditions: ['import'],
  external: ['node:*', 'cloudflare:sockets'],
  minify: true,
  plugins: [...(config.plugins ?? []), upFront],
})

export default [
  {
    name: 'pglisten: createListener (connect, SCRAM, TLS, listen)',
    import: { 'dist/index.js': '{ createListener }' },
    gzip: true,
    modifyEsbuildConfig: esbuild,
    limit: '38.5 kB',
  },
  {
    name: 'pglisten/protocol: connect',
    import: { 'dist/protocol/index.js': '{ connect }' },
    gzip: true,
    modifyEsbuildConfig: esbuild,
    limit: '23 kB',
  },
  {
    name: 'pglisten/protocol: everything',
    import: { 'dist/protocol/index.js': '*' },
    gzip: true,
    modifyEsbuildConfig: esbuild,
    limit: '26.5 kB',
  },
]
