/**
 * How the CLI names where it connected (`listen`'s and `replicate`'s status line, `bench`'s
 * server address): the socket file for a socket folder, and host:port otherwise. A hostaddr
 * means TCP to that address, whatever the host says (libpq's pqConnectOptions2), so a folder
 * beside one is no socket file.
 */
import { expect, test } from 'vitest'
import { describeTarget, endpointText } from '../../../src/cli/connection.ts'
import { resolveSettings } from '../../../src/protocol/options/index.ts'

test.each([
  ['a socket folder', { host: '/tmp', port: 5433 }, '/tmp/.s.PGSQL.5433'],
  ['a socket folder beside a hostaddr', { host: '/tmp', port: 5433, hostaddr: '127.0.0.1' }, '/tmp (127.0.0.1):5433'],
  ['a host name beside a hostaddr', { host: 'db.example.com', port: 5432, hostaddr: '192.0.2.7' }, 'db.example.com (192.0.2.7):5432'],
  ['a host name', { host: 'db.example.com', port: 5432 }, 'db.example.com:5432'],
  ['a hostaddr alone (it stands as the host too)', { host: '192.0.2.7', port: 5432, hostaddr: '192.0.2.7' }, '192.0.2.7:5432'],
  ['an IPv6 address, in brackets as in a URL', { host: '::1', port: 5432 }, '[::1]:5432'],
  ['an IPv6 hostaddr beside a host name', { host: 'db.example.com', port: 5432, hostaddr: '2001:db8::7' }, 'db.example.com ([2001:db8::7]):5432'],
  ['a socket folder with a colon in its name beside a hostaddr', { host: '/run/a:b', port: 5433, hostaddr: '127.0.0.1' }, '/run/a:b (127.0.0.1):5433'],
])('%s', (_, endpoint, text) => {
  expect(endpointText(endpoint)).toBe(text)
})

test('describeTarget names the hostaddr a folder stands beside, not a socket file', () => {
  const settings = resolveSettings({ host: '/tmp', hostaddr: '127.0.0.1', port: 5433, user: 'ann', database: 'db', password: 'pw' }, { env: {}, homeDir: undefined, osUser: 'ann' })
  expect(describeTarget(settings)).toBe('/tmp (127.0.0.1):5433, database "db" as "ann"')
})
