/**
 * sslmode=verify-full checks the host name by libpq's rules over a real TLS handshake: a
 * certificate for "db*.pglisten.test", which node:tls's checkServerIdentity takes for
 * "db1.pglisten.test" and libpq refuses ("*" only as a whole first label, after "*."), is
 * refused, in libpq's words; one for "*.pglisten.test" is accepted. The server is a small TLS
 * endpoint of the test's own: the real server's certificate cannot be swapped for a test.
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

/** A self-signed certificate (its own root) for `altName`, and its key. */
function certificate(altName: string): { cert: string; key: string } {
  const [cert, key] = [join(folder, `${altName}.crt`), join(folder, `${altName}.key`)]
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=pglisten host name test', '-addext', `subjectAltName=DNS:${altName}`, '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' })
  return { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') }
}

const servers: net.Server[] = []
const sockets = new Set<net.Socket>()
afterEach(async () => {
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
      secure.once('data', () => secure.write(loginAccepted()))
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
    const partial = certificate('db*.pglisten.test')
    // A connection made all the same (node:tls's rules) is closed, and fails the test below.
    const error = await verifyFull(await tlsServer(partial), 'db1.pglisten.test', partial.cert).then((c) => c.close().then(() => c), (e: unknown) => e)
    expect(error).toBeInstanceOf(AuthenticationRefusedError)
    expect((error as Error).message).toBe('server certificate for "db*.pglisten.test" does not match host name "db1.pglisten.test"')
  })

  test('"*.pglisten.test" names db1.pglisten.test (the same server and check, a certificate libpq accepts)', async () => {
    const whole = certificate('*.pglisten.test')
    const c = await verifyFull(await tlsServer(whole), 'db1.pglisten.test', whole.cert)
    try {
      expect(c.encrypted).toBe(true)
    } finally {
      await c.close()
    }
  })
})
