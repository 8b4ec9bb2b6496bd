/**
 * A tracer's hooks are called on the tracer itself, against the real server: a class's methods
 * keep their `this` (a private field, too), and a hook given by a getter is read where it is
 * called. Its hooks are optional (session.ts's Tracer), so a wrapper that took them off the
 * object to fill in the missing ones would lose `this`, and the tracer would throw, ignored.
 */
import { describe, expect, test } from 'vitest'
import type { BackendMessage } from '../../src/protocol/backend/messages.ts'
import type { Tracer } from '../../src/protocol/session.ts'
import { connect, connectSuperuser, server } from '../support/connect.ts'

const pg = server()

/** Keeps what it sees in a private field: called with any other `this`, each hook throws. */
class ClassTracer implements Tracer {
  readonly #seen: string[] = []
  sent(bytes: Uint8Array): void {
    this.#seen.push(`F ${bytes[0] === 0 ? 'startup or SSLRequest' : String.fromCharCode(bytes[0]!)}`)
  }
  received(message: BackendMessage): void {
    this.#seen.push(`B ${message.type}`)
  }
  receivedByte(response: string, byte: number): void {
    this.#seen.push(`B ${response} ${String.fromCharCode(byte)}`)
  }
  get seen(): readonly string[] {
    return this.#seen
  }
}

/** Its one hook, received(), a getter's: it reads the tracer's own field through `this`. */
class GetterTracer {
  readonly types: string[] = []
  get received(): (message: BackendMessage) => void {
    return (message) => this.types.push(message.type)
  }
}

describe("a tracer's hooks keep their this", () => {
  test("a class's methods, private field and all, see a login and a query", async () => {
    const tracer = new ClassTracer()
    const c = await connectSuperuser({ trace: tracer })
    try {
      await c.query('SELECT 1')
    } finally {
      await c.close()
    }
    expect(tracer.seen).toContain('B AuthenticationOk')
    expect(tracer.seen).toContain('F Q') // the query, sent
    expect(tracer.seen).toContain('B DataRow')
  })

  test.skipIf(!pg.users || !pg.tls)("over TLS, the SSLRequest and the server's one-byte answer are traced through the class's methods too", async () => {
    const tracer = new ClassTracer()
    const c = await connect(pg.users!.scram, 'tls', { trace: tracer })
    await c.close()
    expect(tracer.seen.slice(0, 2)).toEqual(['F startup or SSLRequest', 'B SSLResponse S'])
  })

  test('a hook given by a getter is called, on the tracer', async () => {
    const tracer = new GetterTracer()
    const c = await connectSuperuser({ trace: tracer })
    await c.close()
    expect(tracer.types).toContain('AuthenticationOk')
    expect(tracer.types).toContain('ReadyForQuery')
  })
})
