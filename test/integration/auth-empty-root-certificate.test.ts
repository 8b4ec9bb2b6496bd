/**
 * A root certificate file that holds nothing trusts nothing. libpq fails to load such a file
 * (SSL_CTX_load_verify_locations in fe-secure-openssl.c: "could not read root certificate
 * file"); node:tls, given a `ca` of '' (what an empty file decodes to), reads it as no `ca` at
 * all and trusts its whole store instead: under sslmode=verify-ca, any server with a
 * certificate from any CA that store knows, for any name.
 *
 * The store is made to know the fake server's certificate as NODE_EXTRA_CA_CERTS does (a
 * company CA installed for other uses, say), in a child process, since it is read at start-up.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { fakeServersClosedAfterEach, testCertificate, type FakeClient } from '../support/fake-server.ts'
import { backend, concat } from '../support/wire.ts'

const serve = fakeServersClosedAfterEach()
const entry = fileURLToPath(new URL('../../src/protocol/index.ts', import.meta.url))

let folder: string
beforeEach(async () => {
  folder = await mkdtemp(join(tmpdir(), 'pglisten-auth-root-'))
})
afterEach(async () => {
  await rm(folder, { recursive: true, force: true })
})

/** Answers SSLRequest with TLS, then lets in whoever finishes the handshake. */
async function letEveryoneIn(client: FakeClient): Promise<void> {
  await client.readPacket() // SSLRequest
  try {
    await client.startTls()
  } catch {
    return // the client refused the handshake: what a careful client does
  }
  await client.readPacket() // StartupMessage
  client.write(concat(backend.authenticationOk(), backend.readyForQuery()))
}

/** connect() in a child whose trust store knows `extraCa`; what it printed: connected, or the error's class and message. */
async function connectInChild(port: number, sslmode: string, sslrootcert: string, extraCa: string): Promise<string> {
  const script = `
    import { connect } from ${JSON.stringify(entry)}
    const options = { host: '127.0.0.1', port: ${port}, user: 'ann', database: 'db', password: 'secret-in-test', env: {}, passfile: '/nonexistent',
      connectTimeout: 10, sslmode: ${JSON.stringify(sslmode)}, sslrootcert: ${JSON.stringify(sslrootcert)} }
    try { await (await connect(options)).close(); console.log('connected') } catch (error) { console.log(error.constructor.name + ': ' + error.message) }
  `
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], {
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: '/nonexistent', NODE_EXTRA_CA_CERTS: extraCa },
  })
  return stdout.trim()
}

describe('an empty root certificate file trusts nothing, as in libpq', () => {
  test.each(['verify-ca', 'verify-full', 'require'])('sslmode=%s: a server whose CA the runtime trusts is still refused', async (sslmode) => {
    const extraCa = join(folder, 'runtime-trusts.pem')
    await writeFile(extraCa, testCertificate().cert)
    const empty = join(folder, 'root.crt')
    await writeFile(empty, '')
    const server = await serve(letEveryoneIn)
    expect(await connectInChild(server.port, sslmode, empty, extraCa)).toMatch(/^AuthenticationRefusedError: the server's TLS certificate was refused \(DEPTH_ZERO_SELF_SIGNED_CERT\)/)
  })

  test('…while the same runtime, given that CA as the root file, connects: the child sees the server', async () => {
    const root = join(folder, 'root.crt')
    await writeFile(root, testCertificate().cert)
    const server = await serve(letEveryoneIn)
    expect(await connectInChild(server.port, 'verify-full', root, root)).toBe('connected')
  })
})
