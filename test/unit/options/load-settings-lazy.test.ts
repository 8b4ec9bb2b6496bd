/**
 * loadSettings loads the connection-string parser only for a connection string: an application
 * that passes an options object never loads it (nor, in a bundle, downloads it). Its own file:
 * nothing here may import the parser before the tests look (resolveSettings would).
 */
import { expect, test, vi } from 'vitest'
import { loadSettings } from '../../../src/protocol/options/resolve.ts'

const loaded = vi.hoisted(() => ({ count: 0, addressCheck: 0 }))
vi.mock('../../../src/protocol/options/connection-string.ts', async (importOriginal) => {
  loaded.count++
  return importOriginal()
})
vi.mock('../../../src/protocol/options/numeric-address.ts', async (importOriginal) => {
  loaded.addressCheck++
  return importOriginal()
})

const context = { env: {}, osUser: 'osann' }

// One test, in this order: once loaded, a module stays loaded, so the string must come last.
test('an options object, a plain database name, the environment: the parser is not loaded; a connection string loads it', async () => {
  await loadSettings({ host: 'h', user: 'u', database: 'plain' }, context)
  // libpq expands only the dbname given by the caller, never PGDATABASE: not parsed, not loaded.
  expect((await loadSettings({}, { ...context, env: { PGHOST: 'envhost', PGDATABASE: 'host=x' } })).database).toBe('host=x')
  expect(loaded.count).toBe(0)
  expect((await loadSettings('host=h port=5433', context)).hosts).toEqual([{ host: 'h', port: 5433 }])
  expect(loaded.count).toBe(1)
})

test('a database option that is a connection string is read by the parser', async () => {
  expect((await loadSettings({ database: 'postgres://h2/db' }, context)).database).toBe('db')
})

test("hostaddr's check is loaded only when a hostaddr is set", async () => {
  await loadSettings({ host: 'h', user: 'u', hostaddr: '' }, context)
  expect(loaded.addressCheck).toBe(0)
  await expect(loadSettings({ host: 'h', user: 'u', hostaddr: 'not-an-address' }, context)).rejects.toThrow(/invalid hostaddr "not-an-address"/)
  expect(loaded.addressCheck).toBe(1)
})
