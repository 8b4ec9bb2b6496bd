/**
 * The misuse checks must refuse misuse only: each use here worked before them and must still.
 */
import { describe, expect, test } from 'vitest'
import { Listener } from '../../../src/index.ts'
import { connect } from '../../../src/protocol/index.ts'

describe('valid uses the misuse checks let through', () => {
  // ResolveContext's EnvironmentSource: a record, or a getter that reads one variable (Deno
  // grants --allow-env per variable, so `(name) => Deno.env.get(name)` asks for no more).
  const getter = (name: string) => (name === 'PGSSLMODE' ? 'nonsense' : undefined)

  test('connect() reads env given as a getter', async () => {
    // The getter's PGSSLMODE is read: its value is refused by name, so nothing connects.
    await expect(connect({ host: '127.0.0.1', port: 1, env: getter as never })).rejects.toThrow(/sslmode/)
  })

  test('a listener reads env given as a getter', async () => {
    const listener = new Listener({ host: '127.0.0.1', port: 1, env: getter as never, reconnect: false, poolerCheck: false, heartbeat: false })
    await expect(listener.start()).rejects.toThrow(/sslmode/)
    await listener.close()
  })
})
