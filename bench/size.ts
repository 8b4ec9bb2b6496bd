/**
 * `npm run bench:size`: what each client adds to a bundle, measured one way for all: esbuild,
 * minified, ESM, node:* (and cloudflare:sockets) external, gzip level 9. For pglisten, with code
 * splitting: "up front" is the entry chunk and what it imports statically; then that with the
 * chunks a connection over TLS with SCRAM loads by dynamic import (the certificate reader, and
 * the listener's target_session_attrs check), which is what .size-limit.mjs budgets in npm test;
 * then what loads only when a setting or a server asks (feeds, the outbox, md5, SASLprep's
 * tables, require_auth, the password file). Each column is the gzip of its chunks joined;
 * size-limit sums the gzip of each chunk, a little more. A second table splits what loads up
 * front into its string literals and the code without them. Here for the README's tables.
 */
import * as esbuild from 'esbuild'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { gzipSync } from 'node:zlib'
import ts from 'typescript'

interface Case {
  name: string
  code: string
  platform: 'neutral' | 'node'
  /** The modules a SCRAM-over-TLS connection (and, for the listener, listening) loads by dynamic import. */
  loads?: string[]
}

const root = resolve(import.meta.dirname, '..')
const cases: Case[] = [
  // The certificate reader, for SCRAM-SHA-256-PLUS; the listener asks for a primary (target_session_attrs).
  { name: "pglisten: { createListener } from 'pglisten'", code: `export { createListener } from '${root}/dist/index.js'`, platform: 'neutral', loads: ['auth/certificate.js', 'io/target-session.js'] },
  // A Worker sees no server certificate: no channel binding, no certificate reader.
  { name: "pglisten: { createListener }, the workerd build", code: `export { createListener } from '${root}/dist/workers.js'`, platform: 'neutral', loads: ['io/target-session.js'] },
  { name: "pglisten/lite: { createListener }", code: `export { createListener } from '${root}/dist/lite.js'`, platform: 'neutral', loads: [] },
  { name: "pglisten/lite: { createListener }, the workerd build", code: `export { createListener } from '${root}/dist/lite-workers.js'`, platform: 'neutral', loads: [] },
  { name: "pglisten/lite: { connect }", code: `export { connect } from '${root}/dist/lite.js'`, platform: 'neutral', loads: [] },
  { name: "pglisten/protocol: { connect }", code: `export { connect } from '${root}/dist/protocol/index.js'`, platform: 'neutral', loads: ['auth/certificate.js'] },
  { name: 'pglisten/protocol: everything', code: `export * from '${root}/dist/protocol/index.js'`, platform: 'neutral', loads: ['auth/certificate.js'] },
  { name: 'postgres.js (postgres)', code: `export { default } from 'postgres'`, platform: 'node' },
  { name: 'node-postgres + pg-listen', code: `export { default } from 'pg-listen'`, platform: 'node' },
]

interface Measure {
  /** The entry chunk and what it imports statically. */
  upFront: { min: number; gzip: number }
  /** That, and the chunks of `loads` with their static imports: what connecting over TLS with SCRAM loads. */
  connecting: { min: number; gzip: number }
  /** Every other chunk: loaded only when a setting or a server asks. */
  later: { min: number; gzip: number }
  /** What loads up front, split: its string literals alone, and the code with each literal emptied (gzip). */
  split: { strings: number; code: number }
}

/**
 * JavaScript split into its string literals (quoted strings and the text parts of templates) and
 * the rest, with each literal emptied; tokenized by TypeScript's scanner, which knows templates'
 * `${...}` and regular expressions.
 */
function splitLiterals(text: string): { strings: string; code: string } {
  const scanner = ts.createScanner(ts.ScriptTarget.Latest, false, ts.LanguageVariant.Standard, text)
  const strings: string[] = []
  const code: string[] = []
  let copied = 0 // the text before this is in `code`
  const braces: ('code' | 'template')[] = [] // what each open brace closes: a block, or a template's ${
  let previous = ts.SyntaxKind.Unknown
  for (let kind = scanner.scan(); kind !== ts.SyntaxKind.EndOfFileToken; previous = kind, kind = scanner.scan()) {
    if (kind === ts.SyntaxKind.CloseBraceToken && braces.pop() === 'template') kind = scanner.reScanTemplateToken(false)
    else if (kind === ts.SyntaxKind.SlashToken || kind === ts.SyntaxKind.SlashEqualsToken) {
      // A regular expression where an operand may start (after an operator or punctuation).
      const operand = previous !== ts.SyntaxKind.Identifier && previous !== ts.SyntaxKind.CloseParenToken && previous !== ts.SyntaxKind.CloseBracketToken && previous !== ts.SyntaxKind.NumericLiteral && previous !== ts.SyntaxKind.StringLiteral
      if (operand) kind = scanner.reScanSlashToken()
    }
    if (kind === ts.SyntaxKind.OpenBraceToken) braces.push('code')
    if (kind === ts.SyntaxKind.TemplateHead || kind === ts.SyntaxKind.TemplateMiddle) braces.push('template')
    const literal = kind === ts.SyntaxKind.StringLiteral || (kind >= ts.SyntaxKind.NoSubstitutionTemplateLiteral && kind <= ts.SyntaxKind.TemplateTail)
    if (!literal) continue
    strings.push(scanner.getTokenValue())
    // A template's parts keep their ` ${ } delimiters; a quoted string becomes "".
    const start = scanner.getTokenStart()
    const end = scanner.getTokenEnd()
    const token = text.slice(start, end)
    code.push(text.slice(copied, start), kind === ts.SyntaxKind.StringLiteral ? '""' : token[0]! + (token.endsWith('${') ? '${' : token.at(-1)!))
    copied = end
  }
  code.push(text.slice(copied))
  return { strings: strings.join('\n'), code: code.join('') }
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
    /** `files` and every chunk they import statically. */
    const closure = (files: string[]) => {
      const all = new Set(files)
      for (const file of all) for (const i of outputs[file]!.imports) if (i.kind === 'import-statement' && !i.external) all.add(i.path)
      return all
    }
    const entry = Object.keys(outputs).find((file) => outputs[file]!.entryPoint === 'entry.js')! // not the dynamic imports' chunks, which are entry points too
    const upFront = closure([entry])
    const lazy = (c.loads ?? []).map((module) => Object.keys(outputs).find((file) => outputs[file]!.entryPoint?.endsWith(module)))
    if (lazy.includes(undefined)) throw new Error(`${c.name}: not every one of ${c.loads!.join(', ')} is a chunk of its own`)
    const connecting = closure([entry, ...(lazy as string[])])
    const sum = (files: Iterable<string>) => {
      const texts = [...files].map((f) => result.outputFiles.find((o) => o.path === resolve(root, f))!.contents)
      const joined = Buffer.concat(texts)
      return { min: joined.length, gzip: gzipSync(joined, { level: 9 }).length }
    }
    const text = Buffer.concat([...upFront].map((f) => result.outputFiles.find((o) => o.path === resolve(root, f))!.contents)).toString()
    const parts = splitLiterals(text)
    const split = { strings: gzipSync(parts.strings, { level: 9 }).length, code: gzipSync(parts.code, { level: 9 }).length }
    return { upFront: sum(upFront), connecting: sum(connecting), later: sum(Object.keys(outputs).filter((f) => !connecting.has(f) && f.endsWith('.js'))), split }
  } finally {
    await rm(outdir, { recursive: true, force: true })
  }
}

const kb = (bytes: number) => (bytes / 1000).toFixed(1)
console.log('| bundle | up front, minified (kB) | up front, gzip -9 (kB) | with what connecting over TLS with SCRAM loads, gzip (kB) | loaded only when asked, gzip (kB) |')
console.log('|---|---:|---:|---:|---:|')
const measured: [Case, Measure][] = []
for (const c of cases) {
  const m = await measure(c)
  measured.push([c, m])
  const dash = (x: { min: number; gzip: number }, shown: string) => (x.min ? shown : '—')
  console.log(`| ${c.name} | ${kb(m.upFront.min)} | ${kb(m.upFront.gzip)} | ${kb(m.connecting.gzip)} | ${dash(m.later, kb(m.later.gzip))} |`)
}
// How much of what loads up front is words (messages, SQL, keyword tables) and how much is code.
console.log('\n| bundle, up front | its string literals alone, gzip (kB) | its code, every literal emptied, gzip (kB) |')
console.log('|---|---:|---:|')
for (const [c, m] of measured) console.log(`| ${c.name} | ${kb(m.split.strings)} | ${kb(m.split.code)} |`)
