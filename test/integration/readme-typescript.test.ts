/**
 * Every ```ts block of the README type-checks as written, as a user's project sees pglisten
 * (from node_modules, through package.json's exports, against the built declarations in dist/),
 * with the settings the README names ("module": "nodenext" in an ES module, target ES2022,
 * @types/node) and strict on. readme.test.ts runs what the blocks do against the server; this
 * makes an edit to a block itself (a renamed option, a wrong import, a misspelt method) fail a
 * test. A block without imports is a fragment: it is read with the imports of the block before
 * it, as a reader reads it. What the README leaves to you (refreshOrders, handleOrder, ship, ...)
 * is declared with the types its use implies, and nothing else is.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ensureBuilt } from '../support/cli.ts'
import { blocks, readme } from '../support/readme.ts'

const root = new URL('../..', import.meta.url).pathname
const tsc = join(root, 'node_modules/typescript/bin/tsc')
let project: string

/** What the README's blocks use and leave to the reader. */
const leftToYou = `
import type { Connection, Listener } from 'pglisten'
declare global {
  const listener: Listener
  const signal: AbortSignal
  const admin: Connection
  function refreshOrders(): Promise<void>
  function handleOrder(channel: string, payload: string, processId: number): void
  function save(channel: string, payload: string): Promise<void>
  function loadCursor(): Promise<string | undefined>
  function saveCursor(id: string): Promise<void>
  function handleEvent(body: string): Promise<void>
  function loadOrders(): Promise<void>
  function apply(change: object): void
  function ship(row: object): Promise<void>
  function fetchSecret(): Promise<string>
}
`

beforeAll(ensureBuilt, 120_000)
beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), 'pglisten-readme-ts-'))
  await mkdir(join(project, 'node_modules/@types'), { recursive: true })
  await symlink(root, join(project, 'node_modules/pglisten'))
  await symlink(join(root, 'node_modules/@types/node'), join(project, 'node_modules/@types/node'))
  await writeFile(join(project, 'package.json'), '{ "type": "module" }')
  await writeFile(join(project, 'left-to-you.d.ts'), leftToYou)
})
afterAll(async () => {
  if (project) await rm(project, { recursive: true, force: true })
})

/** The README's ts blocks, each a module of its own, a fragment with the imports shown before it. */
function examples(): { name: string; source: string; first: string }[] {
  let imports: string[] = []
  return blocks(readme())
    .filter((block) => block.language === 'ts')
    .map((block, i) => {
      const own = block.lines.filter((line) => /^import /.test(line))
      if (own.length > 0) imports = own
      const source = [...(own.length > 0 ? [] : imports), ...block.lines, 'export {}', ''].join('\n')
      return { name: `example-${i + 1}.ts`, source, first: block.lines[0]! }
    })
}

describe('the README\'s TypeScript blocks', () => {
  test('each type-checks as written, strict, with "module": "nodenext" and @types/node', async () => {
    const all = examples()
    expect(all.length).toBeGreaterThan(5)
    for (const example of all) await writeFile(join(project, example.name), example.source)
    const files = ['left-to-you.d.ts', ...all.map((e) => e.name)]
    await writeFile(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: 'nodenext', target: 'ES2022' }, files }))
    const output = await promisify(execFile)(process.execPath, [tsc, '-p', project]).then(
      () => '',
      (error: { stdout?: string }) => String(error.stdout ?? error),
    )
    // Which block an error is in, by its first line, so that the README's block can be found.
    const named = output.replace(/example-(\d+)\.ts/g, (file, n: string) => `${file} (the block that starts ${JSON.stringify(all[Number(n) - 1]!.first)})`)
    expect(named).toBe('')
  }, 120_000) // one tsc run over every block: 15 to 45 s on the shared 2-core machine
})
