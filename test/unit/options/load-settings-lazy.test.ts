/**
 * loadSettings loads the connection-string parser only for a connection string: an application
 * that passes an options object never loads it (nor, in a bundle, downloads it). Its own file:
 * nothing here may import the parser before the tests look (resolveSettings would).
 */
import { expect, test, vi } from 'vitest'
import { loadSettings } from '../../../src/protocol/options/resolve.ts'

const loaded = vi.hoisted(() => ({ count: 0 }))
vi.mock('../../../src/protocol/options/connection-string.ts', async (importOriginal) => {
  loaded.count++
  return importOriginal()
})

const context = { env: {}, osUser: 'osann' }

test('an options object, a plain database name and the environment: the parser is not loaded', async () => {
  await loadSettings({ host: 'h', user: 'u', database: 'plain' }, context)
  await loadSettings({}, { ...context, env: { PGHOST: 'envhost', PGDATABASE: 'host=not-parsed' } })
  expect(loaded.count).toBe(0)
})

test('a connection string, or a database option that is one: the parser is loaded, once', async () => {
  expect((await loadSettings('host=h port=5433', context)).hosts).toEqual([{ host: 'h', port: 5433 }])
  expect(loaded.count).toBe(1)
  expect((await loadSettings({ database: 'postgres://h2/db' }, context)).database).toBe('db')
  expect(loaded.count).toBe(1)
})
