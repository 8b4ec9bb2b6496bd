/**
 * The README's TypeScript settings, checked: a project that imports pglisten as a user would
 * (from node_modules, through package.json's exports, against the built declarations in dist/,
 * which `npm test` builds first) type-checks with each setting the README names, and does not
 * without what it says is needed.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'

const root = new URL('../..', import.meta.url).pathname
const tsc = join(root, 'node_modules/typescript/bin/tsc')
let project: string

// What the README's first example does, and `await using`.
const source = `
import { createListener } from 'pglisten'
const listener = await createListener({ connectionString: 'postgresql://app@db.internal/shop', sslmode: 'verify-full' })
await listener.listen('orders')
for await (const item of listener.notifications()) {
  if (item.type === 'Gap') continue
  console.log(item.channel, item.payload, item.processId)
}
{
  await using other = await createListener({})
  await other.listen('x')
}
`

beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), 'pglisten-ts-consumer-'))
  await mkdir(join(project, 'node_modules/@types'), { recursive: true })
  await symlink(root, join(project, 'node_modules/pglisten'))
  await writeFile(join(project, 'package.json'), '{ "type": "module" }')
  await writeFile(join(project, 'index.ts'), source)
})
afterAll(async () => {
  if (project) await rm(project, { recursive: true, force: true })
})

async function typeCheck(options: Record<string, unknown>, withNodeTypes: boolean): Promise<string> {
  const types = join(project, 'node_modules/@types/node')
  await rm(types, { force: true })
  if (withNodeTypes) await symlink(join(root, 'node_modules/@types/node'), types)
  await writeFile(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, noEmit: true, ...options }, files: ['index.ts'] }))
  try {
    await promisify(execFile)(process.execPath, [tsc, '-p', project])
    return ''
  } catch (error) {
    return String((error as { stdout?: string }).stdout ?? error)
  }
}

describe('the TypeScript settings the README names', () => {
  test('"module": "nodenext" in an ES module, target ES2022, with @types/node', async () => {
    expect(await typeCheck({ module: 'nodenext', target: 'ES2022' }, true)).toBe('')
  }, 60_000)

  test('"module": "preserve" with "moduleResolution": "bundler", target ES2022, with @types/node', async () => {
    expect(await typeCheck({ module: 'preserve', moduleResolution: 'bundler', target: 'ES2022' }, true)).toBe('')
  }, 60_000)

  test('without @types/node, the lib the README names', async () => {
    expect(await typeCheck({ module: 'nodenext', target: 'ES2022', types: [], lib: ['ES2022', 'esnext.disposable', 'DOM'] }, false)).toBe('')
  }, 60_000)

  test('without @types/node or that lib, it does not type-check (so the README must say what is needed)', async () => {
    expect(await typeCheck({ module: 'nodenext', target: 'ES2022', types: [] }, false)).toMatch(/AbortSignal|asyncDispose/)
  }, 60_000)
})
