/**
 * A fake PostgreSQL that speaks just enough for a listener (trust startup, simple queries
 * answered with CommandComplete, the empty query) and lets a test add messages before an
 * answer or hang up after one: for orderings a real server produces only by chance, such as a
 * notification arriving before the answer to the re-LISTEN on a new connection.
 */
import { fakeServer, type FakeServer } from './fake-server.ts'
import { backend, concat } from './wire.ts'

export interface Script {
  /** Messages to send before the answer to `sql` on connection number `index` (from 0). */
  before?(index: number, sql: string): Uint8Array[]
  /** Hang up right after answering `sql` on connection `index`. */
  hangUpAfter?(index: number, sql: string): boolean
  /** Answer `sql` on connection `index` with an ErrorResponse (SQLSTATE XX000) instead. */
  fails?(index: number, sql: string): boolean
}

export async function scriptedListenerServer(script: Script): Promise<FakeServer & { queries: string[][] }> {
  const queries: string[][] = []
  let connections = 0
  const server = await fakeServer(async (client) => {
    const index = connections++
    const seen: string[] = (queries[index] = [])
    await client.readPacket() // StartupMessage
    client.write(concat(
      backend.authenticationOk(),
      backend.parameterStatus('client_encoding', 'UTF8'),
      backend.parameterStatus('server_version', '18.0'),
      backend.parameterStatus('in_hot_standby', 'off'),
      backend.parameterStatus('default_transaction_read_only', 'off'),
      backend.parameterStatus('standard_conforming_strings', 'on'),
      backend.backendKeyData(1000 + index, [0, 0, 0, 1]),
      backend.readyForQuery(),
    ))
    for (;;) {
      const message = await client.readMessage().catch(() => undefined)
      if (!message || message.type === 'X') return client.end()
      if (message.type === 'S') {
        client.write(backend.readyForQuery()) // a lone Sync: the heartbeat
        continue
      }
      if (message.type !== 'Q') continue
      const sql = new TextDecoder().decode(message.body.subarray(0, -1))
      seen.push(sql)
      const answer = script.fails?.(index, sql)
        ? [backend.errorResponse({ S: 'ERROR', C: 'XX000', M: `scripted failure of ${sql}` })]
        : sql === '' ? [backend.emptyQueryResponse()] : sql.split('; ').map((s) => backend.commandComplete(s.split(' ')[0]!))
      client.write(concat(...(script.before?.(index, sql) ?? []), ...answer, backend.readyForQuery()))
      if (script.hangUpAfter?.(index, sql)) return client.end()
    }
  })
  return Object.assign(server, { queries })
}
