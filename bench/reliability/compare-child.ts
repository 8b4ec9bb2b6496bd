/**
 * One client of compare.ts in a process of its own, so that a client that hangs or throws is
 * killed and recorded instead of taking the comparison down with it. Started with IPC:
 *   compare-child.ts CLIENT TARGET-JSON
 * sends every Signal to the parent as it happens, and closes the client when told 'close'.
 * Imports compare-clients.ts only.
 */
import { drivers, type ClientName, type Signal, type Target } from './compare-clients.ts'

const [client, json] = process.argv.slice(2) as [ClientName, string]
const target = JSON.parse(json) as Target
const send = (signal: Signal) => {
  if (process.connected) process.send!(signal)
}
const text = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error))

// An exception that escapes the library is a result: report it and go on, as a server would
// that logs it; the parent judges by what arrives afterwards.
process.on('uncaughtException', (error) => send({ type: 'crash', at: Date.now(), what: `uncaught ${text(error)}` }))
process.on('unhandledRejection', (reason) => send({ type: 'crash', at: Date.now(), what: `unhandled rejection ${text(reason)}` }))
process.on('disconnect', () => process.exit(0)) // the parent is gone

const drive = drivers[client]
if (!drive) throw new TypeError(`no client named ${client}`)
try {
  const running = await drive(target, send)
  send({ type: 'ready', at: Date.now() })
  process.on('message', (command) => {
    if (command !== 'close') return
    const timeout = new Promise((resolve) => setTimeout(resolve, 3000).unref())
    void Promise.race([running.close().catch(() => {}), timeout]).then(() => process.exit(0))
  })
} catch (error) {
  send({ type: 'crash', at: Date.now(), what: `did not start: ${text(error)}` })
  setTimeout(() => process.exit(1), 100)
}
