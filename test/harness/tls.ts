// Makes the TLS material for one test run with the `openssl` command: a throwaway CA, a server
// certificate it signs (for localhost, 127.0.0.1 and ::1), and a client certificate it signs for
// `cert` authentication. Imports node: modules and ./run-as.ts only.

import { chmod, chown, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type OsUser, mustRun } from './run-as.ts'

export interface TlsFiles {
  dir: string
  caFile: string
  ca: string
  serverCertFile: string
  serverKeyFile: string
  clientCertFile: string
  clientKeyFile: string
  /** the name the server certificate is valid for, to verify against */
  serverName: string
}

// P-256 keys: made in milliseconds where RSA takes a noticeable fraction of a second.
const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
const DAYS = ['-days', '2']

/** Makes the files in dir; key files end 0600 and owned by `owner` (the server refuses others). */
export async function makeTls(dir: string, clientCn: string, owner?: OsUser): Promise<TlsFiles> {
  await mkdir(dir, { recursive: true, mode: 0o755 })
  const f = (name: string) => join(dir, name)
  const openssl = (...args: string[]) => mustRun('openssl', args, { cwd: dir })

  await openssl('req', '-x509', ...NEW_KEY, ...DAYS, '-keyout', 'ca.key', '-out', 'ca.crt',
    '-subj', '/CN=pglisten test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign')

  // The server certificate carries the names a client may verify in its SAN (RFC 6125): an IP
  // is checked only against IP SANs. Its CN names no host, so that no client's fallback to the
  // CN (Node's, when there is no DNS SAN) can hide a missing SAN.
  await writeFile(f('server.ext'), [
    'basicConstraints = CA:FALSE',
    'keyUsage = critical, digitalSignature, keyEncipherment',
    'extendedKeyUsage = serverAuth',
    'subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1',
  ].join('\n') + '\n')
  // PostgreSQL's `cert` method maps the client certificate's CN to the role name.
  await writeFile(f('client.ext'), [
    'basicConstraints = CA:FALSE',
    'keyUsage = critical, digitalSignature',
    'extendedKeyUsage = clientAuth',
  ].join('\n') + '\n')

  for (const [name, cn] of [['server', 'pglisten test server'], ['client', clientCn]] as const) {
    await openssl('req', '-new', ...NEW_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`)
    await openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key',
      '-set_serial', `0x${Date.now().toString(16)}${name === 'server' ? '1' : '2'}`, ...DAYS,
      '-extfile', `${name}.ext`, '-out', `${name}.crt`)
  }

  for (const key of ['ca.key', 'server.key', 'client.key']) {
    await chmod(f(key), 0o600)
    if (owner) await chown(f(key), owner.uid, owner.gid)
  }
  return {
    dir,
    caFile: f('ca.crt'),
    ca: await readFile(f('ca.crt'), 'utf8'),
    serverCertFile: f('server.crt'),
    serverKeyFile: f('server.key'),
    clientCertFile: f('client.crt'),
    clientKeyFile: f('client.key'),
    serverName: 'localhost',
  }
}
