/**
 * What resolveSettings refuses, as libpq's pqConnectOptions2 and connect code refuse it, and
 * how it reads the values it accepts: enumerations, sslrootcert=system, sslnegotiation=direct,
 * connect_timeout, ports, host lists, hostaddr, option types, settings pglisten lacks.
 */
import { isIP } from 'node:net'
import { fc, test as propertyTest } from '@fast-check/vitest'
import { describe, expect, test } from 'vitest'
import { isIPv4, isIPv6 } from '../../../src/protocol/options/numeric-address.ts'
import { isUnixSocketPath, resolveSettings, type ConnectionOptions } from '../../../src/protocol/options/index.ts'

const context = { osUser: 'ann', homeDir: '/home/ann' }
const resolve = (options: ConnectionOptions | string, env: Record<string, string> = {}) => resolveSettings(options, { ...context, env })

describe('enumerated values', () => {
  test.each([
    ['sslmode', 'sslmode=verify_full', 'disable, allow, prefer, require, verify-ca, verify-full'],
    ['sslnegotiation', 'sslnegotiation=tls', 'postgres, direct'],
    ['channel_binding', 'channel_binding=yes', 'disable, prefer, require'],
    ['target_session_attrs', 'target_session_attrs=primary-only', 'any, read-write, read-only, primary, standby, prefer-standby'],
  ])('%s: a RangeError naming the keyword, the source and the allowed values', (keyword, text, allowed) => {
    expect(() => resolve(text)).toThrow(RangeError)
    expect(() => resolve(text)).toThrow(`invalid ${keyword} value "${text.split('=')[1]}" from the connection string; expected one of: ${allowed}`)
  })

  test('values are case-sensitive, as libpq compares them with strcmp', () => {
    expect(() => resolve({ sslmode: 'Require' as 'require' })).toThrow(/invalid sslmode value "Require" from the sslmode option/)
  })

  test('every documented value is accepted', () => {
    for (const sslmode of ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const) expect(resolve({ sslmode }).sslmode).toBe(sslmode)
    for (const attrs of ['any', 'read-write', 'read-only', 'primary', 'standby', 'prefer-standby'] as const) {
      expect(resolve({ targetSessionAttrs: attrs }).targetSessionAttrs).toBe(attrs)
    }
    for (const binding of ['disable', 'prefer', 'require'] as const) expect(resolve({ channelBinding: binding }).channelBinding).toBe(binding)
  })

  test('sslsni: 0 and 1, or a boolean; anything else is refused (libpq would read "true" as off)', () => {
    expect(resolve('sslsni=0').sslsni).toBe(false)
    expect(resolve({ sslsni: true }).sslsni).toBe(true)
    expect(resolve({ sslsni: '0' }).sslsni).toBe(false)
    expect(() => resolve('sslsni=true')).toThrow(/invalid sslsni value "true" from the connection string; expected one of: 0, 1/)
  })
})

describe('sslrootcert=system', () => {
  test('makes verify-full the default sslmode, from any source', () => {
    expect(resolve({ sslrootcert: 'system' }).sslmode).toBe('verify-full')
    expect(resolve({}, { PGSSLROOTCERT: 'system' }).sslmode).toBe('verify-full')
  })

  test.each(['disable', 'allow', 'prefer', 'require', 'verify-ca'])('refuses an explicit weaker sslmode=%s', (sslmode) => {
    expect(() => resolve(`sslrootcert=system sslmode=${sslmode}`)).toThrow(RangeError)
    expect(() => resolve(`sslrootcert=system sslmode=${sslmode}`)).toThrow(`weak sslmode "${sslmode}" may not be used with sslrootcert=system (use "verify-full")`)
  })

  test('a weaker sslmode from PGSSLMODE counts as set, and is refused too', () => {
    expect(() => resolve({ sslrootcert: 'system' }, { PGSSLMODE: 'require' })).toThrow(/weak sslmode "require"/)
  })

  test('a file named ./system is just a file; PEM contents are kept as given', () => {
    expect(resolve({ sslrootcert: './system' })).toMatchObject({ sslrootcert: './system', sslmode: 'prefer' })
    const pem = { pem: '-----BEGIN CERTIFICATE-----' }
    expect(resolve({ sslrootcert: pem, sslcert: { pem: Uint8Array.of(1) }, sslkey: '/k' })).toMatchObject({ sslrootcert: pem, sslcert: { pem: Uint8Array.of(1) }, sslkey: '/k' })
  })
})

describe('sslnegotiation=direct (libpq 17)', () => {
  test.each(['require', 'verify-ca', 'verify-full'])('works with sslmode=%s', (sslmode) => {
    expect(resolve(`sslnegotiation=direct sslmode=${sslmode}`).sslnegotiation).toBe('direct')
  })

  test.each(['disable', 'allow', 'prefer'])('is refused with sslmode=%s', (sslmode) => {
    expect(() => resolve(`sslnegotiation=direct sslmode=${sslmode}`)).toThrow(`weak sslmode "${sslmode}" may not be used with sslnegotiation=direct`)
  })

  test('is refused with the default sslmode (prefer) but fine with sslrootcert=system\'s (verify-full)', () => {
    expect(() => resolve({ sslnegotiation: 'direct' })).toThrow(RangeError)
    expect(resolve({ sslnegotiation: 'direct', sslrootcert: 'system' }).sslmode).toBe('verify-full')
  })
})

describe('connect_timeout, in seconds as libpq parses integers', () => {
  test.each([
    ['10', 10], [' 10 ', 10], ['+3', 3], ['0', undefined], ['-5', undefined], ['2147483647', 2147483647],
    ['1', 1], // current libpq dropped the two-second minimum
  ])('"%s" is %s', (text, seconds) => {
    expect(resolve({ connectTimeout: text }).connectTimeout).toBe(seconds)
  })

  test('numbers: whole seconds, zero or negative waits forever', () => {
    expect(resolve({ connectTimeout: 5 }).connectTimeout).toBe(5)
    expect(resolve({ connectTimeout: -1 }).connectTimeout).toBeUndefined()
    expect(() => resolve({ connectTimeout: 1.5 })).toThrow(RangeError)
  })

  test.each(['10s', '1.5', '', ' ', '0x10', '2147483648', 'ten'])('"%s" is refused, as libpq refuses it', (text) => {
    expect(() => resolve(`connect_timeout='${text}'`)).toThrow(RangeError)
    expect(() => resolve(`connect_timeout='${text}'`)).toThrow(`invalid integer value "${text}" for connect_timeout`)
  })
})

describe('ports and host lists', () => {
  test.each(['0', '65536', '-1'])('port %s is out of range', (port) => {
    expect(() => resolve({ port })).toThrow(`invalid port number "${port}" from the port option`)
  })

  test('a port that is not an integer', () => {
    expect(() => resolve('port=54x32')).toThrow('invalid integer value "54x32" for port from the connection string')
    expect(() => resolve({ port: 5432.5 })).toThrow(RangeError)
    expect(resolve({ port: ' 5433 ' }).hosts[0]?.port).toBe(5433)
  })

  test('mismatched counts are refused with libpq\'s words', () => {
    expect(() => resolve({ host: 'a,b', port: '1,2,3' })).toThrow('could not match 3 port numbers to 2 hosts')
    expect(() => resolve({ host: 'a,b,c', hostaddr: '10.0.0.1,10.0.0.2' })).toThrow('could not match 3 host names to 2 hostaddr values')
    expect(() => resolve({ hostaddr: '10.0.0.1,10.0.0.2', port: '1,2,3' })).toThrow('could not match 3 port numbers to 2 hosts')
  })

  test('hostaddr must be a numeric address; names belong in host', () => {
    expect(() => resolve({ hostaddr: 'db.example' })).toThrow(/invalid hostaddr "db.example" from the hostaddr option/)
    expect(() => resolve({ hostaddr: '127.1' })).toThrow(RangeError)
    expect(resolve({ hostaddr: 'fe80::1%eth0' }).hosts[0]?.hostaddr).toBe('fe80::1%eth0')
  })

  test('a Unix socket is an absolute path, or "@" first for an abstract one (libpq\'s is_unixsock_path)', () => {
    expect(isUnixSocketPath('/run/postgresql')).toBe(true)
    expect(isUnixSocketPath('@abstract')).toBe(true)
    expect(isUnixSocketPath('abc@')).toBe(false)
    expect(isUnixSocketPath('db.example')).toBe(false)
  })
})

describe('numeric addresses', () => {
  test.each(['0.0.0.0', '255.255.255.255', '::', '::1', '2001:db8::1234', '::ffff:192.0.2.1', '1:2:3:4:5:6:7:8', '1::', 'fe80::1%eth0'])('%s is numeric', (text) => {
    expect(isIPv4(text) || isIPv6(text)).toBe(true)
  })

  test.each(['256.0.0.1', '01.2.3.4', '1.2.3', '1:2:3:4:5:6:7:8:9', '1::2::3', ':1:2:3:4:5:6:7', '12345::', 'fe80::1%', 'g::1', '1:2:3:4:5:6:7:1.2.3.4', ''])('%s is not', (text) => {
    expect(isIPv4(text) || isIPv6(text)).toBe(false)
  })

  propertyTest.prop([fc.oneof(fc.ipV4(), fc.ipV6())])('agrees with node:net on every address fast-check makes', (address) => {
    expect(isIPv4(address) || isIPv6(address)).toBe(isIP(address) !== 0)
  })

  propertyTest.prop([fc.domain()])('no domain name is numeric', (name) => {
    expect(isIPv4(name) || isIPv6(name)).toBe(false)
  })

  // RFC 4291 section 2.2: x:x:x:x:x:x:d.d.d.d, the IPv4 part standing for the last two groups;
  // "::" for one or more groups of zeros, once; each group one to four hexadecimal digits.
  test.each([
    '::13.1.68.3', '::FFFF:129.144.52.38', '0:0:0:0:0:0:13.1.68.3', '1:2:3:4:5:6:1.2.3.4',
    '1:2:3:4:5::1.2.3.4', '::1.2.3.4', '::1:2:3:4:5:6:7', '1:2:3:4:5:6:7::', '12:34::', 'abcd::ABCD', '::ffff:1.2.3.4%eth0',
  ])('%s is IPv6 (RFC 4291 section 2.2; a %zone, RFC 4007 section 11)', (text) => {
    expect(isIPv6(text)).toBe(true)
  })

  test.each([
    ['an IPv4 part that is not a dotted quad', '::ffff:256.1.2.3'],
    ['an IPv4 part of three numbers', '::1.2.3'],
    ['no colon between the last group and the IPv4 part', '::ffff1.2.3.4'],
    ['a missing colon between groups', '1:2:3:4:5:67:8'],
    ['seven groups without "::"', '1:2:3:4:5:6:7'],
    ['"::" twice before an IPv4 part', '1::2::1.2.3.4'],
    ['"::" twice at the ends', '::1::'],
    ['eight groups and "::", which stands for at least one more', '1:2:3:4::5:6:7:8'],
    ['six groups, "::" and an IPv4 part', '1:2:3:4:5::6:1.2.3.4'],
    ['six groups before "::" and an IPv4 part', '1:2:3:4:5:6::1.2.3.4'],
    ['a group of five digits', '12345::1'],
    ['a group of five digits, last', '1:2:3:4:5:6:7:12345'],
    ['a non-hex digit before hex digits', 'g1::'],
    ['a non-hex digit after a hex digit', '1g::'],
    ['a non-hex digit ending the last group', '::fffg'],
    ['a non-hex digit starting the last group', '::g1'],
    ['no colon at all', '1'],
    ['an empty zone', 'fe80::1%'],
    ['two zones', 'fe80::1%eth0%x'],
    ['a zone that is a "%"', 'fe80::1%%'],
  ])('%s: %s is not IPv6', (_, text) => {
    expect(isIPv6(text)).toBe(false)
  })
})

describe('options object misuse', () => {
  test.each([
    [{ host: 5 }, /host must be a string/],
    [{ port: true }, /port must be a number or a string/],
    [{ password: 42 }, /password must be a string or a function/],
    [{ sslrootcert: { path: '/x' } }, /sslrootcert must be a file path or \{ pem/],
    [{ sslsni: 1 }, /sslsni must be a boolean/],
    [{ connectionString: 1 }, /connectionString must be a string/],
    [{ dbname: 'x' }, /"dbname": that is libpq's name for the option "database"/],
    [{ application_name: 'x' }, /the option "applicationName"/],
  ])('%o is a TypeError', (options, message) => {
    expect(() => resolve(options as ConnectionOptions)).toThrow(TypeError)
    expect(() => resolve(options as ConnectionOptions)).toThrow(message)
  })

  test('other fields are left alone: the object may carry more than connection settings', () => {
    expect(resolve({ host: 'h', onNotification: () => undefined } as ConnectionOptions).hosts[0]?.host).toBe('h')
  })

  test('neither an object nor a string', () => {
    expect(() => resolveSettings(null as unknown as string, context)).toThrow(TypeError)
  })
})

describe('numbers given as numbers, and the edges of a C int (survivors of a mutation run)', () => {
  test('a numeric port: 1 to 65535, whole', () => {
    expect(resolve({ port: 1 }).hosts[0]?.port).toBe(1)
    expect(resolve({ port: 65535 }).hosts[0]?.port).toBe(65535)
    for (const port of [0, 65536, -1, 5432.5]) {
      expect(() => resolve({ port })).toThrow(new RangeError(`invalid port number ${port}: expected an integer from 1 to 65535`))
    }
  })

  test('a numeric connectTimeout: whole seconds, and within a C int', () => {
    expect(resolve({ connectTimeout: 7 }).connectTimeout).toBe(7)
    expect(resolve({ connectTimeout: 2 ** 31 - 1 }).connectTimeout).toBe(2 ** 31 - 1)
    expect(() => resolve({ connectTimeout: 1.5 })).toThrow(new RangeError('invalid connectTimeout 1.5: libpq takes whole seconds'))
    expect(() => resolve({ connectTimeout: 2 ** 31 })).toThrow(new RangeError(`invalid integer value "${2 ** 31}" for connect_timeout from the connectTimeout option`))
    expect(() => resolve({ connectTimeout: true } as unknown as ConnectionOptions)).toThrow(new TypeError('connectTimeout must be a number of seconds or a string'))
  })

  test('as text, every C int is taken, with any of strtol\'s whitespace around it; one past either end is not', () => {
    expect(resolve({ connectTimeout: '2147483647' }).connectTimeout).toBe(2147483647)
    expect(resolve({ connectTimeout: '-2147483648' }).connectTimeout).toBeUndefined() // taken, and zero or less waits forever
    expect(() => resolve({ connectTimeout: '-2147483649' })).toThrow('invalid integer value "-2147483649" for connect_timeout')
    expect(resolve({ connectTimeout: '\v\f 9 \v\f' }).connectTimeout).toBe(9)
    // A port past a C int is not a number to libpq at all, before it is a port out of range.
    expect(() => resolve({ port: '2147483648' })).toThrow(new RangeError('invalid integer value "2147483648" for port from the port option'))
    expect(() => resolve({ port: '2147483647' })).toThrow(new RangeError('invalid port number "2147483647" from the port option'))
  })

  test('sslrootcert as { pem }: a string or bytes, nothing else', () => {
    expect(resolve({ sslrootcert: { pem: 'PEM' } }).sslrootcert).toEqual({ pem: 'PEM' })
    expect(resolve({ sslrootcert: { pem: new Uint8Array([1]) } }).sslrootcert).toEqual({ pem: new Uint8Array([1]) })
    for (const sslrootcert of [{ pem: 5 }, null, 7]) {
      expect(() => resolve({ sslrootcert } as unknown as ConnectionOptions)).toThrow(new TypeError('sslrootcert must be a file path or { pem: string | Uint8Array }'))
    }
  })

  test('sslcert and sslkey take { pem } too, a string or bytes', () => {
    expect(resolve({ sslkey: { pem: 'KEY' } }).sslkey).toEqual({ pem: 'KEY' })
    expect(resolve({ sslkey: { pem: Uint8Array.of(2) } }).sslkey).toEqual({ pem: Uint8Array.of(2) })
    expect(resolve({ sslcert: { pem: 'CERT' } }).sslcert).toEqual({ pem: 'CERT' })
    expect(() => resolve({ sslkey: { pem: 5 } } as unknown as ConnectionOptions)).toThrow(new TypeError('sslkey must be a file path or { pem: string | Uint8Array }'))
  })

  test('an empty or undefined value is left out, so the environment still applies, as PQconnectdbParams does', () => {
    expect(resolve({ host: '', connectionString: undefined }, { PGHOST: 'from-env' }).hosts[0]?.host).toBe('from-env')
  })
})

describe('libpq settings pglisten does not implement', () => {
  test.each([
    ['sslcrl=/crl.pem', 'sslcrl=/crl.pem'],
    ['requirepeer=postgres', 'requirepeer=postgres'],
    ['gssencmode=require', 'gssencmode=require'],
    ['service=mydb', 'service=mydb'],
    ['load_balance_hosts=random', 'load_balance_hosts=random'],
    ['sslcertmode=require', 'sslcertmode=require'],
  ])('%s is refused rather than ignored', (text, shown) => {
    expect(() => resolve(text)).toThrow(TypeError)
    expect(() => resolve(text)).toThrow(`pglisten does not support the libpq setting ${shown} (from the connection string)`)
  })

  test('sslcertmode: allow is the default, disable is kept, anything else is a RangeError', () => {
    expect(resolve('sslcertmode=allow')).toEqual(resolve(''))
    expect(resolve('sslcertmode=disable').sslcertmode).toBe('disable')
    expect(() => resolve('sslcertmode=never')).toThrow(RangeError)
    expect(() => resolve({}, { PGSSLCERTMODE: 'require' })).toThrow('(from PGSSLCERTMODE)')
  })

  test('from the environment too, naming the variable', () => {
    expect(() => resolve({}, { PGSERVICE: 'mydb' })).toThrow('(from PGSERVICE)')
  })

  test('a secret setting is refused without showing its value', () => {
    let message = ''
    try {
      resolve("sslpassword='k3y-pa55'")
    } catch (error) {
      message = (error as Error).message
    }
    expect(message).toContain('sslpassword')
    expect(message).not.toContain('k3y-pa55')
  })

  test('values that ask for nothing pglisten does not do are accepted and dropped', () => {
    const settings = resolve('keepalives=1 keepalives_idle=30 gssencmode=disable client_encoding=UTF8 load_balance_hosts=disable')
    expect(settings).toEqual(resolve(''))
  })
})
