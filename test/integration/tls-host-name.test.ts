/**
 * sslmode=verify-full checks the host name by libpq's rules over a real TLS handshake: a
 * certificate for "db*.pglisten.test", which node:tls's checkServerIdentity takes for
 * "db1.pglisten.test" and libpq refuses ("*" only as a whole first label, after "*."), is
 * refused, in libpq's words; one for "*.pglisten.test" is accepted. A dNSName in BER's
 * constructed form still rules out the commonName; "127.1" is an address, sent in no SNI. The
 * server is a small TLS endpoint of the test's own: the real server's certificate cannot be
 * swapped for a test.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tls from 'node:tls'
import { afterAll, afterEach, describe, expect, test } from 'vitest'
import { AuthenticationRefusedError } from '../../src/protocol/errors.ts'
import { connect } from '../../src/protocol/index.ts'
import { isolated } from '../support/connect.ts'
import { loginAccepted } from '../support/wire.ts'

const folder = mkdtempSync(join(tmpdir(), 'pglisten-host-name-'))
afterAll(() => rmSync(folder, { recursive: true, force: true }))

/** A self-signed certificate (its own root) with this subjectAltName (openssl's syntax) and subject, and its key. */
function certificate(altName: string, subject = '/CN=pglisten host name test'): { cert: string; key: string } {
  const [cert, key] = [join(folder, `${altName}.crt`), join(folder, `${altName}.key`)]
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', subject, '-addext', `subjectAltName=${altName}`, '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' })
  return { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') }
}

const servers: net.Server[] = []
const sockets = new Set<net.Socket>()
/** The SNI each handshake brought (false or null: none), in order. */
const serverNames: (string | false | null)[] = []
afterEach(async () => {
  serverNames.length = 0
  for (const socket of sockets) socket.destroy()
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve))
})

/**
 * Answers SSLRequest with 'S', takes the handshake with `certificate`, and accepts the
 * StartupMessage that comes through it (no password asked). Returns the port on 127.0.0.1.
 */
async function tlsServer(certificate: { cert: string; key: string }): Promise<number> {
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    socket.once('data', () => { // the SSLRequest, 8 bytes
      socket.write(Uint8Array.of(0x53)) // 'S'
      const secure = new tls.TLSSocket(socket, { isServer: true, ...certificate })
      // The client refusing our certificate ends the handshake: not the server's failure.
      secure.on('error', () => {})
      secure.once('data', () => {
        serverNames.push(secure.servername)
        secure.write(loginAccepted())
      })
    })
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as net.AddressInfo).port
}

/** connect() under verify-full to `host`, at 127.0.0.1 (hostaddr), trusting `certificate` as the root. */
function verifyFull(port: number, host: string, root: string) {
  return connect({ ...isolated, host, hostaddr: '127.0.0.1', port, user: 'ann', database: 'db', sslmode: 'verify-full', sslrootcert: { pem: root }, connectTimeout: 10 })
}

describe('verify-full and a wildcard in the certificate', () => {
  test('"db*.pglisten.test" does not name db1.pglisten.test (a partial wildcard, which libpq refuses)', async () => {
    const partial = certificate('DNS:db*.pglisten.test')
    // A connection made all the same (node:tls's rules) is closed, and fails the test below.
    const error = await verifyFull(await tlsServer(partial), 'db1.pglisten.test', partial.cert).then((c) => c.close().then(() => c), (e: unknown) => e)
    expect(error).toBeInstanceOf(AuthenticationRefusedError)
    expect((error as Error).message).toBe('server certificate for "db*.pglisten.test" does not match host name "db1.pglisten.test"')
  })

  test('"*.pglisten.test" names db1.pglisten.test (the same server and check, a certificate libpq accepts)', async () => {
    const whole = certificate('DNS:*.pglisten.test')
    const c = await verifyFull(await tlsServer(whole), 'db1.pglisten.test', whole.cert)
    try {
      expect(c.encrypted).toBe(true)
    } finally {
      await c.close()
    }
  })
})

describe('verify-full and a subjectAltName in BER', () => {
  test('a dNSName in constructed form ("other.test" to OpenSSL) rules out a commonName that names the host, as in libpq', async () => {
    // GeneralNames ::= SEQUENCE { [2] constructed { OCTET STRING "other.test" } }: DER forbids the
    // form, OpenSSL reads it, and libpq (psql 15) refuses the certificate for db1.pglisten.test.
    const ber = certificate('DER:300ea20c040a6f746865722e74657374', '/CN=db1.pglisten.test')
    const error = await verifyFull(await tlsServer(ber), 'db1.pglisten.test', ber.cert).then((c) => c.close().then(() => c), (e: unknown) => e)
    expect(error).toBeInstanceOf(AuthenticationRefusedError)
  })
})

describe('verify-full and a host that is an address to inet_aton', () => {
  test('"127.1" is 127.0.0.1, as to libpq (is_ip_address): an iPAddress SAN names it, and no SNI carries it', async () => {
    const ip = certificate('IP:127.0.0.1')
    const c = await verifyFull(await tlsServer(ip), '127.1', ip.cert)
    await c.close()
    // libpq sends SNI only for a host of more than digits and dots, without a colon (initialize_SSL).
    expect(serverNames).toEqual([false])
  })
})
