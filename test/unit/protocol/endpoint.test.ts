/**
 * How an endpoint is named in messages (io/endpoint.ts): host:port, with the hostaddr it goes to,
 * or the socket file. An IPv6 address goes in brackets, as a URL writes it (RFC 3986, section
 * 3.2.2) and as the CLI does (src/cli/connection.ts): "::1:5432" reads as the address ::1:5432.
 */
import { describe, expect, test } from 'vitest'
import { connectWith } from '../../../src/protocol/io/connect.ts'
import { describeEndpoint } from '../../../src/protocol/io/endpoint.ts'
import { nodePlatform } from '../../../src/protocol/io/node-platform.ts'

describe('describeEndpoint', () => {
  test.each([
    [{ host: '::1', port: 5432 }, '[::1]:5432'],
    [{ host: 'fe80::1%eth0', port: 5433 }, '[fe80::1%eth0]:5433'],
    [{ host: '2001:db8::7', port: 5432, hostaddr: '2001:db8::7' }, '[2001:db8::7]:5432'],
    [{ host: 'db.example', port: 5432, hostaddr: '::1' }, 'db.example ([::1]):5432'],
    [{ host: '::1', port: 5432, hostaddr: '127.0.0.1' }, '[::1] (127.0.0.1):5432'],
    // A socket folder named as host beside a hostaddr is TCP (libpq's CHT_HOST_ADDRESS): only the address is bracketed.
    [{ host: '/run/postgresql', port: 5432, hostaddr: '::1' }, '/run/postgresql ([::1]):5432'],
    // Only hostaddr given: host is empty, and the address alone names the server.
    [{ host: '', port: 5432, hostaddr: '::1' }, '[::1]:5432'],
  ])('an IPv6 address in brackets: %j is %s', (endpoint, words) => {
    expect(describeEndpoint(endpoint)).toBe(words)
  })

  test.each([
    [{ host: '127.0.0.1', port: 5432 }, '127.0.0.1:5432'],
    [{ host: 'db.example', port: 6432 }, 'db.example:6432'],
    [{ host: 'db.example', port: 5432, hostaddr: '10.0.0.1' }, 'db.example (10.0.0.1):5432'],
    [{ host: '/run/postgresql', port: 5432 }, '/run/postgresql/.s.PGSQL.5432'],
    [{ host: '/tmp/with:colon', port: 5432 }, '/tmp/with:colon/.s.PGSQL.5432'],
    [{ host: '', port: 5432, hostaddr: '10.0.0.1' }, '10.0.0.1:5432'], // not " (10.0.0.1):5432"
  ])('anything else as it was: %j is %s', (endpoint, words) => {
    expect(describeEndpoint(endpoint)).toBe(words)
  })
})

describe("connect()'s errors name an IPv6 host in brackets", () => {
  const options = { env: {}, user: 'u', password: 'p', sslmode: 'disable', port: 1 } as const

  test('a host that refuses (or cannot be reached): cannot connect to [::1]:1', async () => {
    const error = await connectWith(nodePlatform, { ...options, host: '::1' }).catch((e: unknown) => e)
    expect((error as Error).message).toMatch(/^cannot connect to \[::1\]:1: /)
  })

  test('only hostaddr given: the address alone, in brackets', async () => {
    const error = await connectWith(nodePlatform, { ...options, hostaddr: '::1' }).catch((e: unknown) => e)
    expect((error as Error).message).toMatch(/^cannot connect to \[::1\]:1: /)
  })

  test('several hosts: each named so in the summary', async () => {
    const error = await connectWith(nodePlatform, { ...options, host: '::1,db.invalid', hostaddr: '::1,127.0.0.1' }).catch((e: unknown) => e)
    expect((error as Error).message).toMatch(/^could not connect to any of 2 hosts: \[::1\]:1: cannot connect to \[::1\]:1: .*; db\.invalid \(127\.0\.0\.1\):1: cannot connect to db\.invalid \(127\.0\.0\.1\):1: /)
  })
})
