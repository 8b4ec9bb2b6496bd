// Smoke test of the test harness itself, with no PostgreSQL client: the server the globalSetup
// started answers an SSLRequest (protocol docs, "SSL Session Encryption") as configured, its
// certificate verifies against the run's CA, and the files handed to the tests exist.

import { readFile } from 'node:fs/promises'
import { type NetConnectOpts, type Socket, connect } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { describe, expect, inject, test } from 'vitest'

const pg = inject('pg')

const SSL_REQUEST = Uint8Array.of(
  0x00, 0x00, 0x00, 0x08, // Int32(8)        length, including itself
  0x04, 0xd2, 0x16, 0x2f, // Int32(80877103) SSLRequest code: 1234 in the high 16 bits, 5679 in the low
)

/** Sends an SSLRequest; resolves everything the server sent within 100 ms of its first byte. */
async function askForTls(target: NetConnectOpts): Promise<{ reply: Buffer; socket: Socket }> {
  const socket = connect(target)
  const reply = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = []
    const done = () => {
      socket.off('data', onData)
      resolve(Buffer.concat(chunks))
    }
    const onData = (b: Buffer) => {
      // The reply is one byte, after which the server waits for us: more would be a bug.
      if (chunks.push(b) === 1) setTimeout(done, 100)
    }
    socket.on('data', onData).once('error', reject).once('close', done)
    socket.once('connect', () => socket.write(SSL_REQUEST))
  })
  return { reply, socket }
}

const tcp = (host: string): NetConnectOpts => ({ host, port: pg.port })

describe('any server', () => {
  test('answers an SSLRequest over TCP with exactly one byte, S or N', async () => {
    const { reply, socket } = await askForTls(tcp(pg.host))
    socket.destroy()
    expect(reply.length).toBe(1)
    expect(['S', 'N']).toContain(reply.toString('latin1'))
  })
})

describe.runIf(pg.kind === 'embedded')('embedded cluster', () => {
  test('offers TLS on 127.0.0.1: the SSLRequest is answered S', async () => {
    const { reply, socket } = await askForTls(tcp('127.0.0.1'))
    socket.destroy()
    expect(reply.toString('latin1')).toBe('S')
  })

  test.runIf(pg.ipv6)('offers TLS on ::1 too', async () => {
    const { reply, socket } = await askForTls(tcp('::1'))
    socket.destroy()
    expect(reply.toString('latin1')).toBe('S')
  })

  test('does not offer TLS on the Unix socket: the SSLRequest is answered N', async () => {
    const { reply, socket } = await askForTls({ path: `${pg.socketDir}/.s.PGSQL.${pg.port}` })
    socket.destroy()
    expect(reply.toString('latin1')).toBe('N')
  })

  // Node verifies the chain and the name (an IP must be in an IP SAN, RFC 6125), rejecting otherwise.
  test.each([
    ['127.0.0.1 (IP SAN)', { host: '127.0.0.1' }],
    ['localhost (DNS SAN)', { servername: 'localhost' }],
  ])('has a certificate that the run\'s CA verifies for %s', async (_, name) => {
    const { socket } = await askForTls(tcp('127.0.0.1'))
    const secure = tlsConnect({ socket, ca: pg.tls!.ca, ...name })
    try {
      await new Promise((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject))
      expect(secure.authorized).toBe(true)
      expect(secure.getPeerCertificate().subjectaltname).toContain(`DNS:${pg.tls!.serverName}`)
    } finally {
      secure.destroy()
    }
  })

  test('hands the tests the TLS files and one role per auth method', async () => {
    const tls = pg.tls!
    expect(await readFile(tls.caFile, 'utf8')).toBe(tls.ca)
    expect(tls.ca).toMatch(/^-----BEGIN CERTIFICATE-----\n/)
    expect(await readFile(tls.clientCertFile, 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----\n/)
    expect(await readFile(tls.clientKeyFile, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/)
    expect(Object.keys(pg.users!).sort()).toEqual(['cert', 'md5', 'password', 'scram', 'tlsOnly', 'trust'])
    expect(pg.serverVersion).toBeGreaterThanOrEqual(130000)
  })
})
